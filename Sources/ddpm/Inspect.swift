import ArgumentParser
import Foundation
import Models
import NN
import Pipelines
import SafeTensors
import Tensors

/// `ddpm inspect`: what a model directory, checkpoint or weights file holds.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's configuration, parameter count and keys (diffusers directory, checkpoint, .safetensors or .bin).")

    @Argument(help: "A diffusers model directory, a swift-ddpm checkpoint, or a .safetensors/.bin weights file.")
    var path: String

    @Flag(help: "Report NaN or infinite weights without failing (the exit status is then 0 if they load).")
    var allowNonfinite = false

    func validate() throws {
        if path.isEmpty { throw ValidationError("the path is empty; give a model directory, checkpoint or weights file.") }
    }

    /// Exits non-zero (after the report) when the weights do not load strictly or hold NaN/∞.
    func run() throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw PipelineError.missingFile(
                path: path, hint: "Pass a diffusers model directory, a swift-ddpm checkpoint or a weights file.")
        }
        if isDirectory.boolValue {
            let config = try ModelDirectory.configuration(at: url)
            print("diffusers UNet2DModel directory: \(url.path)")
            describe(config)
            if let scheduler = try ModelDirectory.scheduler(at: url) {
                print(
                    "scheduler: \(scheduler.className), T = \(scheduler.numTrainTimesteps), \(scheduler.betaSchedule) β \(scheduler.betaStart)…\(scheduler.betaEnd), variance \(scheduler.varianceType), clip_sample \(scheduler.clipSample), prediction \(scheduler.predictionType)"
                )
            }
            if let weights = try? ModelDirectory.weightsFile(at: url) {
                let state = try ModelDirectory.stateDictionary(from: weights)
                summarize(state, source: weights.lastPathComponent)
                var failed = !reportNonFinite(state)
                do {
                    try UNet(config).load(state)
                    print("weights load strictly: yes")
                } catch {
                    print("weights load strictly: NO\n\(error)")
                    failed = true
                }
                if failed { throw ExitCode.failure }
            } else {
                print("weights: none (configuration only)")
            }
        } else if let contents = try? Checkpoint.load(url) {
            print("swift-ddpm training checkpoint at step \(contents.step)")
            describe(contents.unet)
            let t = contents.training
            print(
                "training: batch \(t.batchSize), lr \(t.learningRate), warm-up \(t.warmupSteps), EMA \(t.emaDecay)\(t.emaWarmup ? " (warm-up)" : ""), clip \(t.gradientClip), loss \(t.loss.rawValue), seed \(t.seed)"
            )
        } else {
            let state = try ModelDirectory.stateDictionary(from: url)
            summarize(state, source: url.lastPathComponent)
            if !reportNonFinite(state) { throw ExitCode.failure }
        }
    }

    /// Prints the tensors holding NaN or ∞; false when there are some and they are not allowed.
    private func reportNonFinite(_ state: [String: Tensor]) -> Bool {
        let bad = ModelDirectory.nonFiniteTensors(in: state)
        guard !bad.isEmpty else { return true }
        print(
            "non-finite weights: \(bad.count) tensor(s) hold NaN or infinite values\(allowNonfinite ? " (allowed by --allow-nonfinite)" : "")"
        )
        for (key, count) in bad.prefix(10) { print("  \(key): \(count) of \(state[key]!.scalarCount) values") }
        if bad.count > 10 { print("  … and \(bad.count - 10) more") }
        return allowNonfinite
    }

    private func describe(_ c: UNetConfiguration) {
        print(
            "configuration: in \(c.inChannels), out \(c.outChannels), size \(c.sampleSize.map(String.init) ?? "?"), channels \(c.blockOutChannels), \(c.layersPerBlock) blocks per level"
        )
        print("  down \(c.downBlockTypes)\n  up   \(c.upBlockTypes)")
        print(
            "  GroupNorm \(c.normNumGroups) groups eps \(c.normEps), attention heads: \(c.attentionHeadDim.map { "dim \($0)" } ?? "one"), dropout \(c.dropout), embedding flip_sin_to_cos \(c.flipSinToCos) freq_shift \(c.freqShift), downsample_padding \(c.downsamplePadding)"
        )
        if c.isClassConditional {
            let names = (0..<min(c.classCount ?? 0, 20)).map { "\($0) \(c.className($0))" }.joined(separator: ", ")
            print(
                "  class-conditional: class_embed_type \(c.classEmbedType ?? "null (table)"), num_class_embeds \(c.numClassEmbeds.map(String.init) ?? "-"), null label \(c.nullClassLabel.map(String.init) ?? "none (no guidance)")\(names.isEmpty ? "" : "; classes \(names)")"
            )
        }
        if let unet = try? UNet(c) { print("parameters: \(unet.parameterCount.formatted()) (from the configuration)") }
    }

    private func summarize(_ state: [String: Tensor], source: String) {
        let total = state.values.reduce(0) { $0 + $1.scalarCount }
        print("\(source): \(state.count) tensors, \(total.formatted()) values")
        var groups: [String: (count: Int, values: Int)] = [:]
        for (key, t) in state {
            let top = key.split(separator: ".").prefix(2).joined(separator: ".")
            groups[top, default: (0, 0)].count += 1
            groups[top, default: (0, 0)].values += t.scalarCount
        }
        for (key, g) in groups.sorted(by: { $0.key < $1.key }) { print("  \(key): \(g.count) tensors, \(g.values.formatted()) values") }
    }
}
