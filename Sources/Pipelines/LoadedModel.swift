import Foundation
import Models

/// A U-Net with the scheduler configuration it samples with, from a diffusers model directory, a
/// swift-ddpm checkpoint, or (with no path) the shipped Fashion-MNIST model.
public struct LoadedModel {
    public let unet: UNet
    public var scheduler: SchedulerConfiguration
    /// Where it came from, for headers and metadata.
    public let source: String

    /// Loads `path` (nil: the shipped model). A checkpoint gives its EMA weights unless `raw`, with
    /// the paper's sampling settings (σ² = β, clipping), learned variance for a hybrid-loss run.
    public init(_ path: String?, raw: Bool = false) throws(PipelineError) {
        guard let path else {
            guard let directory = LoadedModel.shippedModelDirectory() else {
                throw .missingFile(
                    path: "pretrained/fashion-mnist",
                    hint:
                        "No --model was given and the shipped model was not found; pass a diffusers directory or checkpoint, or set DDPM_PRETRAINED."
                )
            }
            self.init(
                unet: try ModelDirectory.loadUNet(from: directory), scheduler: try ModelDirectory.scheduler(at: directory) ?? .paper,
                source: directory.path)
            return
        }
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .missingFile(path: path, hint: "Pass a diffusers model directory or a swift-ddpm checkpoint (.safetensors).")
        }
        if isDirectory.boolValue {
            self.init(
                unet: try ModelDirectory.loadUNet(from: url), scheduler: try ModelDirectory.scheduler(at: url) ?? .paper, source: url.path)
            return
        }
        let contents = try Checkpoint.load(url)
        var scheduler = SchedulerConfiguration.paper
        if contents.training.loss == .hybrid { scheduler.varianceType = "learned_range" }  // the network predicts its variance
        self.init(
            unet: try contents.model(ema: !raw), scheduler: scheduler,
            source: "\(url.path) (step \(contents.step), \(raw ? "raw" : "EMA") weights)")
    }

    public init(unet: UNet, scheduler: SchedulerConfiguration, source: String) {
        (self.unet, self.scheduler, self.source) = (unet, scheduler, source)
    }

    /// Where the shipped Fashion-MNIST model lives: $DDPM_PRETRAINED, else `pretrained/fashion-mnist`
    /// in the working directory or beside the package that built the running binary.
    public static func shippedModelDirectory() -> URL? {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["DDPM_PRETRAINED"] { candidates.append(URL(fileURLWithPath: env)) }
        candidates.append(URL(fileURLWithPath: "pretrained/fashion-mnist"))
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(exe.deletingLastPathComponent().appendingPathComponent("../../../pretrained/fashion-mnist").standardized)
        return candidates.first(where: ModelDirectory.isModelDirectory)
    }

    /// Replaces the scheduler configuration by `other` (e.g. `--scheduler-config`), refusing one
    /// whose training chain or prediction type differs from the model's.
    public mutating func useScheduler(_ other: SchedulerConfiguration) throws(PipelineError) {
        let pairs: [(String, String, String)] = [
            ("num_train_timesteps", "\(scheduler.numTrainTimesteps)", "\(other.numTrainTimesteps)"),
            ("prediction_type", scheduler.predictionType, other.predictionType),
            ("beta_schedule", scheduler.betaSchedule, other.betaSchedule),
            ("beta_start", "\(scheduler.betaStart)", "\(other.betaStart)"),
            ("beta_end", "\(scheduler.betaEnd)", "\(other.betaEnd)"),
        ]
        for (key, model, given) in pairs where model != given { throw .schedulerMismatch(key: key, model: model, given: given) }
        var replaced = other
        if scheduler.varianceType == "learned_range" && other.options["variance_type"] == nil { replaced.varianceType = "learned_range" }
        scheduler = replaced
    }

    /// The sampling pipeline of this model and its scheduler configuration.
    public func pipeline() throws(PipelineError) -> SamplingPipeline {
        try SamplingPipeline(unet: unet, configuration: scheduler)
    }
}

extension SchedulerConfiguration {
    /// Reads a `scheduler_config.json`.
    public static func read(contentsOf url: URL) throws(PipelineError) -> SchedulerConfiguration {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .missingFile(path: url.path, hint: "Pass a diffusers scheduler_config.json.")
        }
        do { return try JSONDecoder().decode(SchedulerConfiguration.self, from: replacingNonFiniteNumbers(data)) } catch {
            throw .unreadable(path: url.path, reason: "not a diffusers scheduler_config.json (\(error))")
        }
    }
}

/// diffusers writes Python's `-Infinity` / `Infinity` / `NaN` (e.g. lambda_min_clipped's default),
/// which JSON does not allow; outside strings they become `null`, which every reader takes as
/// "the class's default" (−∞ for lambda_min_clipped). (Foundation's JSON5 mode would read them,
/// but it traps on some invalid UTF-8, which the fuzzer found.)
func replacingNonFiniteNumbers(_ data: Data) -> Data {
    let bytes = [UInt8](data)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var (i, inString, escaped) = (0, false, false)
    let tokens: [[UInt8]] = [Array("-Infinity".utf8), Array("Infinity".utf8), Array("NaN".utf8)]
    outer: while i < bytes.count {
        let b = bytes[i]
        if inString {
            if escaped {
                escaped = false
            } else if b == UInt8(ascii: "\\") {
                escaped = true
            } else if b == UInt8(ascii: "\"") {
                inString = false
            }
        } else if b == UInt8(ascii: "\"") {
            inString = true
        } else {
            for token in tokens where bytes[i...].starts(with: token) {
                out += Array("null".utf8)
                i += token.count
                continue outer
            }
        }
        out.append(b)
        i += 1
    }
    return Data(out)
}
