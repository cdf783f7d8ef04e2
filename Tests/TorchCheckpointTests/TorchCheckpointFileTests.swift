import Foundation
import SafeTensors
import Tensors
import Testing
import TorchCheckpoint

/// Fixtures come from scripts/reference/make_torch_checkpoint_fixtures.py (torch.save).
private func fixture(_ name: String) -> URL {
    Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")!
}

private func readError(_ name: String) -> TorchCheckpointError? {
    do { _ = try TorchCheckpointFile.read(contentsOf: fixture(name)) } catch { return error }
    return nil
}

@Suite("TorchCheckpointFile (torch.save zip format)")
struct TorchCheckpointFileTests {
    static let twin = try! SafeTensorsFile.read(contentsOf: fixture("state.safetensors")).tensors

    @Test(
        "A .bin written by torch.save loads to the same tensors as its safetensors twin",
        arguments: ["state.bin", "state_protocol4.bin", "state_protocol5.bin"])
    func matchesSafeTensorsTwin(_ name: String) throws {
        let tensors = try TorchCheckpointFile.read(contentsOf: fixture(name))
        let expectedKeys = Set(Self.twin.keys.filter { !$0.hasPrefix("module.") })
        #expect(Set(tensors.keys) == expectedKeys)
        for key in expectedKeys.sorted() {
            #expect(tensors[key]?.shape == Self.twin[key]!.shape, "\(name): \(key)")
            #expect(tensors[key]?.scalars == Self.twin[key]!.scalars, "\(name): \(key)")
        }
        #expect(tensors["scalar"]?.shape == [])
        #expect(tensors["scalar"]?.scalars == [2.5])
        #expect(tensors["int64"]?.scalars == [-3, 0, 7, 1_099_511_627_776, -1_048_576, 5])
        #expect(tensors["empty"]?.shape == [0, 3])
    }

    @Test("A module's state_dict() (OrderedDict with _metadata, shared memo entries) loads exactly")
    func moduleStateDict() throws {
        let tensors = try TorchCheckpointFile.read(contentsOf: fixture("module.bin"))
        #expect(tensors.keys.sorted() == ["0.bias", "0.weight", "1.bias", "1.weight"])
        for (key, tensor) in tensors {
            #expect(tensor.shape == Self.twin["module." + key]!.shape)
            #expect(tensor.scalars == Self.twin["module." + key]!.scalars)
        }
    }

    @Test("A hostile pickle calling os.system is refused before anything runs, naming the global")
    func hostilePickleIsRefused() {
        let path = fixture("hostile.bin").path
        #expect(readError("hostile.bin") == .refusedGlobal(path: path, global: "posix.system"))
        #expect(
            readError("hostile.bin")?.description
                == "\(path): refused: the pickle calls 'posix.system', and loading it would execute code. Only collections.OrderedDict, torch._utils tensor rebuilders and torch storage types are allowed; convert trusted checkpoints to safetensors."
        )
    }

    @Test("A truncated file is a clear error naming the file")
    func truncatedFile() {
        let path = fixture("truncated.bin").path
        #expect(
            readError("truncated.bin")?.description
                == "\(path): not a readable zip archive (missingEndOfCentralDirectoryRecord). Is the file truncated? Download it again or re-save it with torch.save."
        )
    }

    @Test("A flipped byte in a storage fails its CRC-32 and names the file and entry")
    func corruptStorage() {
        let path = fixture("corrupt.bin").path
        #expect(
            readError("corrupt.bin")?.description
                == "\(path): entry 'state/data/0' cannot be read (CRC-32 or size mismatch). The file is corrupt or truncated.")
    }

    @Test("A file that is not a zip archive says so")
    func notAZip() {
        let path = fixture("state.safetensors").path
        #expect(
            readError("state.safetensors")?.description
                == "\(path): not a readable zip archive (it does not start with a zip signature). Is the file truncated? Download it again or re-save it with torch.save."
        )
    }

    @Test("The legacy (pre-1.6) format is named, with how to convert it")
    func legacyFormat() {
        let path = fixture("legacy.bin").path
        #expect(
            readError("legacy.bin")?.description
                == "\(path): legacy (pre-1.6) torch.save format; re-save with torch >= 1.6 or convert to safetensors.")
    }

    @Test(
        "Unsupported dtypes name the key and the dtype", arguments: [("complex.bin", "complex", "complex64"), ("bool.bin", "mask", "bool")])
    func unsupportedDType(_ name: String, _ key: String, _ dtype: String) {
        let path = fixture(name).path
        #expect(readError(name) == .unsupportedDType(path: path, key: key, dtype: dtype))
        #expect(
            readError(name)?.description
                == "\(path): tensor '\(key)' has dtype \(dtype); supported are float32, float16, bfloat16, float64, int64 and int32. Convert it to float32."
        )
    }

    @Test("Nested dicts flatten to dotted keys; ints, strings, floats and lists are skipped")
    func nestedCheckpoint() throws {
        let tensors = try TorchCheckpointFile.read(contentsOf: fixture("nested.bin"))
        #expect(tensors.keys.sorted() == ["model.sub.b", "model.w"])
        #expect(tensors["model.w"]?.scalars == [1, -1])
        #expect(tensors["model.sub.b"]?.shape == [])
    }

    @Test("A missing file is a cannotOpen error naming it")
    func missingFile() {
        let url = URL(fileURLWithPath: "/nonexistent/model.bin")
        var thrown: TorchCheckpointError?
        do { _ = try TorchCheckpointFile.read(contentsOf: url) } catch { thrown = error }
        guard case .cannotOpen(path: "/nonexistent/model.bin", _) = thrown else {
            Issue.record("expected cannotOpen, got \(String(describing: thrown))")
            return
        }
    }
}
