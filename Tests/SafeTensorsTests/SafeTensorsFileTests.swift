import Foundation
import SafeTensors
import Tensors
import TestSupport
import Testing

// SafeTensorsFile.swift: round trip, dtype conversion, and every corrupt-file error with its message.

/// A safetensors file written byte by byte: 8-byte little-endian header length, `header`, `data`.
func handWritten(header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> Data {
    let json = Array(header.utf8)
    var out = Data()
    withUnsafeBytes(of: (headerLength ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: json)
    out.append(contentsOf: data)
    return out
}

func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

@Suite("SafeTensors file format")
final class SafeTensorsFileTests {
    let directory: URL
    init() throws { directory = try temporaryDirectory() }
    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Writes `data` to a file in the test directory and reads it back.
    func read(_ data: Data, name: String = "file.safetensors") throws(SafeTensorsError) -> SafeTensorsFile {
        let url = directory.appendingPathComponent(name)
        _ = FileManager.default.createFile(atPath: url.path, contents: data)
        return try SafeTensorsFile.read(contentsOf: url)
    }

    func path(_ name: String = "file.safetensors") -> String { directory.appendingPathComponent(name).path }

    @Test("write then read restores every tensor (rank 0 to 3, empty) and the metadata, bit for bit")
    func roundTrip() throws {
        var rng = SeededGenerator(seed: 1)
        let tensors: [String: Tensor] = [
            "conv.weight": Tensor.randomNormal([4, 3, 3, 3], using: &rng),
            "conv.bias": Tensor(shape: [4], scalars: [1, -0, .infinity, -Float.leastNormalMagnitude / 4]),
            "scalar": Tensor(7.5), "empty": Tensor.zeros([0, 3]),
        ]
        let url = directory.appendingPathComponent("model.safetensors")
        try SafeTensorsFile(tensors: tensors, metadata: ["step": "100", "format": "pt"]).write(to: url)
        let file = try SafeTensorsFile.read(contentsOf: url)
        #expect(file.metadata == ["step": "100", "format": "pt"])
        #expect(Set(file.tensors.keys) == Set(tensors.keys))
        for (key, t) in tensors {
            let r = try file.tensor(key)
            #expect(r.shape == t.shape, "\(key)")
            #expect(r.scalars.map(\.bitPattern) == t.scalars.map(\.bitPattern), "\(key)")
        }
        // Atomic write: only the final file is left in the directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.safetensors"])
    }

    @Test("written files have an 8-byte-aligned header with keys sorted and contiguous F32 offsets")
    func writtenLayout() throws {
        let url = directory.appendingPathComponent("layout.safetensors")
        try SafeTensorsFile(tensors: ["b": .ones([2]), "a": .zeros([3])]).write(to: url)
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(data.count == 8 + headerLength + 4 * 5)
        let header = String(decoding: data[8..<8 + headerLength], as: UTF8.self)
        #expect(header.contains(#""a":{"data_offsets":[0,12],"dtype":"F32","shape":[3]}"#), "\(header)")
        #expect(header.contains(#""b":{"data_offsets":[12,20],"dtype":"F32","shape":[2]}"#), "\(header)")
    }

    @Test("F16 (normal, subnormal, infinity), BF16, F64 and I64 are converted to Float32")
    func dtypeConversion() throws {
        let f16: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00, 0x8000]
        let bf16: [UInt16] = [0x3F80, 0xC020]
        let f64 = littleEndianBytes([1.5, -1e-3].map { $0.bitPattern })
        let i64 = littleEndianBytes([Int64(-7), 123_456])
        let header = """
            {"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[14,18]},\
            "d":{"dtype":"F64","shape":[2],"data_offsets":[18,34]},"i":{"dtype":"I64","shape":[1,2],"data_offsets":[34,50]}}
            """
        let file = try read(handWritten(header: header, data: littleEndianBytes(f16) + littleEndianBytes(bf16) + f64 + i64))
        #expect(try file.tensor("h").scalars == [1, -2, 0.5, 65504, 0x1p-24, .infinity, -0])
        #expect(try file.tensor("b").scalars == [1, -2.5])
        #expect(try file.tensor("d").scalars == [1.5, Float(-1e-3)])
        let i = try file.tensor("i")
        #expect(i.shape == [1, 2] && i.scalars == [-7, 123_456])
    }

    @Test("a file shorter than 8 bytes is reported as truncated")
    func tooShort() throws {
        #expect(throws: SafeTensorsError.tooShort(path: path(), size: 4)) { try read(Data([1, 2, 3, 4])) }
        #expect(
            SafeTensorsError.tooShort(path: "m.safetensors", size: 4).description
                == "m.safetensors: 4 bytes is too short for a safetensors file (needs an 8-byte header length). Is the file truncated?")
    }

    @Test("a header length beyond the end of the file is reported with both sizes")
    func headerLengthBeyondFile() throws {
        let data = handWritten(header: "{}", headerLength: 1000)
        #expect(throws: SafeTensorsError.headerLengthExceedsFile(path: path(), headerLength: 1000, fileSize: 10)) { try read(data) }
        #expect(
            SafeTensorsError.headerLengthExceedsFile(path: "m.safetensors", headerLength: 1000, fileSize: 10).description
                == "m.safetensors: header claims 1000 bytes but the file has 10. Is the file truncated?")
    }

    @Test("a header that is not JSON, or not a JSON object, or lacks fields, is invalid")
    func invalidHeader() throws {
        #expect(
            throws: SafeTensorsError.invalidHeader(path: path(), reason: "the header is not valid JSON (expected a string key at byte 1)")
        ) {
            try read(handWritten(header: "{not json"))
        }
        #expect(throws: SafeTensorsError.invalidHeader(path: path(), reason: "the header does not start with '{' (header length 6 bytes)"))
        {
            try read(handWritten(header: "[1, 2]"))
        }
        #expect(throws: SafeTensorsError.invalidHeader(path: path(), reason: "entry 'x' needs dtype, shape and two data_offsets")) {
            try read(handWritten(header: #"{"x":{"dtype":"F32","shape":[1]}}"#))
        }
        #expect(throws: SafeTensorsError.invalidHeader(path: path(), reason: "__metadata__ must map strings to strings")) {
            try read(handWritten(header: #"{"__metadata__":{"step":100}}"#))
        }
        #expect(
            SafeTensorsError.invalidHeader(path: "m", reason: "the header is not valid JSON").description
                == "m: invalid safetensors header: the header is not valid JSON. Re-export the file with the safetensors library.")
    }

    @Test("offsets that do not match the shape, or point past the end of the file, are bad offsets")
    func badOffsets() throws {
        #expect(throws: SafeTensorsError.badOffsets(path: path(), key: "x", reason: "offsets [0, 8] do not hold 3 F32 elements (12 bytes)"))
        {
            try read(handWritten(header: #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 12)))
        }
        #expect(throws: SafeTensorsError.badOffsets(path: path(), key: "x", reason: "offsets [8, 4] do not hold 1 F32 elements (4 bytes)"))
        {
            try read(handWritten(header: #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, data: Array(repeating: 0, count: 12)))
        }
        let header = #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#  // 55 bytes
        #expect(throws: SafeTensorsError.badOffsets(path: path(), key: "x", reason: "data ends at byte 75 but the file has 71")) {
            try read(handWritten(header: header, data: Array(repeating: 0, count: 8)))
        }
        #expect(
            SafeTensorsError.badOffsets(path: "m", key: "x", reason: "r").description
                == "m: tensor 'x': r. The file is corrupt or truncated.")
    }

    @Test("an unsupported dtype names the tensor, the dtype and the supported ones")
    func unsupportedDType() throws {
        #expect(throws: SafeTensorsError.unsupportedDType(path: path(), key: "x", dtype: "I32")) {
            try read(handWritten(header: #"{"x":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        }
        #expect(
            SafeTensorsError.unsupportedDType(path: "m", key: "x", dtype: "I32").description
                == "m: tensor 'x' has dtype I32; supported are F32, F16, BF16, F64 and I64. Convert it to float32.")
    }

    @Test("a missing file, a missing key and an unwritable path are reported with the path")
    func missingFileKeyAndDirectory() throws {
        let missing = directory.appendingPathComponent("absent.safetensors")
        #expect { try SafeTensorsFile.read(contentsOf: missing) } throws: { error in
            guard case .cannotOpen(let path, _) = error as? SafeTensorsError else { return false }
            return path == missing.path
        }
        let file = try read(handWritten(header: "{}"))
        #expect(throws: SafeTensorsError.missingKey(path: "f", key: "w")) { try file.tensor("w", in: "f") }
        #expect(SafeTensorsError.missingKey(path: "f", key: "w").description == "f: no tensor named 'w'.")
        let unwritable = directory.appendingPathComponent("no-such-directory/model.safetensors")
        #expect { try SafeTensorsFile(tensors: ["x": .ones([1])]).write(to: unwritable) } throws: { error in
            guard case .cannotWrite(let path, _) = error as? SafeTensorsError else { return false }
            return path == unwritable.path
        }
    }
}
