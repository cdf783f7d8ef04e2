import Foundation
import TestSupport
import Testing
import TorchCheckpoint
import ZIPFoundation

// Issue 14: torch.save archives whose entries declare more than a state dict can need.

/// A zip archive of stored entries written byte by byte; `declaredSize` makes an entry claim
/// another uncompressed size through a zip64 extra field (as a hostile file would).
struct HandWrittenZip {
    var entries: [(name: String, data: [UInt8], declaredSize: UInt64?)] = []

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    func data() -> Data {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func le<T: FixedWidthInteger>(_ v: T, _ into: inout [UInt8]) { withUnsafeBytes(of: v.littleEndian) { into.append(contentsOf: $0) } }
        for e in entries {
            let offset = UInt32(out.count)
            let name = Array(e.name.utf8)
            let crc = Self.crc32(e.data)
            let zip64 = e.declaredSize != nil
            var extra: [UInt8] = []
            if let declared = e.declaredSize {
                le(UInt16(1), &extra)
                le(UInt16(16), &extra)
                le(declared, &extra)
                le(UInt64(e.data.count), &extra)
            }
            let size32: UInt32 = zip64 ? 0xFFFF_FFFF : UInt32(e.data.count)
            // Local file header.
            le(UInt32(0x0403_4B50), &out)
            le(UInt16(zip64 ? 45 : 20), &out)
            le(UInt16(0), &out)
            le(UInt16(0), &out)
            le(UInt16(0), &out)
            le(UInt16(0x21), &out)
            le(crc, &out)
            le(size32, &out)
            le(size32, &out)
            le(UInt16(name.count), &out)
            le(UInt16(extra.count), &out)
            out += name
            out += extra
            out += e.data
            // Central directory header.
            le(UInt32(0x0201_4B50), &central)
            le(UInt16(0x031E), &central)
            le(UInt16(zip64 ? 45 : 20), &central)
            le(UInt16(0), &central)
            le(UInt16(0), &central)
            le(UInt16(0), &central)
            le(UInt16(0x21), &central)
            le(crc, &central)
            le(size32, &central)
            le(size32, &central)
            le(UInt16(name.count), &central)
            le(UInt16(extra.count), &central)
            le(UInt16(0), &central)
            le(UInt16(0), &central)
            le(UInt16(0), &central)
            le(UInt32(0o100644) << 16, &central)
            le(offset, &central)
            central += name
            central += extra
        }
        let centralOffset = UInt32(out.count)
        out += central
        le(UInt32(0x0605_4B50), &out)
        le(UInt16(0), &out)
        le(UInt16(0), &out)
        le(UInt16(entries.count), &out)
        le(UInt16(entries.count), &out)
        le(UInt32(central.count), &out)
        le(centralOffset, &out)
        le(UInt16(0), &out)
        return Data(out)
    }
}

@Suite("TorchCheckpoint hostile archives")
final class HostileArchiveTests {
    let directory: URL
    init() throws {
        directory = try temporaryDirectory("torch-hostile")
    }
    deinit { try? FileManager.default.removeItem(at: directory) }

    /// An empty dict pickle: PROTO 2, EMPTY_DICT, STOP.
    let emptyDictPickle: [UInt8] = [0x80, 0x02, 0x7D, 0x2E]

