import Testing
import TorchCheckpoint

/// Hand-written pickle streams for what torch.save never writes (opcodes per CPython pickletools).
private func run(_ bytes: [UInt8]) throws(TorchCheckpointError) -> PickleValue {
    var machine = PickleMachine(bytes: bytes, path: "m.pkl")
    return try machine.run()
}

private func error(_ bytes: [UInt8]) -> TorchCheckpointError? {
    do { _ = try run(bytes) } catch { return error }
    return nil
}

private func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("PickleMachine (restricted unpickler)")
struct PickleMachineTests {
    @Test("GLOBAL __builtin__.getattr (protocol 2) is refused by name")
    func refusesGlobal() {
        let stream: [UInt8] = [0x80, 2, 0x63] + ascii("__builtin__\ngetattr\n") + [0x2E]
        #expect(error(stream) == .refusedGlobal(path: "m.pkl", global: "__builtin__.getattr"))
    }

    @Test("STACK_GLOBAL builtins.eval (protocol 4) is refused by name")
    func refusesStackGlobal() {
        let stream: [UInt8] = [0x80, 4, 0x8C, 8] + ascii("builtins") + [0x8C, 4] + ascii("eval") + [0x93, 0x2E]
        #expect(error(stream) == .refusedGlobal(path: "m.pkl", global: "builtins.eval"))
    }

    @Test("Object-building opcodes (NEWOBJ) are refused with their offset")
    func refusesNewObj() {
        #expect(error([0x80, 2, 0x29, 0x29, 0x81, 0x2E]) == .unsupportedOpcode(path: "m.pkl", opcode: 0x81, offset: 4))
        #expect(
            error([0x80, 2, 0x29, 0x29, 0x81, 0x2E])?.description
                == "m.pkl: unsupported pickle opcode 0x81 at byte 4 of data.pkl; state dicts written by torch.save do not use it. Re-save the state dict with torch.save or convert it to safetensors."
        )
    }

    @Test("Calling an allowed storage type is refused")
    func refusesStorageCall() {
        let stream: [UInt8] = [0x80, 2, 0x63] + ascii("torch\nFloatStorage\n") + [0x29, 0x52, 0x2E]
        #expect(
            error(stream)
                == .malformedPickle(
                    path: "m.pkl", offset: 23, reason: "torch.FloatStorage is a storage type and is never called by torch.save"))
    }

    @Test("Nesting deeper than the limit is an error, not a stack overflow")
    func boundsNesting() {
        let stream: [UInt8] = [0x80, 2, 0x29] + [UInt8](repeating: 0x85, count: 5000) + [0x2E]
        #expect(error(stream) == .malformedPickle(path: "m.pkl", offset: 102, reason: "containers nest deeper than 100 levels"))
    }

    @Test("A stream without STOP and a length past the end are malformed")
    func truncatedStreams() {
        #expect(error([0x80, 2, 0x7D]) == .malformedPickle(path: "m.pkl", offset: 3, reason: "the stream ends before STOP"))
        #expect(
            error([0x80, 2, 0x58, 0xFF, 0xFF, 0xFF, 0x7F])
                == .malformedPickle(path: "m.pkl", offset: 2, reason: "a length of 2147483647 bytes runs past the end"))
        #expect(error([0x80, 2, 0x68, 7, 0x2E]) == .malformedPickle(path: "m.pkl", offset: 2, reason: "memo entry 7 was never stored"))
    }

    @Test("Dicts, memo, LONG1 and BINFLOAT decode as pickle defines them")
    func decodesValues() throws {
        // {'a': -2, 'b': [1.5, 'a'-memo]}: EMPTY_DICT MARK 'a' BINPUT0 LONG1(-2) 'b' EMPTY_LIST MARK BINFLOAT BINGET0 APPENDS SETITEMS
        let stream: [UInt8] = [
            0x80, 2, 0x7D, 0x28, 0x8C, 1, 0x61, 0x71, 0, 0x8A, 1, 0xFE, 0x8C, 1, 0x62, 0x5D, 0x28,
            0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x68, 0, 0x65, 0x75, 0x2E,
        ]
        guard case .dict(let dict) = try run(stream) else {
            Issue.record("not a dict")
            return
        }
        #expect(dict.items.count == 2)
        guard case .string("a") = dict.items[0].key, case .int(-2) = dict.items[0].value,
            case .list(let list) = dict.items[1].value, list.items.count == 2,
            case .float(1.5) = list.items[0], case .string("a") = list.items[1]
        else {
            Issue.record("decoded \(dict.items)")
            return
        }
    }
}
