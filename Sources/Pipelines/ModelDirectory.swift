import FileIO
import Foundation
import Models
import NN
import SafeTensors
import Tensors
import TorchCheckpoint

/// A diffusers model directory: `config.json` (UNet2DModel), `diffusion_pytorch_model.safetensors`
/// or `.bin`, and `scheduler_config.json` — either side by side or in `unet/` and `scheduler/`
/// subfolders as a pipeline repository (google/ddpm-*) has them.
public enum ModelDirectory {
    static let weightFiles = ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"]

    /// The folder holding the U-Net's config.json.
    static func unetFolder(_ url: URL) -> URL {
        let sub = url.appendingPathComponent("unet")
        return FileManager.default.fileExists(atPath: sub.appendingPathComponent("config.json").path) ? sub : url
    }

    /// The U-Net configuration (enough for `ddpm inspect` on a directory holding only config.json).
    public static func configuration(at url: URL) throws(PipelineError) -> UNetConfiguration {
        let file = unetFolder(url).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw .missingFile(path: file.path, hint: "A diffusers model directory needs the UNet2DModel config.json (in the directory or its unet/ folder).")
        }
        do {
            let config = try JSONDecoder().decode(UNetConfiguration.self, from: Data(contentsOf: file))
            try config.validate()
            return config
        } catch let e as UNetConfigurationError {
            throw .unreadable(path: file.path, reason: e.description)
        } catch {
            throw .unreadable(path: file.path, reason: "not a UNet2DModel config.json (\(error))")
        }
    }

    /// The scheduler configuration, or nil when the directory has none.
    public static func scheduler(at url: URL) throws(PipelineError) -> SchedulerConfiguration? {
        let candidates = [url.appendingPathComponent("scheduler/scheduler_config.json"), url.appendingPathComponent("scheduler_config.json")]
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else { return nil }
        do { return try JSONDecoder().decode(SchedulerConfiguration.self, from: Data(contentsOf: file)) } catch {
            throw .unreadable(path: file.path, reason: "not a diffusers scheduler_config.json (\(error))")
        }
    }

    /// The path of the weights file, preferring safetensors.
    public static func weightsFile(at url: URL) throws(PipelineError) -> URL {
        let folder = unetFolder(url)
        guard let file = weightFiles.map({ folder.appendingPathComponent($0) }).first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw .missingFile(path: folder.appendingPathComponent(weightFiles[0]).path,
                               hint: "Expected \(weightFiles.joined(separator: " or ")) beside config.json.")
        }
        return file
    }

    /// Reads a state dictionary from a safetensors or PyTorch file, renaming legacy attention keys.
    public static func stateDictionary(from file: URL) throws(PipelineError) -> [String: Tensor] {
        let raw: [String: Tensor]
        do {
            raw = file.pathExtension == "safetensors"
                ? try SafeTensorsFile.read(contentsOf: file).tensors : try TorchCheckpointFile.read(contentsOf: file)
        } catch let e as SafeTensorsError { throw .unreadable(path: file.path, reason: e.description) }
        catch let e as TorchCheckpointError { throw .unreadable(path: file.path, reason: e.description) }
        catch { throw .unreadable(path: file.path, reason: "\(error)") }
        return renamingLegacyKeys(raw)
    }

    /// diffusers' old attention names (`query`, `key`, `value`, `proj_attn`), as its loader maps them.
    public static func renamingLegacyKeys(_ state: [String: Tensor]) -> [String: Tensor] {
        let renames = [(".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0.")]
        return Dictionary(uniqueKeysWithValues: state.map { key, value in
            var k = key
            if k.contains(".attentions.") { for (old, new) in renames { k = k.replacingOccurrences(of: old, with: new) } }
            return (k, value)
        })
    }

    /// The U-Net of a diffusers directory with its weights, strictly loaded.
    public static func loadUNet(from url: URL) throws(PipelineError) -> UNet {
        let config = try configuration(at: url)
        let unet: UNet
        do { unet = try UNet(config) } catch { throw .unreadable(path: url.path, reason: error.description) }
        let file = try weightsFile(at: url)
        do { try unet.load(try stateDictionary(from: file)) } catch let e as ParameterLoadError {
            throw .parameters(path: file.path, e)
        } catch let e as PipelineError { throw e } catch { throw .unreadable(path: file.path, reason: "\(error)") }
        return unet
    }

    /// Writes `unet` (e.g. the EMA weights) and `scheduler` as a diffusers directory that
    /// `UNet2DModel.from_pretrained` / `DDPMPipeline` can load: config.json, weights, scheduler_config.json.
    public static func save(_ unet: UNet, scheduler: SchedulerConfiguration, to url: URL) throws(PipelineError) {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            guard var config = try JSONSerialization.jsonObject(with: JSONEncoder().encode(unet.configuration)) as? [String: Any] else {
                throw PipelineError.invalid("the U-Net configuration did not encode as a JSON object")
            }
            config["_class_name"] = "UNet2DModel"
            config["_diffusers_version"] = "0.30.0"
            try atomicWrite(JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]),
                            to: url.appendingPathComponent("config.json"))
            var sched = scheduler
            sched.className = "DDPMScheduler"
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try atomicWrite(encoder.encode(sched), to: url.appendingPathComponent("scheduler_config.json"))
            try SafeTensorsFile(tensors: unet.stateDictionary(), metadata: ["format": "pt"])
                .write(to: url.appendingPathComponent(weightFiles[0]))
        } catch let e as PipelineError { throw e } catch { throw .cannotWrite(path: url.path, reason: "\(error)") }
    }
}

/// Writes `data` atomically (temporary file, fsync, rename; see `AtomicFile`).
func atomicWrite(_ data: Data, to url: URL) throws(PipelineError) {
    do { try AtomicFile.write(data, to: url) } catch { throw .cannotWrite(path: url.path, reason: error.reason) }
}