    @Test("a data.pkl declaring 2^40 bytes (zip64) is refused before anything is allocated")
    func zip64DeclaredSize() throws {
        var zip = HandWrittenZip()
        zip.entries = [("archive/data.pkl", emptyDictPickle, 1 << 40), ("archive/version", Array("3\n".utf8), nil)]
        let url = directory.appendingPathComponent("zip64.bin")
        try zip.data().write(to: url)
        // A stored entry holds as many bytes as it declares: 2^40 from 4 is refused by the directory check.
        #expect(
            throws: TorchCheckpointError.notAZipArchive(
                path: url.path, reason: "entry 0: declares 1099511627776 bytes from 4 compressed bytes, more than deflate can produce")
        ) {
            try TorchCheckpointFile.read(contentsOf: url)
        }
        #expect(
            TorchCheckpointError.entryTooLarge(path: "m.bin", entry: "a/data.pkl", declaredBytes: 5, limitBytes: 4).description
                == "m.bin: entry 'a/data.pkl' declares 5 bytes, more than the 4 a state dict of this archive can need. The file is corrupt or hostile; convert trusted checkpoints to safetensors."
        )
    }

    @Test("the hand-written archive format itself is read (so the refusal above is about the size)")
    func handWrittenArchiveReads() throws {
        var zip = HandWrittenZip()
        zip.entries = [("archive/data.pkl", emptyDictPickle, nil)]
        let url = directory.appendingPathComponent("empty.bin")
        try zip.data().write(to: url)
        #expect(try TorchCheckpointFile.read(contentsOf: url).isEmpty)
    }

    @Test("a deflate bomb data.pkl (8 MiB of zeros in a few KB) is refused without inflating it")
    func deflateBomb() throws {
        let url = directory.appendingPathComponent("bomb.bin")
        let archive = try Archive(url: url, accessMode: .create)
        let size = 8 << 20
        try archive.addEntry(with: "archive/data.pkl", type: .file, uncompressedSize: Int64(size), compressionMethod: .deflate) {
            position, chunk in
            Data(count: chunk)
        }
        let fileSize = try #require(FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
        #expect(fileSize <= 64 << 10)
        #expect(
            throws: TorchCheckpointError.entryTooLarge(
                path: url.path, entry: "archive/data.pkl", declaredBytes: UInt64(size),
                limitBytes: (1 << 20) + 4096)
        ) {
            try TorchCheckpointFile.read(contentsOf: url)
        }
    }

    @Test("fuzz crash 1: a zip64 central-directory offset above 2^63 is an error, not a trap inside ZIPFoundation")
    func zip64DirectoryOffsetBeyondTheFile() throws {
        var bytes = [UInt8](
            try Data(contentsOf: Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("bool.bin")))
        let record = try #require((0..<(bytes.count - 4)).last { bytes[$0..<($0 + 4)] == [0x50, 0x4B, 0x06, 0x06] })
        bytes[record + 48 + 7] = 0xF4  // the top byte of the offset to the central directory (the fuzzer's mutation)
        let offset = bytes[(record + 48)..<(record + 56)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(offset > UInt64(Int64.max))
        let url = directory.appendingPathComponent("zip64-offset.bin")
        try Data(bytes).write(to: url)
        #expect(
            throws: TorchCheckpointError.notAZipArchive(
                path: url.path, reason: "the central directory offset \(offset) is beyond the file's \(bytes.count) bytes")
        ) {
            try TorchCheckpointFile.read(contentsOf: url)
        }
    }

    @Test("an entry whose zip64 local-header offset lies beyond the file is an error naming the entry")
    func entryOffsetBeyondTheFile() throws {
        var bytes = [UInt8](HandWrittenZip(entries: [("archive/data.pkl", emptyDictPickle, nil)]).data())
        let central = try #require((0..<(bytes.count - 4)).first { bytes[$0..<($0 + 4)] == [0x50, 0x4B, 0x01, 0x02] })
        for i in 0..<4 { bytes[central + 42 + i] = 0x7F }  // relative offset of the local header: 0x7F7F7F7F
        let url = directory.appendingPathComponent("offset.bin")
        try Data(bytes).write(to: url)
        #expect(
            throws: TorchCheckpointError.notAZipArchive(
                path: url.path, reason: "entry 0: local header offset 2139062143 is beyond the file's \(bytes.count) bytes")
        ) {
            try TorchCheckpointFile.read(contentsOf: url)
        }
    }

    @Test("a FIFO or /dev/zero given as a checkpoint is named for what it is")
    func notARegularFile() throws {
        #expect(throws: TorchCheckpointError.notARegularFile(path: "/dev/zero", kind: "a character device")) {
            try TorchCheckpointFile.read(contentsOf: URL(fileURLWithPath: "/dev/zero"))
        }
        let fifo = directory.appendingPathComponent("pipe.bin")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        #expect(throws: TorchCheckpointError.notARegularFile(path: fifo.path, kind: "a FIFO (named pipe)")) {
            try TorchCheckpointFile.read(contentsOf: fifo)
        }
    }
}
