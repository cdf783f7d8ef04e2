import FileIO
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
        if let kind = AtomicFile.nonRegularFileKind(path) { throw .notARegularFile(path: path, kind: kind) }
        try checkSignature(of: url)
        do { try ZipPreflight.check(url) } catch { throw .notAZipArchive(path: path, reason: error.reason) }
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw .notAZipArchive(path: path, reason: "\(error)")
        }
        guard let pickle = archive.first(where: { isPickleEntry($0.path) }) else {
            throw .missingEntry(path: path, entry: "<archive>/data.pkl")
        }
        let prefix = String(pickle.path.dropLast("data.pkl".count))
        if let order = archive[prefix + "byteorder"] {
            let byteOrder = String(decoding: try extract(order, from: archive, path: path, limit: 16), as: UTF8.self)
            guard byteOrder == "little" else { throw .unsupportedByteOrder(path: path, byteOrder: byteOrder) }
        }
        // A state dict's pickle holds a few hundred bytes per tensor, and every tensor needs a
        // storage entry in the archive: more than that is a corrupt file or a deflate bomb.
        var entryCount = 0
        for _ in archive { entryCount += 1 }
        let pickleLimit = pickleBaseLimit + UInt64(entryCount) * pickleBytesPerEntry
        var machine = PickleMachine(bytes: Array(try extract(pickle, from: archive, path: path, limit: pickleLimit)), path: path)
        let root = try machine.run()
        guard case .dict(let dict) = root else { throw .notAStateDict(path: path, found: root.kind) }
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

    /// What data.pkl may inflate to: 1 MiB, plus 4 KiB per archive entry (each tensor's storage
    /// is one entry; torch writes about 200 bytes of pickle per tensor).
    static let pickleBaseLimit: UInt64 = 1 << 20
    static let pickleBytesPerEntry: UInt64 = 4096
    /// Deflate cannot compress by more than 1032:1, so an entry declaring more is corrupt.
    static let maximumDeflateRatio: UInt64 = 1032

    /// One entry's bytes, checked against the CRC-32 and size in the zip directory. The declared
    /// size is checked against `limit` and against what the compressed size and the file can
    /// hold before anything is allocated, and inflating stops as soon as it passes either.
    static func extract(_ entry: Entry, from archive: Archive, path: String, limit: UInt64) throws(TorchCheckpointError) -> Data {
        let declared = entry.uncompressedSize
        guard declared <= limit else {
            throw .entryTooLarge(path: path, entry: entry.path, declaredBytes: declared, limitBytes: limit)
        }
        let fileSize = UInt64((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)??.uint64Value ?? .max)
        let (ratioLimit, overflow) = entry.compressedSize.multipliedReportingOverflow(by: entry.isCompressed ? maximumDeflateRatio : 1)
        guard entry.compressedSize <= fileSize, overflow || declared <= ratioLimit else {
            throw .unreadableEntry(
                path: path, entry: entry.path,
                reason: "it declares \(declared) bytes from \(entry.compressedSize) compressed bytes in a file of \(fileSize)")
        }
        var data = Data()
        data.reserveCapacity(Int(declared))  // at most `limit`, which callers keep small or tied to the file
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry, bufferSize: 1 << 20) { chunk in
                guard UInt64(data.count) + UInt64(chunk.count) <= declared else { throw InflatedPastDeclaredSize() }
                data.append(chunk)
            }
        } catch is InflatedPastDeclaredSize {
            throw .unreadableEntry(
                path: path, entry: entry.path, reason: "it inflates to more than the \(declared) bytes its zip header declares")
        } catch {
            throw .unreadableEntry(path: path, entry: entry.path, reason: "\(error)")
        }
        // extract(_:consumer:) returns the CRC-32 but leaves comparing it to the caller.
        guard checksum == entry.checksum, UInt64(data.count) == entry.uncompressedSize else {
            throw .unreadableEntry(path: path, entry: entry.path, reason: "CRC-32 or size mismatch")
        }
        return data
    }

    private struct InflatedPastDeclaredSize: Error {}

    /// Gathers the tensors of `dict` and of dicts nested in it, keyed by dotted path.
    private static func collect(
        _ dict: PickleDict, prefix: String, depth: Int,
        into references: inout [(key: String, tensor: TensorReference)],
        path: String
    ) throws(TorchCheckpointError) {
        // A dict may hold itself through the memo; state dicts nest a few levels at most.
        guard depth < PickleMachine.maximumDepth else {
            throw .malformedPickle(path: path, offset: 0, reason: "dicts nest deeper than \(PickleMachine.maximumDepth) levels")
        }
        for (key, value) in dict.items {
            let name: String
            switch key {
            case .string(let s): name = prefix + s
            case .int(let i): name = prefix + String(i)
            default: continue
            }
            switch value {
            case .tensor(let t): references.append((name, t))
            case .dict(let inner): try collect(inner, prefix: name + ".", depth: depth + 1, into: &references, path: path)
            default: continue
            }
        }
    }
}
