import Foundation
import FuzzSupport
import TorchCheckpoint
import ZIPFoundation

// Any bytes as a torch.save .bin (zip archive, data.pkl, storages). Inputs that start with the
// pickle PROTO opcode (0x80) are a bare data.pkl instead: they are wrapped, with a correct CRC,
// into an archive beside storages "0"…"7" (the sizes of Fuzz/Corpus/FuzzTorchCheckpoint/state.pkl's
// first three, then others), so mutations reach the restricted
// unpickler and the tensor-view checks rather than stopping at the zip checksum.
runFuzzer { data in
    if data.first == 0x80 {
        let url = FuzzInput.directory.appendingPathComponent("pickle.bin")
        try? FileManager.default.removeItem(at: url)
        do {
            let archive = try Archive(url: url, accessMode: .create)
            try archive.addEntry(with: "archive/data.pkl", type: .file, uncompressedSize: Int64(data.count), compressionMethod: .none) {
                p, n in
                data.subdata(in: Int(p)..<Int(p) + n)
            }
            for (k, size) in [48, 12, 8, 72, 16, 2, 4, 8].enumerated() {
                let storage = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 37) })
                try archive.addEntry(
                    with: "archive/data/\(k)", type: .file, uncompressedSize: Int64(storage.count), compressionMethod: .none
                ) { p, n in
                    storage.subdata(in: Int(p)..<Int(p) + n)
                }
            }
        } catch { return }
        _ = try? TorchCheckpointFile.read(contentsOf: url)
    } else {
        _ = try? TorchCheckpointFile.read(contentsOf: FuzzInput.file(data, name: "model.bin"))
    }
}
