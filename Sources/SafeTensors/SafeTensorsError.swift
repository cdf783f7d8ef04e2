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

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            "\(path): cannot open (\(reason))."
        case let .tooShort(path, size):
            "\(path): \(size) bytes is too short for a safetensors file (needs an 8-byte header length). Is the file truncated?"
        case let .headerLengthExceedsFile(path, length, size):
            "\(path): header claims \(length) bytes but the file has \(size). Is the file truncated?"
        case let .invalidHeader(path, reason):
            "\(path): invalid safetensors header: \(reason). Re-export the file with the safetensors library."
        case let .unsupportedDType(path, key, dtype):
            "\(path): tensor '\(key)' has dtype \(dtype); supported are F32, F16, BF16, F64 and I64. Convert it to float32."
        case let .badOffsets(path, key, reason):
            "\(path): tensor '\(key)': \(reason). The file is corrupt or truncated."
        case let .missingKey(path, key):
            "\(path): no tensor named '\(key)'."
        case let .cannotWrite(path, reason):
            "\(path): cannot write (\(reason)); any earlier file at this path is unchanged."
        }
    }
}
