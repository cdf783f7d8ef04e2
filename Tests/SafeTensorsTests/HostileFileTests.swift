import FileIO
import Foundation
import SafeTensors
import Tensors
import TestSupport
import Testing

// Issue 14: every rule of the safetensors format as the reference implementation enforces it
// (safetensors `Metadata::validate`), and the crafted headers that used to crash the reader.
@Suite("SafeTensors hostile files")
final class HostileFileTests {
    let directory: URL
    init() throws { directory = try temporaryDirectory() }
    deinit { try? FileManager.default.removeItem(at: directory) }

    var url: URL { directory.appendingPathComponent("w.safetensors") }
    func read(_ data: Data) throws(SafeTensorsError) -> SafeTensorsFile {
        _ = FileManager.default.createFile(atPath: url.path, contents: data)
        return try SafeTensorsFile.read(contentsOf: url)
    }
    func f32(_ key: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        #""\#(key)":{"dtype":"F32","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
    }

    @Test("a header length above the format's 100 MB limit is refused before anything is read")
    func headerTooLarge() throws {
        #expect(throws: SafeTensorsError.headerTooLarge(path: url.path, headerLength: 100_000_001, limit: 100_000_000)) {
            try read(handWritten(header: "{}", headerLength: 100_000_001))
        }
        #expect(
            SafeTensorsError.headerTooLarge(path: "w", headerLength: 100_000_001, limit: 100_000_000).description
                == "w: header claims 100000001 bytes, more than the 100000000-byte limit of the safetensors format. The file is corrupt or not a safetensors file."
        )
    }

    @Test("a header length one byte short (every tensor shifted) leaves a data byte uncovered and is refused")
    func headerOneByteShort() throws {
        try SafeTensorsFile(tensors: ["a": Tensor(shape: [2], scalars: [1, 2])]).write(to: url)
        var bytes = try Data(contentsOf: url)
        let length = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        withUnsafeBytes(of: (length - 1).littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
        #expect(bytes[8 + Int(length) - 1] == UInt8(ascii: " "))  // the JSON still parses: only the offsets are off
        #expect(throws: SafeTensorsError.dataNotCovered(path: url.path, coveredBytes: 8, dataBytes: 9)) { try read(bytes) }
        #expect(
            SafeTensorsError.dataNotCovered(path: "w", coveredBytes: 8, dataBytes: 9).description.hasPrefix(
                "w: the tensors cover 8 of the 9 data bytes after the header"))
    }

    @Test("trailing data no tensor covers is refused")
    func trailingData() throws {
        #expect(throws: SafeTensorsError.dataNotCovered(path: url.path, coveredBytes: 4, dataBytes: 8)) {
            try read(handWritten(header: "{\(f32("a", [1], 0, 4))}", data: [UInt8](repeating: 0, count: 8)))
        }
    }

    @Test("overlapping offsets are refused, naming the tensor")
    func overlappingOffsets() throws {
        #expect(
            throws: SafeTensorsError.badOffsets(
                path: url.path, key: "b", reason: "data_offsets [4, 12] overlap the previous tensor, which ends at byte 8")
        ) {
            try read(handWritten(header: "{\(f32("a", [2], 0, 8)),\(f32("b", [2], 4, 12))}", data: [UInt8](repeating: 0, count: 12)))
        }
    }

    @Test("a gap between tensors (non-contiguous offsets) is refused, naming the tensor")
    func gapBetweenTensors() throws {
        #expect(
            throws: SafeTensorsError.badOffsets(
                path: url.path, key: "b", reason: "data_offsets [8, 12] leave bytes 4..<8 unused (tensors must be contiguous)")
        ) {
            try read(handWritten(header: "{\(f32("a", [1], 0, 4)),\(f32("b", [1], 8, 12))}", data: [UInt8](repeating: 0, count: 12)))
        }
        #expect(
            throws: SafeTensorsError.badOffsets(
                path: url.path, key: "a", reason: "data_offsets [4, 8] leave bytes 0..<4 unused (tensors must be contiguous)")
        ) {
            try read(handWritten(header: "{\(f32("a", [1], 4, 8))}", data: [UInt8](repeating: 0, count: 8)))
        }
    }

    @Test("tensors listed out of order but contiguous are read (the rule sorts by offset)")
    func unorderedButContiguous() throws {
        let file = try read(
            handWritten(
                header: "{\(f32("b", [1], 4, 8)),\(f32("a", [1], 0, 4))}",
                data: littleEndianBytes([Float(1).bitPattern, Float(2).bitPattern])))
        #expect(try file.tensor("a").scalars == [1])
        #expect(try file.tensor("b").scalars == [2])
    }

    @Test("a duplicate tensor name is refused (JSONSerialization would silently keep one)")
    func duplicateKeys() throws {
        #expect(throws: SafeTensorsError.duplicateKey(path: url.path, key: "a")) {
            try read(handWritten(header: "{\(f32("a", [1], 0, 4)),\(f32("a", [1], 0, 4))}", data: [UInt8](repeating: 0, count: 4)))
        }
        #expect(throws: SafeTensorsError.duplicateKey(path: url.path, key: "dtype")) {
            try read(handWritten(header: #"{"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        }
        #expect(SafeTensorsError.duplicateKey(path: "w", key: "a").description.hasPrefix("w: the header names 'a' twice"))
    }

    @Test("a shape whose element count overflows 64 bits is an error, not an arithmetic trap")
    func elementCountOverflow() throws {
        #expect(throws: SafeTensorsError.tensorTooLarge(path: url.path, key: "a", dtype: "F32", shape: [4_294_967_296, 4_294_967_296])) {
            try read(handWritten(header: "{\(f32("a", [4_294_967_296, 4_294_967_296], 0, 4))}", data: [0, 0, 0, 0]))
        }
        // 2^62 elements fit in Int, their 2^64 bytes do not.
        #expect(throws: SafeTensorsError.tensorTooLarge(path: url.path, key: "a", dtype: "F32", shape: [4_611_686_018_427_387_904])) {
            try read(handWritten(header: "{\(f32("a", [4_611_686_018_427_387_904], 0, 4))}", data: [0, 0, 0, 0]))
        }
        #expect(
            SafeTensorsError.tensorTooLarge(path: "w", key: "a", dtype: "F32", shape: [2, 3]).description
                == "w: tensor 'a': shape [2, 3] of F32 has more bytes than fit in 64 bits. The header is corrupt.")
    }

    @Test("[2^61 - 1] with offsets near 2^63 is refused without overflowing the end-of-data arithmetic")
    func offsetsNear2To63() throws {
        let n = (1 << 61) - 1
        let end = 4 * n  // 2^63 - 4 bytes
        #expect(
            throws: SafeTensorsError.badOffsets(
                path: url.path, key: "a", reason: "data ends at byte beyond 2^63 but the file has \(8 + 128 + 4)")
        ) {
            let header = "{\(f32("a", [n], 0, end))}"
            let padded = header + String(repeating: " ", count: 128 - header.utf8.count)
            return try read(handWritten(header: padded, data: [0, 0, 0, 0]))
        }
    }

    @Test("shapes and offsets must be non-negative integers that fit in 63 bits")
    func integerFields() throws {
        for (shape, reason) in [
            ("[1.5]", "has shape [1.5]; expected non-negative integers"), ("[-1]", "has shape [-1]; expected non-negative integers"),
            ("[\"2\"]", "has shape [a string]; expected non-negative integers"),
            ("[18446744073709551616]", "has shape entry 18446744073709551616, larger than the supported 2^63 - 1"),
            ("3", "has shape that is a number, expected an array of non-negative integers"),
        ] {
            #expect(throws: SafeTensorsError.invalidHeader(path: url.path, reason: "entry 'a' \(reason)")) {
                try read(handWritten(header: #"{"a":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
            }
        }
    }

    @Test("the header must start with '{', be strict JSON and nest at most 64 levels (no stack overflow)")
    func strictJSON() throws {
        #expect(
            throws: SafeTensorsError.invalidHeader(path: url.path, reason: "the header does not start with '{' (header length 3 bytes)")
        ) {
            try read(handWritten(header: " {}"))
        }
        let deep = "{\"a\":" + String(repeating: "[", count: 100_000)
        #expect(
            throws: SafeTensorsError.invalidHeader(
                path: url.path, reason: "the header is not valid JSON (nested deeper than 64 levels at byte 68)")
        ) {
            try read(handWritten(header: deep))
        }
        #expect(
            throws: SafeTensorsError.invalidHeader(
                path: url.path, reason: "the header is not valid JSON (unexpected text after the JSON value at byte 3)")
        ) {
            try read(handWritten(header: "{} x"))
        }
        #expect(try read(handWritten(header: "{}  ")).tensors.isEmpty)  // an empty file is valid, as in the reference
    }

    @Test("a FIFO or /dev/zero given as a weights file is named for what it is, not a permission problem")
    func notARegularFile() throws {
        let fifo = directory.appendingPathComponent("pipe.safetensors")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        #expect(throws: SafeTensorsError.notARegularFile(path: fifo.path, kind: "a FIFO (named pipe)")) {
            try SafeTensorsFile.read(contentsOf: fifo)
        }
        #expect(throws: SafeTensorsError.notARegularFile(path: "/dev/zero", kind: "a character device")) {
            try SafeTensorsFile.read(contentsOf: URL(fileURLWithPath: "/dev/zero"))
        }
        #expect(
            SafeTensorsError.notARegularFile(path: "/dev/zero", kind: "a character device").description
                == "/dev/zero: is a character device, not a regular file; pass a .safetensors file.")
    }

    @Test("writes leave no temporary file; stale ones of dead processes are removed, live ones kept")
    func staleTemporaries() throws {
        try SafeTensorsFile(tensors: ["a": Tensor(1)]).write(to: url)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["w.safetensors"])
        // A pid that cannot be running: above the kernel's pid_max (at most 2^22).
        let dead = directory.appendingPathComponent(".step-3.safetensors.tmp-99999999")
        let deadNumbered = directory.appendingPathComponent(".step-4.safetensors.tmp-99999998-2")
        let live = directory.appendingPathComponent(".step-5.safetensors.tmp-\(getpid())")
        let parent = directory.appendingPathComponent(".step-6.safetensors.tmp-\(getppid())-1")
        let unrelated = directory.appendingPathComponent(".notes.tmp-abc")
        for f in [dead, deadNumbered, live, parent, unrelated] { _ = FileManager.default.createFile(atPath: f.path, contents: Data([1])) }
        let removed = AtomicFile.removeStaleTemporaries(in: directory)
        #expect(Set(removed.map(\.lastPathComponent)) == [dead.lastPathComponent, deadNumbered.lastPathComponent])
        #expect(
            Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
                == ["w.safetensors", live.lastPathComponent, parent.lastPathComponent, unrelated.lastPathComponent])
        #expect(AtomicFile.writerProcess(ofTemporary: ".x.tmp-12") == 12)
        #expect(AtomicFile.writerProcess(ofTemporary: "x.tmp-12") == nil)
        #expect(AtomicFile.writerProcess(ofTemporary: ".x.tmp-12-3-4") == nil)
    }
}
