import Datasets
import Foundation
import Models
import NN
import Optimizers
import SafeTensors
import Tensors

/// A training run in one safetensors file: model, EMA, Adam moments (`model.*`, `ema.*`,
/// `adam.m.*`, `adam.v.*`) and, as JSON metadata, the U-Net and training configurations, the step,
/// and every random stream's state. Written atomically (temporary file, fsync, rename), so the
/// previous checkpoint survives any failure while saving.
public enum Checkpoint {
    static let format = "swift-ddpm-checkpoint-1"

    /// The state that is not a tensor.
    struct State: Codable {
        var step: Int
        var adamStep: Int
        var emaUpdates: Int
        var noiseGenerator: UInt64
        var dropoutGenerator: UInt64
        var data: DataLoaderPosition
        /// Class dropout's stream (conditional runs; absent in older checkpoints).
        var classDropoutGenerator: UInt64? = nil
    }

    /// Writes the trainer's complete state to `url`.
    public static func save(_ trainer: Trainer, to url: URL) throws(PipelineError) {
        var tensors: [String: Tensor] = [:]
        for ((key, parameter), average) in zip(trainer.parameters, trainer.ema.averages) {
            let (m, v) = trainer.adam.moments(of: parameter)
            tensors["model.\(key)"] = parameter.value
            tensors["ema.\(key)"] = average
            tensors["adam.m.\(key)"] = m
            tensors["adam.v.\(key)"] = v
        }
        let state = State(
            step: trainer.step, adamStep: trainer.adam.step, emaUpdates: trainer.ema.updates,
            noiseGenerator: trainer.noiseGenerator.state, dropoutGenerator: trainer.dropoutGenerator.state,
            data: trainer.data.position, classDropoutGenerator: trainer.classDropoutGenerator.state)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let metadata = [
                "format": format,
                "unet": String(decoding: try encoder.encode(trainer.unet.configuration), as: UTF8.self),
                "training": String(decoding: try encoder.encode(trainer.configuration), as: UTF8.self),
                "state": String(decoding: try encoder.encode(state), as: UTF8.self),
            ]
            try SafeTensorsFile(tensors: tensors, metadata: metadata).write(to: url)
        } catch let e as SafeTensorsError { throw .cannotWrite(path: url.path, reason: e.description) } catch {
            throw .cannotWrite(path: url.path, reason: "\(error)")
        }
    }

    /// A checkpoint's configurations and tensors.
    public struct Contents: Sendable {
        public let url: URL
        public let unet: UNetConfiguration
        public let training: TrainingConfiguration
        let state: State
        let tensors: [String: Tensor]
        public var step: Int { state.step }

        /// The network with the EMA weights (`ema: true`, what the paper samples from) or the raw
        /// ones; NaN or infinite weights are refused unless `allowNonFinite` (then `warn` is told).
        public func model(
            ema: Bool = true, allowNonFinite: Bool = false,
            warn: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        ) throws(PipelineError) -> UNet {
            let network: UNet
            do { network = try UNet(unet) } catch { throw .unreadable(path: url.path, reason: error.description) }
            let prefix = ema ? "ema." : "model."
            let state = Dictionary(
                uniqueKeysWithValues: tensors.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) }
            )
            do { try network.load(state) } catch { throw .parameters(path: url.path, error) }
            try ModelDirectory.checkFinite(
                state.reduce(into: [:]) { $0[prefix + $1.key] = $1.value }, in: url.path,
                allowNonFinite: allowNonFinite, warn: warn)
            return network
        }
    }

    /// Reads a checkpoint, checking its format and metadata.
    public static func load(_ url: URL) throws(PipelineError) -> Contents {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile.read(contentsOf: url) } catch { throw .unreadable(path: url.path, reason: error.description) }
        guard file.metadata["format"] == format else {
            throw .unreadable(
                path: url.path,
                reason:
                    "not a swift-ddpm training checkpoint (metadata format is \(file.metadata["format"].map { "'\($0)'" } ?? "missing"), expected '\(format)'). For a diffusers model pass its directory."
            )
        }
        let contents: Contents
        do {
            let decoder = JSONDecoder()
            contents = Contents(
                url: url,
                unet: try decoder.decode(UNetConfiguration.self, from: Data((file.metadata["unet"] ?? "").utf8)),
                training: try decoder.decode(TrainingConfiguration.self, from: Data((file.metadata["training"] ?? "").utf8)),
                state: try decoder.decode(State.self, from: Data((file.metadata["state"] ?? "").utf8)),
                tensors: file.tensors)
        } catch { throw .unreadable(path: url.path, reason: "damaged checkpoint metadata (\(describeDecoding(error)))") }
        // The metadata is as untrusted as any config.json: validate it before anything is built.
        do { try contents.unet.validate() } catch {
            throw .unreadable(path: url.path, reason: "checkpoint metadata 'unet': \(error.description)")
        }
        do { try contents.training.validate() } catch {
            throw .unreadable(path: url.path, reason: "checkpoint metadata 'training': \(error.description)")
        }
        let data = contents.state.data
        guard (0..<(1 << 62)).contains(data.epoch), (0..<(1 << 62)).contains(data.index) else {
            throw .unreadable(
                path: url.path,
                reason:
                    "checkpoint metadata 'state': data position epoch \(data.epoch), index \(data.index) is out of range; the checkpoint is damaged"
            )
        }
        guard contents.state.step >= 0, contents.state.adamStep >= 0, contents.state.emaUpdates >= 0 else {
            throw .unreadable(
                path: url.path,
                reason:
                    "checkpoint metadata 'state': negative step counts (step \(contents.state.step), adamStep \(contents.state.adamStep), emaUpdates \(contents.state.emaUpdates)); the checkpoint is damaged"
            )
        }
        return contents
    }

    /// Puts a trainer (built with the same configurations) back into the checkpoint's state.
    public static func restore(_ contents: Contents, into trainer: Trainer) throws(PipelineError) {
        guard contents.unet == trainer.unet.configuration else {
            throw .invalid(
                "\(contents.url.path) was trained with a different U-Net configuration; use the same --preset/--config as that run, or start a new run in another directory"
            )
        }
        func tensors(_ prefix: String) throws(PipelineError) -> [Tensor] {
            var out: [Tensor] = []
            for (key, parameter) in trainer.parameters {
                guard let t = contents.tensors[prefix + key], t.shape == parameter.shape else {
                    throw .unreadable(
                        path: contents.url.path,
                        reason: "tensor '\(prefix + key)' is missing or has the wrong shape; the checkpoint is damaged")
                }
                out.append(t)
            }
            return out
        }
        let (model, ema, m, v) = (try tensors("model."), try tensors("ema."), try tensors("adam.m."), try tensors("adam.v."))
        for ((_, parameter), value) in zip(trainer.parameters, model) { parameter.value = value }
        trainer.ema.restore(averages: ema, updates: contents.state.emaUpdates)
        trainer.adam.restore(
            step: contents.state.adamStep,
            moments: zip(trainer.parameters.map(\.parameter), zip(m, v)).map { ($0, $1.0, $1.1) })
        trainer.restore(
            step: contents.state.step, noise: contents.state.noiseGenerator,
            dropout: contents.state.dropoutGenerator, data: contents.state.data)
        if let state = contents.state.classDropoutGenerator { trainer.classDropoutGenerator.state = state }
    }
}

extension Trainer {
    func restore(step: Int, noise: UInt64, dropout: UInt64, data position: DataLoaderPosition) {
        self.step = step
        noiseGenerator.state = noise
        dropoutGenerator.state = dropout
        data.position = position
    }
}
