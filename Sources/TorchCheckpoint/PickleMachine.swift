/// A restricted unpickler for the `data.pkl` that `torch.save` writes (pickle protocols 2 to 5).
///
/// Python's unpickler imports and calls whatever the stream names, so loading an untrusted
/// checkpoint runs arbitrary code. This stack machine imports nothing: GLOBAL and STACK_GLOBAL
/// resolve only the names in `PickleGlobal`, REDUCE interprets those few callables itself, and
/// every other global or object-building opcode (NEWOBJ, INST, OBJ, EXT*, out-of-band buffers)
/// is an error. Opcode meanings follow CPython's `pickletools` documentation.
package struct PickleMachine {
    /// Deeper nesting is refused; state dicts nest about 4 levels.
    static let maximumDepth = 100

    private let path: String
    private let bytes: [UInt8]
    private var position = 0
    /// Start of the opcode being executed, for error messages.
    private var opcodeStart = 0
    private var stack: [PickleValue] = []
    /// Stack heights at each MARK.
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    package init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    /// Runs the stream to STOP and returns the value it built.
    package mutating func run() throws(TorchCheckpointError) -> PickleValue {
        while true {
            opcodeStart = position
            let opcode = try readByte()
            if opcode == 0x2E { return try pop() }  // STOP '.'
            try execute(opcode)
        }
    }

    private mutating func execute(_ opcode: UInt8) throws(TorchCheckpointError) {
        switch opcode {
        case 0x80:  // PROTO
            let version = try readByte()
            guard version >= 2 && version <= 5 else { throw malformed("pickle protocol \(version); torch.save writes 2 to 5") }
        case 0x95: _ = try readUInt(8)  // FRAME: the length only aids buffering
        case 0x28: marks.append(stack.count)  // MARK
        case 0x30: _ = try pop()  // POP
        case 0x31: _ = try popMark()  // POP_MARK
        case 0x32: try push(top())  // DUP

        // Constants
        case 0x4E: push(.none)  // NONE
        case 0x88: push(.bool(true))  // NEWTRUE
        case 0x89: push(.bool(false))  // NEWFALSE
        case 0x4B: push(.int(Int(try readUInt(1))))  // BININT1
        case 0x4D: push(.int(Int(try readUInt(2))))  // BININT2
        case 0x4A: push(.int(Int(Int32(truncatingIfNeeded: try readUInt(4)))))  // BININT
        case 0x8A: push(.int(try readLong(byteCount: Int(try readUInt(1)))))  // LONG1
        case 0x8B: push(.int(try readLong(byteCount: try readLength(4))))  // LONG4
        case 0x47:  // BINFLOAT: big-endian IEEE double
            push(.float(Double(bitPattern: UInt64(bigEndian: UInt64(littleEndian: try readUInt(8))))))
        case 0x8C: push(.string(try readString(lengthBytes: 1)))  // SHORT_BINUNICODE
        case 0x58: push(.string(try readString(lengthBytes: 4)))  // BINUNICODE
        case 0x8D: push(.string(try readString(lengthBytes: 8)))  // BINUNICODE8
        case 0x55: push(.string(try readString(lengthBytes: 1)))  // SHORT_BINSTRING (Python 2 str)
        case 0x54: push(.string(try readString(lengthBytes: 4)))  // BINSTRING
        case 0x43: push(.bytes(try readBytes(lengthBytes: 1)))  // SHORT_BINBYTES
        case 0x42: push(.bytes(try readBytes(lengthBytes: 4)))  // BINBYTES
        case 0x8E: push(.bytes(try readBytes(lengthBytes: 8)))  // BINBYTES8

        // Containers
        case 0x29: push(.tuple([], depth: 1))  // EMPTY_TUPLE
        case 0x85: try pushTuple(count: 1)  // TUPLE1
        case 0x86: try pushTuple(count: 2)  // TUPLE2
        case 0x87: try pushTuple(count: 3)  // TUPLE3
        case 0x74: try push(tuple(try popMark()))  // TUPLE
        case 0x5D: push(.list(PickleList()))  // EMPTY_LIST
        case 0x7D: push(.dict(PickleDict()))  // EMPTY_DICT
        case 0x6C:  // LIST
            let list = PickleList()
            try append(try popMark(), to: list)
            push(.list(list))
        case 0x64:  // DICT
            let dict = PickleDict()
            try setItems(try popMark(), in: dict)
            push(.dict(dict))
        case 0x61:  // APPEND
            let item = try pop()
            guard case .list(let list) = try top() else { throw malformed("APPEND to \(try top().kind)") }
            try append([item], to: list)
        case 0x65:  // APPENDS
            let items = try popMark()
            guard case .list(let list) = try top() else { throw malformed("APPENDS to \(try top().kind)") }
            try append(items, to: list)
        case 0x73:  // SETITEM
            let value = try pop()
            let key = try pop()
            guard case .dict(let dict) = try top() else { throw malformed("SETITEM on \(try top().kind)") }
            try setItems([key, value], in: dict)
        case 0x75:  // SETITEMS
            let items = try popMark()
            guard case .dict(let dict) = try top() else { throw malformed("SETITEMS on \(try top().kind)") }
            try setItems(items, in: dict)

        // Memo
        case 0x71: memo[Int(try readUInt(1))] = try top()  // BINPUT
        case 0x72: memo[Int(try readUInt(4))] = try top()  // LONG_BINPUT
        case 0x94: memo[memo.count] = try top()  // MEMOIZE
        case 0x68: try push(recall(Int(try readUInt(1))))  // BINGET
        case 0x6A: try push(recall(Int(try readUInt(4))))  // LONG_BINGET

        // Globals and calls: the only way a pickle can run code, hence the allow-list.
        case 0x63:  // GLOBAL: "module\nname\n"
            let module = try readLine()
            let name = try readLine()
            push(.global(try resolve(module: module, name: name)))
        case 0x93:  // STACK_GLOBAL
            let name = try pop()
            let module = try pop()
            guard case .string(let n) = name, case .string(let m) = module else {
                throw malformed("STACK_GLOBAL needs two strings, got \(module.kind) and \(name.kind)")
            }
            push(.global(try resolve(module: m, name: n)))
        case 0x52:  // REDUCE
            let arguments = try pop()
            let callable = try pop()
            guard case .global(let global) = callable, case .tuple(let items, _) = arguments else {
                throw malformed("REDUCE needs a global and a tuple, got \(callable.kind) and \(arguments.kind)")
            }
            push(try call(global, items))
        case 0x62:  // BUILD: sets attributes (an OrderedDict's _metadata); nothing here needs them
            let state = try pop()
            switch try top() {
            case .dict, .tensor: break
            case let other: throw malformed("BUILD on \(other.kind) with \(state.kind)")
            }
        case 0x51:  // BINPERSID
            push(.storage(try storage(from: try pop())))
        default:
            throw .unsupportedOpcode(path: path, opcode: opcode, offset: opcodeStart)
        }
    }

    // MARK: - Allowed callables

    private func resolve(module: String, name: String) throws(TorchCheckpointError) -> PickleGlobal {
        guard let global = PickleGlobal(module: module, name: name) else {
            throw .refusedGlobal(path: path, global: "\(module).\(name)")
        }
        return global
    }

    private func call(_ global: PickleGlobal, _ arguments: [PickleValue]) throws(TorchCheckpointError) -> PickleValue {
        switch global {
        case .orderedDict:
            let dict = PickleDict()
            if arguments.isEmpty { return .dict(dict) }
            guard arguments.count == 1, case .list(let pairs) = arguments[0] else {
                throw malformed("OrderedDict called with \(arguments.count) arguments")
            }
            for pair in pairs.items {
                guard case .tuple(let kv, _) = pair, kv.count == 2 else { throw malformed("OrderedDict item is \(pair.kind), not a pair") }
                try setItems(kv, in: dict)
            }
            return .dict(dict)
        case .rebuildTensor, .rebuildTensorV2:
            // _rebuild_tensor(storage, offset, size, stride); v2 adds requires_grad, hooks[, metadata].
            let counts = global == .rebuildTensor ? 4...4 : 6...7
            guard counts.contains(arguments.count) else { throw malformed("\(global) called with \(arguments.count) arguments") }
            guard case .storage(let storage) = arguments[0], case .int(let offset) = arguments[1] else {
                throw malformed("\(global) needs a storage and an offset, got \(arguments[0].kind) and \(arguments[1].kind)")
            }
            return .tensor(
                TensorReference(
                    storage: storage, offset: offset,
                    shape: try integers(arguments[2], "size"), strides: try integers(arguments[3], "stride")))
        case .rebuildParameter, .rebuildParameterWithState:
            guard let data = arguments.first, case .tensor = data else {
                throw malformed("\(global) needs a tensor, got \(arguments.first?.kind ?? "no arguments")")
            }
            return data
        case .storageType:
            throw malformed("\(global) is a storage type and is never called by torch.save")
        }
    }

    /// `('storage', storage_type, key, location, numel)` → the storage it names.
    private func storage(from id: PickleValue) throws(TorchCheckpointError) -> StorageReference {
        guard case .tuple(let items, _) = id, items.count == 5, case .string("storage") = items[0],
            case .global(.storageType(let type)) = items[1], case .string(let key) = items[2],
            case .int(let count) = items[4], count >= 0
        else { throw malformed("persistent id is not ('storage', type, key, location, numel)") }
        return StorageReference(type: type, key: key, count: count)
    }

    private func integers(_ value: PickleValue, _ what: String) throws(TorchCheckpointError) -> [Int] {
        guard case .tuple(let items, _) = value else { throw malformed("tensor \(what) is \(value.kind), not a tuple") }
        var result: [Int] = []
        for item in items {
            guard case .int(let i) = item else { throw malformed("tensor \(what) holds \(item.kind)") }
            result.append(i)
        }
        return result
    }

    // MARK: - Stack

    private mutating func push(_ value: PickleValue) { stack.append(value) }

    private mutating func pop() throws(TorchCheckpointError) -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw malformed("stack underflow") }
        return stack.removeLast()
    }

    private func top() throws(TorchCheckpointError) -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else { throw malformed("stack underflow") }
        return value
    }

    /// The items pushed since the last MARK, which is removed.
    private mutating func popMark() throws(TorchCheckpointError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw malformed("no MARK to pop to") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func pushTuple(count: Int) throws(TorchCheckpointError) {
        guard stack.count - (marks.last ?? 0) >= count else { throw malformed("stack underflow") }
        let items = Array(stack.suffix(count))
        stack.removeLast(count)
        push(try tuple(items))
    }

    private func tuple(_ items: [PickleValue]) throws(TorchCheckpointError) -> PickleValue {
        .tuple(items, depth: try nestedDepth(items))
    }

    private func nestedDepth(_ items: [PickleValue], atLeast depth: Int = 1) throws(TorchCheckpointError) -> Int {
        let result = max(depth, 1 + (items.map(\.depth).max() ?? 0))
        guard result <= Self.maximumDepth else { throw malformed("containers nest deeper than \(Self.maximumDepth) levels") }
        return result
    }

    private func append(_ items: [PickleValue], to list: PickleList) throws(TorchCheckpointError) {
        list.depth = try nestedDepth(items, atLeast: list.depth)
        list.items += items
    }

    private func setItems(_ flat: [PickleValue], in dict: PickleDict) throws(TorchCheckpointError) {
        guard flat.count % 2 == 0 else { throw malformed("odd number of items for a dict") }
        dict.depth = try nestedDepth(flat, atLeast: dict.depth)
        for i in stride(from: 0, to: flat.count, by: 2) { dict.items.append((flat[i], flat[i + 1])) }
    }

    private func recall(_ index: Int) throws(TorchCheckpointError) -> PickleValue {
        guard let value = memo[index] else { throw malformed("memo entry \(index) was never stored") }
        return value
    }

    // MARK: - Reading

    private func malformed(_ reason: String) -> TorchCheckpointError {
        .malformedPickle(path: path, offset: opcodeStart, reason: reason)
    }

    private mutating func readByte() throws(TorchCheckpointError) -> UInt8 {
        guard position < bytes.count else { throw malformed("the stream ends before STOP") }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian unsigned integer of `count` ≤ 8 bytes.
    private mutating func readUInt(_ count: Int) throws(TorchCheckpointError) -> UInt64 {
        guard bytes.count - position >= count else { throw malformed("the stream ends inside an argument") }
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(bytes[position + i]) << (8 * i) }
        position += count
        return value
    }

    /// A length that must fit in what is left of the stream, so no huge allocation is attempted.
    private mutating func readLength(_ lengthBytes: Int) throws(TorchCheckpointError) -> Int {
        let length = try readUInt(lengthBytes)
        guard length <= UInt64(bytes.count - position) else { throw malformed("a length of \(length) bytes runs past the end") }
        return Int(length)
    }

    /// A little-endian two's-complement integer (LONG1/LONG4); wider than 64 bits is refused.
    private mutating func readLong(byteCount: Int) throws(TorchCheckpointError) -> Int {
        guard byteCount <= 8 else { throw malformed("a \(byteCount)-byte integer is too large") }
        if byteCount == 0 { return 0 }
        let raw = try readUInt(byteCount)
        let shift = UInt64(64 - 8 * byteCount)
        return Int(Int64(bitPattern: raw << shift) >> Int64(shift))
    }

    private mutating func readBytes(lengthBytes: Int) throws(TorchCheckpointError) -> [UInt8] {
        let length = try readLength(lengthBytes)
        defer { position += length }
        return Array(bytes[position..<(position + length)])
    }

    private mutating func readString(lengthBytes: Int) throws(TorchCheckpointError) -> String {
        String(decoding: try readBytes(lengthBytes: lengthBytes), as: UTF8.self)
    }

    /// A newline-terminated ASCII line (GLOBAL's operands).
    private mutating func readLine() throws(TorchCheckpointError) -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw malformed("GLOBAL name has no newline") }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }
}
