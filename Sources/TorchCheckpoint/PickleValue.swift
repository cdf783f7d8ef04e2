/// The values the restricted unpickler can build. There is deliberately no "object" case: every
/// callable is resolved to a `PickleGlobal` from the allow-list, so nothing else can be made.
package indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// `depth` is stored so that nesting can be bounded without walking (hostile deep nesting
    /// would otherwise overflow the stack when the values are freed).
    case tuple([PickleValue], depth: Int)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(StorageReference)
    case tensor(TensorReference)

    /// Container nesting: 0 for scalars, 1 + the deepest item for containers.
    var depth: Int {
        switch self {
        case .tuple(_, let depth): depth
        case .list(let l): l.depth
        case .dict(let d): d.depth
        default: 0
        }
    }

    /// A short name for error messages ("a tuple", "an int").
    package var kind: String {
        switch self {
        case .none: "None"
        case .bool: "a bool"
        case .int: "an int"
        case .float: "a float"
        case .string: "a string"
        case .bytes: "bytes"
        case .tuple: "a tuple"
        case .list: "a list"
        case .dict: "a dict"
        case .global(let g): "the global \(g)"
        case .storage: "a storage"
        case .tensor: "a tensor"
        }
    }
}

/// Lists and dicts are mutable and shared through the memo (APPENDS/SETITEMS after BINPUT), so
/// they are references, as in Python.
package final class PickleList {
    package var items: [PickleValue] = []
    var depth = 1
}

/// Insertion-ordered, like Python's dict; keys stay pickle values (strings or ints in practice).
package final class PickleDict {
    package var items: [(key: PickleValue, value: PickleValue)] = []
    var depth = 1
}

/// The only callables a checkpoint may name. Storage types are tags passed to BINPERSID and are
/// never called.
package enum PickleGlobal: Equatable, CustomStringConvertible {
    case orderedDict
    case rebuildTensor, rebuildTensorV2
    case rebuildParameter, rebuildParameterWithState
    case storageType(StorageType)

    /// The allowed global for `module.name`, or nil when it must be refused.
    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch", _) where name.hasSuffix("Storage") && name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }):
            self = .storageType(StorageType(torchName: name))
        default: return nil
        }
    }

    package var description: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensor: "torch._utils._rebuild_tensor"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: "torch._utils._rebuild_parameter_with_state"
        case .storageType(let t): "torch.\(t.torchName)"
        }
    }
}

/// The element type of a storage, named by its legacy class (`torch.FloatStorage`), which is how
/// torch 1.6+ and 2.x record the dtype in persistent IDs.
package struct StorageType: Equatable {
    enum Element: Equatable { case float32, float16, bfloat16, float64, int64, int32 }

    let torchName: String

    init(torchName: String) { self.torchName = torchName }

    /// The supported element type, or nil (complex, bool, int8, quantized, untyped, …).
    var element: Element? {
        switch torchName {
        case "FloatStorage": .float32
        case "HalfStorage": .float16
        case "BFloat16Storage": .bfloat16
        case "DoubleStorage": .float64
        case "LongStorage": .int64
        case "IntStorage": .int32
        default: nil
        }
    }

    /// Bytes per element of a supported type.
    var elementSize: Int? {
        switch element {
        case .float32, .int32: 4
        case .float16, .bfloat16: 2
        case .float64, .int64: 8
        case nil: nil
        }
    }

    /// The torch dtype name for messages (`complex64`), or the class name when unknown.
    var dtypeName: String {
        let names = [
            "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
            "DoubleStorage": "float64", "LongStorage": "int64", "IntStorage": "int32",
            "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
            "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
            "ComplexHalfStorage": "complex32", "UntypedStorage": "untyped bytes",
        ]
        return names[torchName] ?? "torch.\(torchName)"
    }
}

/// `('storage', storage_type, key, location, numel)`: the zip entry `<archive>/data/<key>`.
package struct StorageReference {
    let type: StorageType
    let key: String
    let count: Int
}

/// A view into a storage as `_rebuild_tensor_v2` describes it; materialised later, once its
/// state-dict key is known, so errors can name the key.
package struct TensorReference {
    let storage: StorageReference
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}
