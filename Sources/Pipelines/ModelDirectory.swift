import FileIO
import Foundation
import Models
import NN
import SafeTensors
import Tensors
import TorchCheckpoint

/// A diffusers model directory: `config.json` (UNet2DModel), `diffusion_pytorch_model.safetensors`
/// or `.bin`, and `scheduler_config.json` — either side by side (`Layout.flat`) or in `unet/` and
/// `scheduler/` subfolders beside `model_index.json` as a pipeline repository (google/ddpm-*) has
/// them (`Layout.pipeline`, what `save` writes). Every reader here takes both.
public enum ModelDirectory {
    static let weightFiles = ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"]

    /// The folder holding the U-Net's config.json: `unet/` when it has one, else `url`.
    public static func unetFolder(_ url: URL) -> URL {
        let sub = url.appendingPathComponent("unet")
        return FileManager.default.fileExists(atPath: sub.appendingPathComponent("config.json").path) ? sub : url
    }

    /// Whether `url` looks like a model directory in either layout (it has a U-Net config.json).
    public static func isModelDirectory(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: unetFolder(url).appendingPathComponent("config.json").path)
    }

    /// The U-Net configuration (enough for `ddpm inspect` on a directory holding only config.json).
    public static func configuration(at url: URL) throws(PipelineError) -> UNetConfiguration {
        let file = unetFolder(url).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw .missingFile(
                path: file.path,
                hint: "A diffusers model directory needs the UNet2DModel config.json (in the directory or its unet/ folder).")
        }
        if let kind = AtomicFile.nonRegularFileKind(file.path) {
            throw .unreadable(path: file.path, reason: "is \(kind), not a config.json file")
        }
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw .unreadable(path: file.path, reason: "cannot read (\(error.localizedDescription))")
        }
        return try decodeConfiguration(data, path: file.path)
    }

    /// A config.json's bytes as a validated configuration: strict JSON (no duplicate key), the
    /// UNet2DModel fields with their types, then `UNetConfiguration.validate()`.
    public static func decodeConfiguration(_ data: Data, path: String) throws(PipelineError) -> UNetConfiguration {
        do { _ = try StrictJSON.parse(data) } catch {
            throw .unreadable(path: path, reason: "not valid JSON (\(error)); a diffusers UNet2DModel config.json is expected")
        }
        do {
            let config = try JSONDecoder().decode(UNetConfiguration.self, from: data)
            try config.validate()
            return config
        } catch let e as UNetConfigurationError {
            throw .unreadable(path: path, reason: e.description)
        } catch {
            throw .unreadable(path: path, reason: "not a UNet2DModel config.json (\(describeDecoding(error)))")
        }
    }

    /// The scheduler configuration, or nil when the directory has none.
    public static func scheduler(at url: URL) throws(PipelineError) -> SchedulerConfiguration? {
        let candidates = [
            url.appendingPathComponent("scheduler/scheduler_config.json"), url.appendingPathComponent("scheduler_config.json"),
        ]
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else { return nil }
        return try SchedulerConfiguration.read(contentsOf: file)
    }

    /// The path of the weights file, preferring safetensors.
    public static func weightsFile(at url: URL) throws(PipelineError) -> URL {
        let folder = unetFolder(url)
        guard
            let file = weightFiles.map({ folder.appendingPathComponent($0) }).first(where: {
                FileManager.default.fileExists(atPath: $0.path)
            })
        else {
            throw .missingFile(
                path: folder.appendingPathComponent(weightFiles[0]).path,
                hint: "Expected \(weightFiles.joined(separator: " or ")) beside config.json.")
        }
        return file
    }

    /// Reads a state dictionary from a safetensors or PyTorch file, renaming legacy attention keys.
    public static func stateDictionary(from file: URL) throws(PipelineError) -> [String: Tensor] {
        let raw: [String: Tensor]
        do {
            raw =
                file.pathExtension == "safetensors"
                ? try SafeTensorsFile.read(contentsOf: file).tensors : try TorchCheckpointFile.read(contentsOf: file)
        } catch let e as SafeTensorsError { throw .unreadable(path: file.path, reason: e.description) } catch let e as TorchCheckpointError
        { throw .unreadable(path: file.path, reason: e.description) } catch { throw .unreadable(path: file.path, reason: "\(error)") }
        return try renamingLegacyKeys(raw, in: file.path)
    }

    static let legacyRenames = [(".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0.")]

    static func currentName(_ key: String) -> String {
        var k = key
        if k.contains(".attentions.") { for (old, new) in legacyRenames { k = k.replacingOccurrences(of: old, with: new) } }
        return k
    }

    /// diffusers' old attention names (`query`, `key`, `value`, `proj_attn`), as its loader maps
    /// them; a file holding both the old and the new name of one tensor is refused, naming both.
    public static func renamingLegacyKeys(_ state: [String: Tensor], in path: String) throws(PipelineError) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        var source: [String: String] = [:]
        for key in state.keys.sorted() {
            let k = currentName(key)
            if let other = source[k] {
                throw .unreadable(
                    path: path,
                    reason:
                        "the weights hold both '\(other)' and '\(key)', the legacy and the current name of attention tensor '\(k)', so which one to load is ambiguous. Keep one of them (re-save the model with a current diffusers)."
                )
            }
            source[k] = key
            out[k] = state[key]
        }
        return out
    }

    /// `renamingLegacyKeys(_:in:)` without a file name; on a name clash the current name wins.
    public static func renamingLegacyKeys(_ state: [String: Tensor]) -> [String: Tensor] {
        Dictionary(state.map { (currentName($0.key), ($0.key == currentName($0.key), $0.value)) }) { a, b in a.0 ? a : b }.mapValues(\.1)
    }

    /// The tensors holding NaN or ±infinity, with how many such values each has, sorted by key.
    public static func nonFiniteTensors(in state: [String: Tensor]) -> [(key: String, count: Int)] {
        state.compactMap { key, t in
            let n = t.scalars.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            return n > 0 ? (key, n) : nil
        }.sorted { $0.key < $1.key }
    }

    /// Refuses weights with NaN or infinite values, naming the tensors; with `allowNonFinite`
    /// it only warns through `warn`.
    public static func checkFinite(
        _ state: [String: Tensor], in path: String, allowNonFinite: Bool,
        warn: (String) -> Void
    ) throws(PipelineError) {
        let bad = nonFiniteTensors(in: state)
        guard !bad.isEmpty else { return }
        let list =
            bad.prefix(5).map { "'\($0.key)' (\($0.count) of \(state[$0.key]!.scalarCount) values)" }.joined(separator: ", ")
            + (bad.count > 5 ? " and \(bad.count - 5) more" : "")
        guard allowNonFinite else {
            throw .unreadable(
                path: path,
                reason:
                    "\(bad.count) weight tensor(s) hold NaN or infinite values: \(list). The model would produce NaN images; use a good copy of the weights (or pass --allow-nonfinite to load them anyway)."
            )
        }
        warn(
            "warning: \(path): \(bad.count) weight tensor(s) hold NaN or infinite values: \(list); loading them anyway (--allow-nonfinite)."
        )
    }

    /// The U-Net of a diffusers directory with its weights, strictly loaded; weights with NaN or
    /// infinite values are refused unless `allowNonFinite` (then `warn` is told).
    public static func loadUNet(
        from url: URL, allowNonFinite: Bool = false,
        warn: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    ) throws(PipelineError) -> UNet {
        let config = try configuration(at: url)
        let unet: UNet
        do { unet = try UNet(config) } catch { throw .unreadable(path: url.path, reason: error.description) }
        let file = try weightsFile(at: url)
        let state = try stateDictionary(from: file)
        do { try unet.load(state) } catch { throw .parameters(path: file.path, error) }
        try checkFinite(state, in: file.path, allowNonFinite: allowNonFinite, warn: warn)
        return unet
    }

    /// How a model directory is laid out on disk.
    public enum Layout: Sendable {
        /// A diffusers pipeline repository as google/ddpm-* have it: `model_index.json`,
        /// `unet/config.json` + weights, `scheduler/scheduler_config.json`; `DDPMPipeline.from_pretrained`
        /// needs this one.
        case pipeline
        /// config.json, weights and scheduler_config.json side by side (`UNet2DModel.from_pretrained`
        /// and `DDPMScheduler.from_pretrained` read it; older exports of this project).
        case flat
    }

    static let modelIndex = "model_index.json"
    static let diffusersVersion = "0.30.0"

    /// Writes `unet` (e.g. the EMA weights) and `scheduler` as a diffusers model directory, every
    /// file atomically. In the pipeline layout `model_index.json` is written last, so a directory
    /// that has one is complete; the files of an earlier export in the other layout are then removed,
    /// so that no reader can pick up a stale config beside the new one.
    public static func save(_ unet: UNet, scheduler: SchedulerConfiguration, to url: URL, layout: Layout = .pipeline) throws(PipelineError)
    {
        let (unetFolder, schedulerFolder) =
            layout == .pipeline
            ? (url.appendingPathComponent("unet"), url.appendingPathComponent("scheduler")) : (url, url)
        do {
            for folder in [unetFolder, schedulerFolder] {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            }
            guard var config = try JSONSerialization.jsonObject(with: JSONEncoder().encode(unet.configuration)) as? [String: Any] else {
                throw PipelineError.invalid("the U-Net configuration did not encode as a JSON object")
            }
            config["_class_name"] = "UNet2DModel"
            config["_diffusers_version"] = diffusersVersion
            try SafeTensorsFile(tensors: unet.stateDictionary(), metadata: ["format": "pt"])
                .write(to: unetFolder.appendingPathComponent(weightFiles[0]))
            try atomicWrite(
                JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]),
                to: unetFolder.appendingPathComponent("config.json"))
            var sched = scheduler
            sched.className = "DDPMScheduler"
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try atomicWrite(encoder.encode(sched), to: schedulerFolder.appendingPathComponent("scheduler_config.json"))
            guard layout == .pipeline else {
                for stale in [modelIndex, "unet", "scheduler"] {
                    let item = url.appendingPathComponent(stale)
                    if FileManager.default.fileExists(atPath: item.path) { try FileManager.default.removeItem(at: item) }
                }
                return
            }
            let index: [String: Any] = [
                "_class_name": "DDPMPipeline", "_diffusers_version": diffusersVersion,
                "unet": ["diffusers", "UNet2DModel"], "scheduler": ["diffusers", "DDPMScheduler"],
            ]
            try atomicWrite(
                JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys]),
                to: url.appendingPathComponent(modelIndex))
            for stale in ["config.json", "scheduler_config.json"] + weightFiles {
                let file = url.appendingPathComponent(stale)
                if FileManager.default.fileExists(atPath: file.path) { try FileManager.default.removeItem(at: file) }
            }
        } catch let e as PipelineError { throw e } catch { throw .cannotWrite(path: url.path, reason: "\(error)") }
    }
}

/// Writes `data` atomically (temporary file, fsync of it and of its directory, rename; see
/// `AtomicFile`): every output of the library and the CLI goes through here or `AtomicFile`, so a
/// crash leaves the previous file or the new one, never half of one.
public func atomicWrite(_ data: Data, to url: URL) throws(PipelineError) {
    do { try AtomicFile.write(data, to: url) } catch { throw .cannotWrite(path: url.path, reason: error.reason) }
}

/// A DecodingError as "key 'x': expected Int" rather than its debug dump.
func describeDecoding(_ error: any Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func key(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "the top level" : "'" + path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") + "'"
    }
    switch e {
    case .typeMismatch(let type, let c): return "\(key(c.codingPath)) must be \(type), \(c.debugDescription)"
    case .valueNotFound(let type, let c): return "\(key(c.codingPath)) must be \(type), found null"
    case .keyNotFound(let k, let c): return "\(key(c.codingPath + [k])) is missing"
    case .dataCorrupted(let c): return "\(key(c.codingPath)): \(c.debugDescription)"
    @unknown default: return "\(error)"
    }
}
