import Foundation
import Tensors

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// mapping names to dtype, shape and byte offsets (plus optional string `__metadata__`), then raw
/// little-endian data.
///
/// Written here rather than taken from a library because no Swift safetensors package is
/// available on this project's package mirror, and the format is small. Files are memory-mapped,
/// so a checkpoint is never held twice in memory; every tensor is converted to Float32.
public struct SafeTensorsFile {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor named `key`, or a `missingKey` error naming the file.
    public func tensor(_ key: String, in path: String = "") throws(SafeTensorsError) -> Tensor {
        guard let t = tensors[key] else { throw .missingKey(path: path, key: key) }
        return t
    }

    private static let elementSizes = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8]

    public static func read(contentsOf url: URL) throws(SafeTensorsError) -> SafeTensorsFile {
        let path = url.path
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw .cannotOpen(path: path, reason: error.localizedDescription)
        }
        guard data.count >= 8 else { throw .tooShort(path: path, size: data.count) }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw .headerLengthExceedsFile(path: path, headerLength: headerLength, fileSize: data.count)
        }
        let dataStart = 8 + Int(headerLength)
        let json: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) as? [String: Any] else {
                throw SafeTensorsError.invalidHeader(path: path, reason: "the header is not a JSON object")
            }
            json = object
        } catch let error as SafeTensorsError { throw error } catch {
            throw .invalidHeader(path: path, reason: "the header is not valid JSON")
        }
        var result = SafeTensorsFile(tensors: [:])
        for (key, value) in json {
            if key == "__metadata__" {
                guard let m = value as? [String: String] else {
                    throw .invalidHeader(path: path, reason: "__metadata__ must map strings to strings")
                }
                result.metadata = m
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw .invalidHeader(path: path, reason: "entry '\(key)' needs dtype, shape and two data_offsets") }
            guard let size = elementSizes[dtype] else { throw .unsupportedDType(path: path, key: key, dtype: dtype) }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw .invalidHeader(path: path, reason: "entry '\(key)' has a negative dimension") }
            let count = shape.reduce(1, *)
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end - begin == count * size else {
                throw .badOffsets(path: path, key: key, reason: "offsets \(offsets) do not hold \(count) \(dtype) elements (\(count * size) bytes)")
            }
            guard dataStart + end <= data.count else {
                throw .badOffsets(path: path, key: key, reason: "data ends at byte \(dataStart + end) but the file has \(data.count)")
            }
            result.tensors[key] = data.withUnsafeBytes { raw in
                Tensor.filled(shape: shape) { out in
                    convert(UnsafeRawBufferPointer(rebasing: raw[(dataStart + begin)..<(dataStart + end)]), dtype: dtype, into: out)
                }
            }
        }
        return result
    }

    private static func convert(_ bytes: UnsafeRawBufferPointer, dtype: String, into out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<out.count {
            switch dtype {
            case "F32": out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case "F64": out[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            case "I64": out[i] = Float(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
            case "BF16": out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
            default: out[i] = halfToFloat(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        }
    }

    /// IEEE 754 binary16 → binary32 (Float16 is unavailable on x86_64 Linux Swift); shared with
    /// TorchCheckpoint.
    package static func halfToFloat(_ h: UInt16) -> Float {
        let sign: Float = h & 0x8000 != 0 ? -1 : 1
        let exponent = Int((h >> 10) & 0x1F), mantissa = Float(h & 0x3FF)
        switch exponent {
        case 0: return sign * mantissa * 0x1p-24
        case 31: return mantissa == 0 ? sign * .infinity : .nan
        default: return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }

    /// Writes all tensors as F32, keys sorted, atomically: a temporary file beside `url` is
    /// written, flushed to disk and renamed over `url`, so a failure never leaves a partial file.
    public func write(to url: URL) throws(SafeTensorsError) {
        let keys = tensors.keys.sorted()
        var header: [String: Any] = [:]
        var offset = 0
        for key in keys {
            let t = tensors[key]!
            header[key] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.scalarCount]]
            offset += 4 * t.scalarCount
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var headerData: Data
        do { headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) } catch {
            throw .cannotWrite(path: url.path, reason: "header encoding failed: \(error)")
        }
        headerData.append(contentsOf: Array(repeating: UInt8(ascii: " "), count: (8 - headerData.count % 8) % 8))
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporary.path)
        else { throw .cannotWrite(path: url.path, reason: "cannot create \(temporary.path)") }
        do {
            var length = UInt64(headerData.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: headerData)
            for key in keys {
                try tensors[key]!.scalars.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
            }
            try handle.synchronize()
            try handle.close()
            if rename(temporary.path, url.path) != 0 { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            throw .cannotWrite(path: url.path, reason: error.localizedDescription)
        }
    }
}
