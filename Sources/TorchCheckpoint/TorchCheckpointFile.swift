import Foundation
import Tensors
import ZIPFoundation

/// Reads the state dicts that `torch.save` writes (`.bin`, `.pt`, `.pth`) without Python and
/// without executing anything from the file.
///
/// Since torch 1.6 such a file is a zip archive with one top folder `<archive>/` holding
/// `data.pkl` (the pickled object graph, read by the restricted `PickleMachine`) and one entry
/// `data/<key>` per storage, in raw little-endian bytes. Tensors are views of storages (offset,
/// size, stride); each is materialised contiguous and converted to Float32. The 256×256 DDPM
/// checkpoints are published only in this format.
public enum TorchCheckpointFile {
    /// The tensors of the state dict in `url`, by key.
    ///
    /// Nested dicts (`{"model": {...}, "epoch": 3}`) are flattened with dotted keys
    /// (`model.conv.weight`); entries that are not tensors or dicts are skipped.
    public static func read(contentsOf url: URL) throws(TorchCheckpointError) -> [String: Tensor] {
        let path = url.path
        try checkSignature(of: url)
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw .notAZipArchive(path: path, reason: "\(error)")
        }
        guard let pickle = archive.first(where: { isPickleEntry($0.path) }) else {
            throw .missingEntry(path: path, entry: "<archive>/data.pkl")
        }
        let prefix = String(pickle.path.dropLast("data.pkl".count))
        if let order = archive[prefix + "byteorder"] {
            let byteOrder = String(decoding: try extract(order, from: archive, path: path), as: UTF8.self)
            guard byteOrder == "little" else { throw .unsupportedByteOrder(path: path, byteOrder: byteOrder) }
        }
        var machine = PickleMachine(bytes: Array(try extract(pickle, from: archive, path: path)), path: path)
        let root = try machine.run()
        guard case let .dict(dict) = root else { throw .notAStateDict(path: path, found: root.kind) }
        var references: [(key: String, tensor: TensorReference)] = []
        try collect(dict, prefix: "", depth: 0, into: &references, path: path)
        return try materialize(references, storagesIn: archive, entryPrefix: prefix + "data/", path: path)
    }

    /// `<archive>/data.pkl`, exactly one folder deep.
    private static func isPickleEntry(_ entryPath: String) -> Bool {
        let parts = entryPath.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
    }

    /// Tells the pre-1.6 format (a bare pickle stream, first byte PROTO) from a zip archive.
    private static func checkSignature(of url: URL) throws(TorchCheckpointError) {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw .cannotOpen(path: url.path, reason: error.localizedDescription)
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4)) ?? Data()
        if head.first == 0x80 { throw .legacyFormat(path: url.path) }
        guard head.elementsEqual([0x50, 0x4B, 0x03, 0x04]) else {
            throw .notAZipArchive(path: url.path, reason: "it does not start with a zip signature")
        }
    }

    /// One entry's bytes, checked against the CRC-32 and size in the zip directory.
    static func extract(_ entry: Entry, from archive: Archive, path: String) throws(TorchCheckpointError) -> Data {
        var data = Data()
        data.reserveCapacity(Int(clamping: entry.uncompressedSize))
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry, bufferSize: 1 << 20) { data.append($0) }
        } catch {
            throw .unreadableEntry(path: path, entry: entry.path, reason: "\(error)")
        }
        // extract(_:consumer:) returns the CRC-32 but leaves comparing it to the caller.
        guard checksum == entry.checksum, UInt64(data.count) == entry.uncompressedSize else {
            throw .unreadableEntry(path: path, entry: entry.path, reason: "CRC-32 or size mismatch")
        }
        return data
    }

    /// Gathers the tensors of `dict` and of dicts nested in it, keyed by dotted path.
    private static func collect(_ dict: PickleDict, prefix: String, depth: Int,
                                into references: inout [(key: String, tensor: TensorReference)],
                                path: String) throws(TorchCheckpointError) {
        // A dict may hold itself through the memo; state dicts nest a few levels at most.
        guard depth < PickleMachine.maximumDepth else {
            throw .malformedPickle(path: path, offset: 0, reason: "dicts nest deeper than \(PickleMachine.maximumDepth) levels")
        }
        for (key, value) in dict.items {
            let name: String
            switch key {
            case let .string(s): name = prefix + s
            case let .int(i): name = prefix + String(i)
            default: continue
            }
            switch value {
            case let .tensor(t): references.append((name, t))
            case let .dict(inner): try collect(inner, prefix: name + ".", depth: depth + 1, into: &references, path: path)
            default: continue
            }
        }
    }
}
