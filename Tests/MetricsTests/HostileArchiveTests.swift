import Foundation
import Metrics
import Testing
import ZIPFoundation

// Issue 14: .npz files whose .npy header declares a shape that overflows, or whose entry is a
// deflate bomb.
@Suite("Hostile .npz files")
struct HostileNumPyArchiveTests {
    func npy(shape: String, payload: Int = 8) -> Data {
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': \(shape), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8) + [UInt8](repeating: 0, count: payload)
        return Data(out)
    }

    func archive(_ entries: [(String, Data)], compressed: Bool = false) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("npz-hostile-\(UUID().uuidString).npz")
        let archive = try Archive(url: url, accessMode: .create)
        for (name, data) in entries {
            try archive.addEntry(
                with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: compressed ? .deflate : .none
            ) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return url
    }

    @Test("a shape whose element count overflows is an error naming the entry, not a trap")
    func shapeOverflow() throws {
        let url = try archive([("mu.npy", npy(shape: "(4294967296, 4294967296)"))])
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(
            throws: MetricsError.invalidArchive(
                path: url.path, reason: "entry 'mu.npy': shape [4294967296, 4294967296] has more elements than fit in 64 bits")
        ) {
            try NumPyArchive.read(contentsOf: url)
        }
        // 2^61 elements fit, their 2^64 bytes do not.
        let bytes = try archive([("mu.npy", npy(shape: "(2305843009213693952,)"))])
        defer { try? FileManager.default.removeItem(at: bytes) }
        #expect(
            throws: MetricsError.invalidArchive(
                path: bytes.path, reason: "entry 'mu.npy': shape [2305843009213693952] has more elements than fit in 64 bits")
        ) {
            try NumPyArchive.read(contentsOf: bytes)
        }
    }

    @Test("an entry declaring more than 1 GiB is refused before it is inflated")
    func deflateBomb() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("npz-bomb-\(UUID().uuidString).npz")
        defer { try? FileManager.default.removeItem(at: url) }
        let archive = try Archive(url: url, accessMode: .create)
        let size: Int64 = (1 << 30) + 1
        try archive.addEntry(with: "mu.npy", type: .file, uncompressedSize: size, compressionMethod: .deflate, bufferSize: 1 << 22) {
            _, n in Data(count: n)
        }
        #expect(throws: MetricsError.self) { try NumPyArchive.read(contentsOf: url) }
        do { _ = try NumPyArchive.read(contentsOf: url) } catch {
            #expect("\(error)".contains("entry 'mu.npy' declares 1073741825 bytes"), "\(error)")
        }
    }
}
