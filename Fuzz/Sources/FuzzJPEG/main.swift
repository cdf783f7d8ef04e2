import Datasets
import Foundation
import FuzzSupport

// Any bytes after the JPEG SOI marker, decoded and prepared as a folder dataset prepares images.
runFuzzer { data in
    var bytes = Data([0xFF, 0xD8])
    let input = data
    bytes.append(input.starts(with: bytes) ? input.dropFirst(2) : input[...])
    if let image = try? ImageCodecs.decode(bytes, path: "fuzz.jpg") {
        _ = image.converted(toChannels: 1).resizedAndCentreCropped(to: 8)
    }
}
