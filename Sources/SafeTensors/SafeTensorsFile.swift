import FileIO
import Foundation
import Tensors

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// mapping names to dtype, shape and byte offsets (plus optional string `__metadata__`), then raw
/// little-endian data.
///
/// Written here rather than taken from a library because no Swift safetensors package is
/// available on this project's package mirror, and the format is small. Files are memory-mapped,
/// so a checkpoint is never held twice in memory; every tensor is converted to Float32.
public struct SafeTensorsFile: Sendable {
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

    /// The largest header read, as the reference implementation (safetensors' `MAX_HEADER_SIZE`).
    public static let maximumHeaderLength: UInt64 = 100_000_000

    /// One validated header entry.
    private struct Entry {
        let key: String, dtype: String, shape: [Int], begin: Int, end: Int
    }

    /// Reads every tensor, after checking the whole header against the format's rules as the
    /// reference implementation does (safetensors `Metadata::validate`): header length at most
    /// 100 MB and within the file, a JSON object starting with `{` with no duplicate key, every
    /// entry with a known dtype, a non-negative shape whose byte size does not overflow and equals
    /// its `data_offsets` span, and the spans, sorted, contiguous from 0 and covering the data
    /// section exactly. Nothing is allocated for tensors before all of this holds.
    public static func read(contentsOf url: URL) throws(SafeTensorsError) -> SafeTensorsFile {
        let path = url.path
        if let kind = AtomicFile.nonRegularFileKind(path) { throw .notARegularFile(path: path, kind: kind) }
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw .cannotOpen(path: path, reason: error.localizedDescription)
        }
        return try read(data, path: path)
    }

    /// Parses safetensors bytes; `path` only labels errors (see `read(contentsOf:)`).
    public static func read(_ data: Data, path: String) throws(SafeTensorsError) -> SafeTensorsFile {
        guard data.count >= 8 else { throw .tooShort(path: path, size: data.count) }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= maximumHeaderLength else {
            throw .headerTooLarge(path: path, headerLength: headerLength, limit: maximumHeaderLength)
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw .headerLengthExceedsFile(path: path, headerLength: headerLength, fileSize: data.count)
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = data.count - dataStart
        let header = data[data.startIndex + 8..<data.startIndex + dataStart]
        guard header.first == UInt8(ascii: "{") else {
            throw .invalidHeader(path: path, reason: "the header does not start with '{' (header length \(headerLength) bytes)")
        }
        let json: StrictJSON
        do { json = try StrictJSON.parse(header) } catch {
            if error.reason.hasPrefix("duplicate key") {
                throw .duplicateKey(path: path, key: String(error.reason.dropFirst("duplicate key '".count).dropLast()))
            }
            throw .invalidHeader(path: path, reason: "the header is not valid JSON (\(error))")
        }
        guard case .object(let members) = json else { throw .invalidHeader(path: path, reason: "the header is not a JSON object") }
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (key, value) in members {
            if key == "__metadata__" {
                if value == .null { continue }
                guard case .object(let pairs) = value else {
                    throw .invalidHeader(path: path, reason: "__metadata__ must map strings to strings")
                }
                for (k, v) in pairs {
                    guard case .string(let s) = v else {
                        throw .invalidHeader(path: path, reason: "__metadata__ must map strings to strings")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try entry(key, value, path: path))
        }
        // The reference's rule: sorted by offsets, each span starts where the previous ended.
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for e in entries {
            guard e.begin == covered else {
                throw .badOffsets(
                    path: path, key: e.key,
                    reason: e.begin < covered
                        ? "data_offsets [\(e.begin), \(e.end)] overlap the previous tensor, which ends at byte \(covered)"
                        : "data_offsets [\(e.begin), \(e.end)] leave bytes \(covered)..<\(e.begin) unused (tensors must be contiguous)")
            }
            guard e.end <= dataLength else {
                let end = e.end.addingReportingOverflow(dataStart)  // e.end comes from the file: up to 2^63 - 1
                throw .badOffsets(
                    path: path, key: e.key,
                    reason: "data ends at byte \(end.overflow ? "beyond 2^63" : String(end.partialValue)) but the file has \(data.count)")
            }
            covered = e.end
        }
        guard covered == dataLength else { throw .dataNotCovered(path: path, coveredBytes: covered, dataBytes: dataLength) }
        var result = SafeTensorsFile(tensors: [:], metadata: metadata)
        data.withUnsafeBytes { raw in
            for e in entries {
                result.tensors[e.key] = Tensor.filled(shape: e.shape) { out in
                    convert(UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)]), dtype: e.dtype, into: out)
                }
            }
        }
        return result
    }

    /// Checks one tensor entry: fields and their types, dtype, overflow-free size equal to the span.
    private static func entry(_ key: String, _ value: StrictJSON, path: String) throws(SafeTensorsError) -> Entry {
        func invalid(_ reason: String) -> SafeTensorsError { .invalidHeader(path: path, reason: "entry '\(key)' \(reason)") }
        guard case .object(let fields) = value else {
            throw invalid("is \(value.kind), expected an object with dtype, shape and data_offsets")
        }
        func field(_ name: String) -> StrictJSON? { fields.first { $0.key == name }?.value }
        guard let dtypeValue = field("dtype"), let shapeValue = field("shape"), let offsetsValue = field("data_offsets") else {
            throw .invalidHeader(path: path, reason: "entry '\(key)' needs dtype, shape and two data_offsets")
        }
        guard case .string(let dtype) = dtypeValue else {
            throw invalid("has a dtype that is \(dtypeValue.kind), expected a string such as \"F32\"")
        }
        func integers(_ v: StrictJSON, _ name: String) throws(SafeTensorsError) -> [Int] {
            guard case .array(let items) = v else {
                throw invalid("has \(name) that is \(v.kind), expected an array of non-negative integers")
            }
            var out: [Int] = []
            for item in items {
                switch item {
                case .integer(let i) where i >= 0: out.append(i)
                case .number(_, let literal) where !literal.hasPrefix("-") && !literal.contains(where: { ".eE".contains($0) }):
                    throw invalid("has \(name) entry \(literal), larger than the supported 2^63 - 1")
                default: throw invalid("has \(name) \(describe(items)); expected non-negative integers")
                }
            }
            return out
        }
        let shape = try integers(shapeValue, "shape")
        let offsets = try integers(offsetsValue, "data_offsets")
        guard offsets.count == 2 else { throw .invalidHeader(path: path, reason: "entry '\(key)' needs dtype, shape and two data_offsets") }
        guard let size = elementSizes[dtype] else { throw .unsupportedDType(path: path, key: key, dtype: dtype) }
        var count = 1
        for d in shape {
            let c = count.multipliedReportingOverflow(by: d)
            guard !c.overflow else { throw .tensorTooLarge(path: path, key: key, dtype: dtype, shape: shape) }
            count = c.partialValue
        }
        let bytes = count.multipliedReportingOverflow(by: size)
        guard !bytes.overflow else { throw .tensorTooLarge(path: path, key: key, dtype: dtype, shape: shape) }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end, end - begin == bytes.partialValue else {
            throw .badOffsets(
                path: path, key: key, reason: "offsets \(offsets) do not hold \(count) \(dtype) elements (\(bytes.partialValue) bytes)")
        }
        return Entry(key: key, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    private static func describe(_ items: [StrictJSON]) -> String {
        "["
            + items.map { item -> String in
                switch item {
                case .integer(let i): String(i)
                case .number(_, let literal): literal
                default: item.kind
                }
            }.joined(separator: ", ") + "]"
    }

    private static func convert(_ bytes: UnsafeRawBufferPointer, dtype: String, into out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<out.count {
            switch dtype {
            case "F32": out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case "F64":
                out[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            case "I64": out[i] = Float(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
            case "BF16":
                out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
            default: out[i] = halfToFloat(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        }
    }

    /// IEEE 754 binary16 → binary32 (Float16 is unavailable on x86_64 Linux Swift); shared with
    /// TorchCheckpoint.
    package static func halfToFloat(_ h: UInt16) -> Float {
        let sign: Float = h & 0x8000 != 0 ? -1 : 1
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = Float(h & 0x3FF)
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
        do {
            try AtomicFile.write(to: url) { handle in
                var length = UInt64(headerData.count).littleEndian
                try handle.write(contentsOf: Data(bytes: &length, count: 8))
                try handle.write(contentsOf: headerData)
                for key in keys {
                    try tensors[key]!.scalars.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
                }
            }
        } catch { throw .cannotWrite(path: url.path, reason: error.reason) }
    }
}
