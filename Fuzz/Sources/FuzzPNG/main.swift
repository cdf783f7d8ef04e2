import Datasets
import Foundation
import FuzzSupport

// Any bytes after the PNG signature, decoded and prepared as a folder dataset prepares images.
runFuzzer { data in
    var bytes = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    let input = data
    bytes.append(input.starts(with: bytes) ? input.dropFirst(8) : input[...])
    if let image = try? ImageCodecs.decode(bytes, path: "fuzz.png") {
        _ = image.converted(toChannels: 3).resizedAndCentreCropped(to: 8)
    }
}
