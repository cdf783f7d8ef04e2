import FileIO
import Foundation
import TorchCheckpoint
import ZIPFoundation

/// A floating-point NumPy array, held as Float64 in row-major order.
public struct NumPyArray: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Double]

    public init(shape: [Int], values: [Double]) {
        precondition(
            shape.reduce(1, *) == values.count, "[NumPyArray] shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        (self.shape, self.values) = (shape, values)
    }
}

/// Reads and writes NumPy's `.npz` (a zip archive of `.npy` files, `numpy.savez`) with float
/// arrays, the format of pytorch-fid's and TTUR's FID statistics (`mu`, `sigma`).
///
/// The `.npy` format (NEP 1): magic `\x93NUMPY`, version, a little-endian header length, an ASCII
/// Python dict with `descr`, `fortran_order` and `shape`, then the raw data. Reads float64 and
/// float32 of either byte order, in C or Fortran order; writes little-endian float64, version 1.0.
public enum NumPyArchive {
    /// The most one `.npy` entry may declare or inflate to: 1 GiB.
    public static let maximumEntryBytes: UInt64 = 1 << 30

    /// Every array in the archive at `url`, keyed by name without `.npy`.
    public static func read(contentsOf url: URL) throws(MetricsError) -> [String: NumPyArray] {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw .invalidArchive(path: path, reason: "no such file") }
        if let kind = AtomicFile.nonRegularFileKind(path) { throw .invalidArchive(path: path, reason: "it is \(kind), not a regular file") }
        do { try ZipPreflight.check(url) } catch { throw .invalidArchive(path: path, reason: "not a valid zip archive: \(error.reason)") }
        do {
            let archive = try Archive(url: url, accessMode: .read)
            var arrays: [String: NumPyArray] = [:]
            let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)??.uint64Value ?? .max
            for entry in archive where entry.type == .file && entry.path.hasSuffix(".npy") {
                // Declared sizes come from the file: at most 1 GiB (FID statistics are 32 MB), within
                // deflate's 1032:1 of the compressed size, and inflation stops where it passes them.
                let declared = entry.uncompressedSize
                let ratio = entry.compressedSize.multipliedReportingOverflow(by: entry.isCompressed ? 1032 : 1)
                guard declared <= maximumEntryBytes, entry.compressedSize <= fileSize, ratio.overflow || declared <= ratio.partialValue
                else {
                    throw MetricsError.invalidArchive(
                        path: path,
                        reason:
                            "entry '\(entry.path)' declares \(declared) bytes from \(entry.compressedSize) compressed (at most \(maximumEntryBytes) are read)"
                    )
                }
                var data = Data()
                _ = try archive.extract(entry) { chunk in
                    guard UInt64(data.count + chunk.count) <= declared else {
                        throw MetricsError.invalidArchive(
                            path: path, reason: "entry '\(entry.path)' inflates to more than the \(declared) bytes it declares")
                    }
                    data.append(chunk)
                }
                let key = String(entry.path.dropLast(4))
                arrays[key] = try decode(data, path: path, key: key)
            }
            return arrays
        } catch let error as MetricsError { throw error } catch {
            throw .invalidArchive(path: path, reason: "cannot read it as a zip archive (\(error))")
        }
    }

    /// Writes `arrays` as `<key>.npy` entries, uncompressed like `numpy.savez`; replaces any file at `url`.
    public static func write(_ arrays: [String: NumPyArray], to url: URL) throws(MetricsError) {
        do {
            try AtomicFile.produce(url) { temporary in
                let archive = try Archive(url: temporary, accessMode: .create)
                for key in arrays.keys.sorted() {
                    let data = encode(arrays[key]!)
                    try archive.addEntry(with: key + ".npy", type: .file, uncompressedSize: Int64(data.count)) { position, size in
                        data.subdata(in: Int(position)..<Int(position) + size)
                    }
                }
            }
        } catch { throw .cannotWrite(path: url.path, reason: error.reason) }
    }

    // MARK: - .npy

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Parses one `.npy` file (entry `key` of the archive at `path`).
    static func decode(_ data: Data, path: String, key: String) throws(MetricsError) -> NumPyArray {
        let bytes = [UInt8](data)
        func bad(_ reason: String) -> MetricsError { .invalidArchive(path: path, reason: "entry '\(key).npy': \(reason)") }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw bad("no .npy magic string") }
        let major = bytes[6]
        let (lengthSize, start) = major == 1 ? (2, 10) : (4, 12)
        guard major >= 1 && major <= 3, bytes.count >= start else { throw bad("unsupported .npy version \(major)") }
        let headerLength = (0..<lengthSize).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        guard start + headerLength <= bytes.count,
            let header = String(bytes: bytes[start..<start + headerLength], encoding: major == 3 ? .utf8 : .isoLatin1)
        else { throw bad("header length \(headerLength) exceeds the file") }

        guard let descr = value(of: "descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")),
            let order = value(of: "fortran_order", in: header), let shapeText = value(of: "shape", in: header)
        else { throw bad("header \(header.debugDescription) lacks descr, fortran_order or shape") }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = dims.compactMap { Int($0) }
        guard shape.count == dims.count, shape.allSatisfy({ $0 >= 0 }) else { throw bad("cannot parse shape \(shapeText)") }
        let size: Int
        switch descr.dropFirst() {
        case "f8": size = 8
        case "f4": size = 4
        default:
            throw .invalidArray(path: path, key: key, expected: "float64 or float32 ('<f8', '<f4')", actual: "dtype '\(descr)'")
        }
        let bigEndian = descr.first == ">"
        // The shape comes from the file: overflow-checked, and never more than the data holds.
        var count = 1
        for d in shape {
            let c = count.multipliedReportingOverflow(by: d)
            guard !c.overflow, !c.partialValue.multipliedReportingOverflow(by: size).overflow else {
                throw bad("shape \(shape) has more elements than fit in 64 bits")
            }
            count = c.partialValue
        }
        let dataStart = start + headerLength
        guard bytes.count - dataStart >= count * size else {
            throw bad("\(bytes.count - dataStart) data bytes for \(count) elements of \(size) bytes")
        }
        var values = [Double](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            for i in 0..<count {
                let offset = dataStart + i * size
                if size == 8 {
                    let bits = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                    values[i] = Double(bitPattern: bigEndian ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits))
                } else {
                    let bits = raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
                    values[i] = Double(Float(bitPattern: bigEndian ? UInt32(bigEndian: bits) : UInt32(littleEndian: bits)))
                }
            }
        }
        if order == "True" && shape.count > 1 { values = fortranToRowMajor(values, shape: shape) }
        return NumPyArray(shape: shape, values: values)
    }

    /// The text after `'name':` up to the next top-level comma (a tuple counts as one value).
    private static func value(of name: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(name)':") ?? header.range(of: "\"\(name)\":") else { return nil }
        var depth = 0
        var result = ""
        for c in header[range.upperBound...] {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if (c == "," && depth == 0) || c == "}" { break }
            result.append(c)
            if depth == 0 && c == ")" { break }
        }
        return result.trimmingCharacters(in: .whitespaces)
    }

    /// Reorders column-major (Fortran) values of `shape` into row-major order.
    private static func fortranToRowMajor(_ values: [Double], shape: [Int]) -> [Double] {
        var fortranStrides = [Int](repeating: 1, count: shape.count)
        for d in 1..<shape.count { fortranStrides[d] = fortranStrides[d - 1] * shape[d - 1] }
        return (0..<values.count).map { flat in
            var rest = flat
            var offset = 0
            for d in stride(from: shape.count - 1, through: 0, by: -1) {
                offset += (rest % shape[d]) * fortranStrides[d]
                rest /= shape[d]
            }
            return values[offset]
        }
    }

    /// A version 1.0 `.npy` of little-endian float64 in C order, header padded to 64 bytes as NumPy does.
    static func encode(_ array: NumPyArray) -> Data {
        let shapeText = array.shape.count == 1 ? "(\(array.shape[0]),)" : "(\(array.shape.map(String.init).joined(separator: ", ")))"
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = magic.count + 4 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data(magic + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        array.values.withUnsafeBufferPointer { buffer in
            for v in buffer {
                var bits = v.bitPattern.littleEndian
                withUnsafeBytes(of: &bits) { data.append(contentsOf: $0) }
            }
        }
        return data
    }
}

