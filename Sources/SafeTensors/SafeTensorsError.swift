/// Everything that can be wrong with a safetensors file, with where and how to fix it.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case tooShort(path: String, size: Int)
    case headerLengthExceedsFile(path: String, headerLength: UInt64, fileSize: Int)
    case invalidHeader(path: String, reason: String)
    case unsupportedDType(path: String, key: String, dtype: String)
    case badOffsets(path: String, key: String, reason: String)
    case missingKey(path: String, key: String)
    case cannotWrite(path: String, reason: String)
    /// A FIFO, device or directory given where a weights file belongs.
    case notARegularFile(path: String, kind: String)
    case headerTooLarge(path: String, headerLength: UInt64, limit: UInt64)
    case duplicateKey(path: String, key: String)
    /// A shape whose element or byte count does not fit in 64 bits.
    case tensorTooLarge(path: String, key: String, dtype: String, shape: [Int])
    /// The tensors' spans end before the data section does.
    case dataNotCovered(path: String, coveredBytes: Int, dataBytes: Int)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "\(path): cannot open (\(reason))."
        case .tooShort(let path, let size):
            "\(path): \(size) bytes is too short for a safetensors file (needs an 8-byte header length). Is the file truncated?"
        case .headerLengthExceedsFile(let path, let length, let size):
            "\(path): header claims \(length) bytes but the file has \(size). Is the file truncated?"
        case .invalidHeader(let path, let reason):
            "\(path): invalid safetensors header: \(reason). Re-export the file with the safetensors library."
        case .unsupportedDType(let path, let key, let dtype):
            "\(path): tensor '\(key)' has dtype \(dtype); supported are F32, F16, BF16, F64 and I64. Convert it to float32."
        case .badOffsets(let path, let key, let reason):
            "\(path): tensor '\(key)': \(reason). The file is corrupt or truncated."
        case .missingKey(let path, let key):
            "\(path): no tensor named '\(key)'."
        case .cannotWrite(let path, let reason):
            "\(path): cannot write (\(reason)); any earlier file at this path is unchanged."
        case .notARegularFile(let path, let kind):
            "\(path): is \(kind), not a regular file; pass a .safetensors file."
        case .headerTooLarge(let path, let length, let limit):
            "\(path): header claims \(length) bytes, more than the \(limit)-byte limit of the safetensors format. The file is corrupt or not a safetensors file."
        case .duplicateKey(let path, let key):
            "\(path): the header names '\(key)' twice, so which entry holds is ambiguous. The file is corrupt; re-export it with the safetensors library."
        case .tensorTooLarge(let path, let key, let dtype, let shape):
            "\(path): tensor '\(key)': shape \(shape) of \(dtype) has more bytes than fit in 64 bits. The header is corrupt."
        case .dataNotCovered(let path, let covered, let total):
            "\(path): the tensors cover \(covered) of the \(total) data bytes after the header (the reference implementation refuses such files; a header length that is off shifts every tensor). The file is corrupt; re-export it."
        }
    }
}
