import FileIO
import Foundation
import Models
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

// Issue 14: hostile model directories and checkpoints are errors that name the file, the key
// and what to do; none crashes, none loads silently.
@Suite("Hostile model directories and checkpoints")
final class HostileModelTests {
    let directory: URL
    init() throws { directory = try Tiny.temporaryDirectory() }
    deinit { try? FileManager.default.removeItem(at: directory) }

    var weights: URL { directory.appendingPathComponent("diffusion_pytorch_model.safetensors") }

    /// A valid exported tiny model, then `edit` applied to its state dict.
    func model(editing edit: (inout [String: Tensor]) -> Void = { _ in }) throws {
        try ModelDirectory.save(try UNet(Tiny.unet, seed: 1), scheduler: .paper, to: directory, layout: .flat)
        var file = try SafeTensorsFile.read(contentsOf: weights)
        edit(&file.tensors)
        try file.write(to: weights)
    }

    @Test("legacy and current names of one attention tensor in one file: an error naming both, not a Dictionary trap")
    func duplicateLegacyAndCurrentKeys() throws {
        let current = try #require(
            try UNet(Tiny.unet).stateDictionary().keys.first { $0.contains(".attentions.") && $0.hasSuffix(".to_q.weight") })
        let legacy = current.replacingOccurrences(of: ".to_q.", with: ".query.")
        try model { $0[legacy] = $0[current] }
        #expect(throws: (any Error).self) { try ModelDirectory.loadUNet(from: self.directory) }
        do {
            _ = try ModelDirectory.loadUNet(from: directory)
            Issue.record("loaded")
        } catch {
            #expect(
                "\(error)"
                    == "\(weights.path): the weights hold both '\(legacy)' and '\(current)', the legacy and the current name of attention tensor '\(current)', so which one to load is ambiguous. Keep one of them (re-save the model with a current diffusers)."
            )
        }
        // The plain renaming never traps: the current name wins.
        let renamed = ModelDirectory.renamingLegacyKeys([legacy: Tensor(1), current: Tensor(2)])
        #expect(renamed.count == 1 && renamed[current]?.scalars == [2])
    }

    @Test("NaN or infinite weights are refused naming the tensor; allowNonFinite loads them with a warning")
    func nonFiniteWeights() throws {
        let key = "conv_in.bias"
        try model { t in t[key] = Tensor(shape: t[key]!.shape, scalars: [.nan, .infinity] + Array(t[key]!.scalars.dropFirst(2))) }
        let count = try SafeTensorsFile.read(contentsOf: weights).tensors[key]!.scalarCount
        do {
            _ = try ModelDirectory.loadUNet(from: directory)
            Issue.record("loaded NaN weights")
        } catch {
            #expect(
                "\(error)"
                    == "\(weights.path): 1 weight tensor(s) hold NaN or infinite values: 'conv_in.bias' (2 of \(count) values). The model would produce NaN images; use a good copy of the weights (or pass --allow-nonfinite to load them anyway)."
            )
        }
        var warnings: [String] = []
        _ = try ModelDirectory.loadUNet(from: directory, allowNonFinite: true) { warnings.append($0) }
        #expect(
            warnings == [
                "warning: \(weights.path): 1 weight tensor(s) hold NaN or infinite values: 'conv_in.bias' (2 of \(count) values); loading them anyway (--allow-nonfinite)."
            ])
    }

    @Test("config.json with a duplicate key or a hostile value is an error naming the file once and the key")
    func hostileConfig() throws {
        try model()
        let config = directory.appendingPathComponent("config.json")
        try Data(#"{"sample_size": 8, "sample_size": 4096}"#.utf8).write(to: config)
        do {
            _ = try ModelDirectory.configuration(at: directory)
            Issue.record("accepted")
        } catch {
            #expect(
                "\(error)"
                    == "\(config.path): not valid JSON (duplicate key 'sample_size' at byte 19); a diffusers UNet2DModel config.json is expected"
            )
        }
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Tiny.unet)) as! [String: Any]
        json["norm_num_groups"] = 0
        try JSONSerialization.data(withJSONObject: json).write(to: config)
        do {
            _ = try ModelDirectory.loadUNet(from: directory)
            Issue.record("accepted")
        } catch {
            #expect(
                "\(error)" == "\(config.path): Unsupported U-Net configuration: norm_num_groups is 0; it must be at least 1 (32 in DDPM).")
        }
        json["norm_num_groups"] = "four"
        try JSONSerialization.data(withJSONObject: json).write(to: config)
        do {
            _ = try ModelDirectory.configuration(at: directory)
            Issue.record("accepted")
        } catch {
            #expect("\(error)".hasPrefix("\(config.path): not a UNet2DModel config.json ('norm_num_groups' must be Int"), "\(error)")
        }
    }

    @Test("a corrupt weights file is reported with its path once, not twice")
    func pathOnce() throws {
        try model()
        try Data([1, 2, 3]).write(to: weights)
        do {
            _ = try ModelDirectory.loadUNet(from: directory)
            Issue.record("loaded")
        } catch {
            let text = "\(error)"
            #expect(
                text
                    == "\(weights.path): 3 bytes is too short for a safetensors file (needs an 8-byte header length). Is the file truncated?"
            )
            #expect(text.components(separatedBy: weights.path).count == 2)
        }
    }

    @Test("checkpoint metadata is validated like a config.json before anything is built")
    func hostileCheckpointMetadata() throws {
        let url = directory.appendingPathComponent("step-1.safetensors")
        try Checkpoint.save(try Tiny.trainer(steps: 1), to: url)
        var file = try SafeTensorsFile.read(contentsOf: url)
        var unet = try JSONSerialization.jsonObject(with: Data(file.metadata["unet"]!.utf8)) as! [String: Any]
        unet["sample_size"] = 1 << 40
        file.metadata["unet"] = String(decoding: try JSONSerialization.data(withJSONObject: unet), as: UTF8.self)
        try file.write(to: url)
        do {
            _ = try Checkpoint.load(url)
            Issue.record("loaded")
        } catch {
            #expect(
                "\(error)"
                    == "\(url.path): checkpoint metadata 'unet': Unsupported U-Net configuration: sample_size is 1099511627776; 1 to 4096 pixels are supported."
            )
        }
        var training = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Tiny.configuration(steps: 1))) as! [String: Any]
        training["batchSize"] = 1 << 40
        file = try SafeTensorsFile.read(contentsOf: url)
        file.metadata["unet"] = String(decoding: try JSONEncoder().encode(Tiny.unet), as: UTF8.self)
        file.metadata["training"] = String(decoding: try JSONSerialization.data(withJSONObject: training), as: UTF8.self)
        try file.write(to: url)
        do {
            _ = try Checkpoint.load(url)
            Issue.record("loaded")
        } catch {
            #expect(
                "\(error)"
                    == "\(url.path): checkpoint metadata 'training': Invalid input: batch size must be 1 to 65536 (got 1099511627776)")
        }
    }

    @Test("a checkpoint whose data position is out of range is refused, not a trap on resume")
    func hostileDataPosition() throws {
        let url = directory.appendingPathComponent("step-1.safetensors")
        try Checkpoint.save(try Tiny.trainer(steps: 1), to: url)
        var file = try SafeTensorsFile.read(contentsOf: url)
        var state = try JSONSerialization.jsonObject(with: Data(file.metadata["state"]!.utf8)) as! [String: Any]
        var data = state["data"] as! [String: Any]
        data["index"] = -7
        state["data"] = data
        file.metadata["state"] = String(decoding: try JSONSerialization.data(withJSONObject: state), as: UTF8.self)
        try file.write(to: url)
        do {
            _ = try Checkpoint.load(url)
            Issue.record("loaded")
        } catch {
            #expect(
                "\(error)"
                    == "\(url.path): checkpoint metadata 'state': data position epoch 0, index -7 is out of range; the checkpoint is damaged"
            )
        }
    }

    @Test("a run removes the temporary files of killed writers when it starts or resumes, never those of live ones")
    func staleTemporariesOnResume() throws {
        let trainer = try Tiny.trainer(steps: 1)
        let run = TrainingRun(trainer: trainer, output: directory)
        let checkpoints = directory.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        let dead = checkpoints.appendingPathComponent(".step-500.safetensors.tmp-99999999")
        let live = checkpoints.appendingPathComponent(".step-500.safetensors.tmp-\(getppid())")
        for f in [dead, live] { _ = FileManager.default.createFile(atPath: f.path, contents: Data(count: 1024)) }
        var reported: [String] = []
        run.onFile = { what, url in if what == "removed stale temporary file" { reported.append(url.lastPathComponent) } }
        try run.run()
        #expect(reported == [dead.lastPathComponent])
        #expect(!FileManager.default.fileExists(atPath: dead.path))
        #expect(FileManager.default.fileExists(atPath: live.path))
    }
}