extension FeatureStatistics {
    /// Reads `mu` and `sigma` from an `.npz` of pytorch-fid (`--save-stats`) or TTUR
    /// (`fid_stats_cifar10_train.npz`).
    public init(contentsOf url: URL) throws(MetricsError) {
        let arrays = try NumPyArchive.read(contentsOf: url)
        func array(_ key: String) throws(MetricsError) -> NumPyArray {
            guard let a = arrays[key] else { throw .missingArray(path: url.path, key: key, available: arrays.keys.sorted()) }
            return a
        }
        let mu = try array("mu")
        let sigma = try array("sigma")
        guard mu.shape.count == 1 else {
            throw .invalidArray(path: url.path, key: "mu", expected: "a vector [D]", actual: "shape \(mu.shape)")
        }
        let d = mu.shape[0]
        guard sigma.shape == [d, d] else {
            throw .invalidArray(path: url.path, key: "sigma", expected: "shape [\(d), \(d)] to match mu", actual: "shape \(sigma.shape)")
        }
        try self.init(mean: mu.values, covariance: sigma.values)
    }

    /// Writes `mu` `[D]` and `sigma` `[D, D]` as float64 to an `.npz` that pytorch-fid and TTUR read.
    public func write(to url: URL) throws(MetricsError) {
        try NumPyArchive.write(
            [
                "mu": NumPyArray(shape: [dimension], values: mean),
                "sigma": NumPyArray(shape: [dimension, dimension], values: covariance),
            ], to: url)
    }
}
