/// Everything that can be wrong with a `torch.save` checkpoint, with where and how to fix it.
public enum TorchCheckpointError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notAZipArchive(path: String, reason: String)
    case legacyFormat(path: String)
    case missingEntry(path: String, entry: String)
    case unreadableEntry(path: String, entry: String, reason: String)
    case unsupportedByteOrder(path: String, byteOrder: String)
    /// The pickle names a callable outside the allow-list; `global` is `module.name`.
    case refusedGlobal(path: String, global: String)
    case unsupportedOpcode(path: String, opcode: UInt8, offset: Int)
    case malformedPickle(path: String, offset: Int, reason: String)
    case notAStateDict(path: String, found: String)
    case unsupportedDType(path: String, key: String, dtype: String)
    case badLayout(path: String, key: String, reason: String)
    /// An entry that declares more bytes than the checkpoint can need (zip64 sizes, deflate bombs).
    case entryTooLarge(path: String, entry: String, declaredBytes: UInt64, limitBytes: UInt64)
    case notARegularFile(path: String, kind: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "\(path): cannot open (\(reason))."
        case .notAZipArchive(let path, let reason):
            "\(path): not a readable zip archive (\(reason)). Is the file truncated? Download it again or re-save it with torch.save."
        case .legacyFormat(let path):
            "\(path): legacy (pre-1.6) torch.save format; re-save with torch >= 1.6 or convert to safetensors."
        case .missingEntry(let path, let entry):
            "\(path): the archive has no entry '\(entry)', so it is not a torch.save checkpoint or it is incomplete. Re-save it with torch.save."
        case .unreadableEntry(let path, let entry, let reason):
            "\(path): entry '\(entry)' cannot be read (\(reason)). The file is corrupt or truncated."
        case .unsupportedByteOrder(let path, let byteOrder):
            "\(path): tensors are stored \(byteOrder)-endian; only little-endian is supported. Re-save the checkpoint on a little-endian machine."
        case .refusedGlobal(let path, let global):
            "\(path): refused: the pickle calls '\(global)', and loading it would execute code. Only collections.OrderedDict, torch._utils tensor rebuilders and torch storage types are allowed; convert trusted checkpoints to safetensors."
        case .unsupportedOpcode(let path, let opcode, let offset):
            "\(path): unsupported pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset) of data.pkl; state dicts written by torch.save do not use it. Re-save the state dict with torch.save or convert it to safetensors."
        case .malformedPickle(let path, let offset, let reason):
            "\(path): malformed data.pkl at byte \(offset): \(reason). The file is corrupt or was not written by torch.save."
        case .notAStateDict(let path, let found):
            "\(path): the checkpoint holds \(found), not a dict of tensors. Save model.state_dict() instead."
        case .unsupportedDType(let path, let key, let dtype):
            "\(path): tensor '\(key)' has dtype \(dtype); supported are float32, float16, bfloat16, float64, int64 and int32. Convert it to float32."
        case .badLayout(let path, let key, let reason):
            "\(path): tensor '\(key)': \(reason). The file is corrupt or truncated."
        case .entryTooLarge(let path, let entry, let declared, let limit):
            "\(path): entry '\(entry)' declares \(declared) bytes, more than the \(limit) a state dict of this archive can need. The file is corrupt or hostile; convert trusted checkpoints to safetensors."
        case .notARegularFile(let path, let kind):
            "\(path): is \(kind), not a regular file; pass a .bin checkpoint file."
        }
    }
}
