import Datasets
import Diffusion
import Models

/// What `ddpm train` runs for the options a user leaves out: the paper's recipe (Ho et al. App. B)
/// for the paper's model widths, and for the small presets a short CPU run (shorter warm-up, a
/// faster EMA with warm-up, batch 64), whose departures from the paper are spelt out by
/// `departuresFromPaper` so a command can print them instead of hiding them.
public struct TrainingRecipe: Sendable {
    /// The U-Net: the preset at the data's image size (twice the output channels for the hybrid loss).
    public var model: UNetConfiguration
    /// The training options; a command overrides the ones its user gave.
    public var training: TrainingConfiguration
    /// Whether this is the short-run recipe of a small preset (first level narrower than the paper's 128).
    public let isShortRun: Bool

    /// The preset data with `channels` channels trains by default.
    public static func defaultPreset(channels: Int) -> String { channels == 1 ? "small32-grey" : "cifar10" }

    /// The recipe for `preset` (nil: the default for the data) on images of `channels` × `imageSize`².
    public init(preset: String?, channels: Int, imageSize: Int, loss: TrainingConfiguration.Loss = .simple) throws(PipelineError) {
        let name = preset ?? Self.defaultPreset(channels: channels)
        guard var model = UNetConfiguration.presets[name] else {
            throw .invalid("unknown --preset '\(name)'; choose one of \(UNetConfiguration.presets.keys.sorted().joined(separator: ", ")).")
        }
        guard model.inChannels == channels else {
            throw .mismatch(
                what: "preset \(name): input channels (pick a \(channels == 1 ? "grey" : "colour") preset)",
                expected: "\(channels), the data's", actual: "\(model.inChannels)")
        }
        model.sampleSize = imageSize
        if loss == .hybrid { model.outChannels = 2 * model.inChannels }  // the network predicts its variance too
        let short = model.blockOutChannels[0] < 128
        var training = TrainingConfiguration()
        training.batchSize = short ? 64 : 128
        training.steps = short ? 20_000 : 800_000
        training.learningRate = imageSize >= 256 ? 2e-5 : 2e-4
        training.warmupSteps = short ? 500 : 5000
        training.emaDecay = short ? 0.999 : 0.9999
        training.emaWarmup = short
        training.randomFlip = channels != 1  // digits and garments: flips off by default for grey data
        training.loss = loss
        training.checkpointEvery = short ? 500 : 5000
        training.sampleEvery = short ? 500 : 5000
        training.logEvery = short ? 10 : 100
        (self.model, self.training, isShortRun) = (model, training, short)
    }

    /// Images for `preset`: read at its size (default 32) with its channels (default 3), so a
    /// folder of colour photos meets a grey preset converted rather than refused.
    /// With `labels` (class-conditional training) every image gets its class, or the data is refused
    /// with how to label it (`ImageSource.images`).
    public static func images(from source: ImageSource, preset: String?, strict: Bool, labels: Bool = false) throws -> ImageSet {
        let configuration = preset.flatMap { UNetConfiguration.presets[$0] }
        return try source.images(
            train: true, size: configuration?.sampleSize ?? 32, channels: configuration?.inChannels ?? 3, strict: strict,
            labels: labels)
    }

    /// A class-conditional run on `images`' classes: the model gets their count plus the null
    /// label (diffusers: num_class_embeds = classes + 1) and their names, and each label is
    /// dropped to the null label with probability `classDropout` (Ho & Salimans 2022 use 0.1–0.2).
    public mutating func condition(on images: ImageSet, classDropout: Float = 0.1) {
        model = model.withClasses(images.classCount, names: images.classNames.isEmpty ? nil : images.classNames)
        training.classDropout = classDropout
    }

    /// "conditional on 10 classes (T-shirt/top, …) + the null label 10; class dropout 0.1", or nil.
    public var conditioningNote: String? {
        guard let p = training.classDropout, let count = model.classCount, model.isClassConditional else { return nil }
        let names = (0..<min(count, 10)).map { model.className($0) }
        return
            "conditional on \(count) classes (\(names.joined(separator: ", "))\(count > 10 ? ", …" : "")) + the null label \(count); class dropout \(p)"
    }

    /// The forward process trained: the paper's linear schedule, with learned variance for the hybrid loss.
    public func diffusion() throws(PipelineError) -> DDPM {
        var diffusion: DDPM
        do { diffusion = DDPM(schedule: try NoiseSchedule()) } catch { throw .diffusion(error) }
        if training.loss == .hybrid { diffusion.variance = .learnedRange }
        return diffusion
    }

    /// The short-run recipe's departures from the paper, as the values now set; nil for the paper's widths.
    public var departuresFromPaper: String? {
        guard isShortRun else { return nil }
        let t = training
        return "small preset: warm-up \(t.warmupSteps) steps, EMA \(t.emaDecay)\(t.emaWarmup ? " with warm-up" : ""), batch \(t.batchSize) "
            + "(paper: 5000, 0.9999, 128); flips \(t.randomFlip ? "on" : "off")"
    }
}
