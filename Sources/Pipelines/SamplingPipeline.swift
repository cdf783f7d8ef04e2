import Diffusion
import Foundation
import Models
import Tensors

/// Draws samples from a U-Net with any `Scheduler` (Algorithm 2, DDIM or a fast solver), from
/// seeded (or given) x_T, in batches.
public struct SamplingPipeline {
    public let unet: UNet
    /// The trained chain: schedule, parameterisation, variance and clipping.
    public let diffusion: DDPM
    /// The model's scheduler_config.json, from which solvers take their options (`SchedulerFactory`).
    public var configuration: SchedulerConfiguration
    /// Overrides the configuration's `timestep_spacing` when set.
    public var spacing: TimestepSpacing?
    public var setAlphaToOne = true
    /// DDIM with clipping: recompute ε̂ from the clipped x̂₀ (diffusers' `use_clipped_model_output=True`).
    /// The default, false, keeps the network's ε̂ as diffusers' DDIMPipeline does.
    public var recomputeNoiseAfterClipping = false

    public init(unet: UNet, diffusion: DDPM, configuration: SchedulerConfiguration = SchedulerConfiguration()) {
        self.unet = unet
        self.diffusion = diffusion
        self.configuration = configuration
    }

    /// The pipeline a model directory describes: its U-Net and its scheduler_config.json.
    public init(unet: UNet, configuration: SchedulerConfiguration) throws(PipelineError) {
        self.init(unet: unet, diffusion: try configuration.diffusion(), configuration: configuration)
        setAlphaToOne = configuration.setAlphaToOne
    }

    /// The number of network evaluations `sampler` makes per batch (from x_T, or from x_t at
    /// `startingAt`); 0 if the sampler cannot be built.
    public func stepCount(_ sampler: Sampler, startingAt t: Int? = nil) -> Int {
        (try? scheduler(for: sampler, startingAt: t))?.evaluationCount ?? 0
    }

    /// Samples from standard-normal x_T (`[N, C, H, W]`; the scheduler scales it by its
    /// `initNoiseSigma`), recording x_t and x̂₀ where the sampler visits the paper timesteps in
    /// `recordingAt`. `onStep` is called after every network evaluation.
    ///
    /// With `startingAt` t, `xT` is instead x_t at paper timestep t of the training chain (an
    /// encoded image, Ho et al. §4.3): the sampler runs from t, visiting t and then its own
    /// timesteps below t (all of t…1 for Algorithm 2 on all T steps).
    ///
    /// A class-conditional model needs `classes` (one label per image of x_T, and the guidance
    /// scale); every sampler then sees the guided ε̂ through the same `NoisePredictor`.
    public func sample(
        from xT: Tensor, startingAt t: Int? = nil, sampler: Sampler, seed: UInt64, recordingAt: Set<Int> = [],
        classes: ClassConditioning? = nil, onStep: @escaping () -> Void = {}
    ) throws(PipelineError) -> SamplingResult {
        let predictor = try noisePredictor(classes: classes, count: xT.shape[0], onStep: onStep)
        let scheduler = try scheduler(for: sampler, startingAt: t)
        var rng = SeededGenerator(seed: seed)
        // The first evaluation at each recorded paper timestep (Heun and PNDM evaluate some twice).
        var seen = Set<Int>()
        let indices = Set(
            scheduler.modelTimesteps.indices.filter { i in
                let t = Int(scheduler.modelTimesteps[i].rounded()) + 1
                return recordingAt.contains(t) && seen.insert(t).inserted
            })
        return scheduler.sample(from: xT, using: &rng, recordingAt: indices, predictNoise: predictor)
    }

    /// `count` images of class `label` (an index; see `UNetConfiguration.classLabel` for names)
    /// at guidance scale w, from seeded noise: the one-call form of class-conditional sampling.
    public func sample(
        class label: Int, count: Int, guidanceScale: Double = 1, sampler: Sampler, seed: UInt64,
        imageSize: Int? = nil
    ) throws(PipelineError) -> Tensor {
        let size = imageSize ?? unet.configuration.sampleSize ?? 32
        let classes = ClassConditioning(labels: Array(repeating: label, count: count), guidanceScale: guidanceScale)
        return try sample(
            from: initialNoise(count: count, imageSize: size, seed: seed), sampler: sampler, seed: seed &+ 1,
            classes: classes
        ).sample
    }

    /// ε̂ for a batch of `count`: the plain network, or the guided one for a conditional model.
    /// A conditional model without `classes`, or classes for an unconditional one, is refused.
    public func noisePredictor(classes: ClassConditioning?, count: Int, onStep: @escaping () -> Void = {}) throws(PipelineError)
        -> NoisePredictor
    {
        guard let classes else {
            guard !unet.configuration.isClassConditional else {
                throw .classCondition(
                    "this model is class-conditional, so each image needs a class (\(unet.configuration.classCount.map { "0 to \($0 - 1)" } ?? "a label")\(unet.configuration.classNameList)); pass one (guidance scale 0 then gives unconditional samples)"
                )
            }
            return unet.noisePredictor(onCall: onStep)
        }
        try classes.validate(for: unet.configuration)
        guard classes.labels.count == count else {
            throw .classCondition("\(classes.labels.count) class labels for a batch of \(count) images; give one per image")
        }
        return unet.noisePredictor(classes: classes, onCall: onStep)
    }

    /// Standard normal x_T for `count` images of the network's size, seeded.
    public func initialNoise(count: Int, imageSize: Int, seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        return Tensor.randomNormal([count, unet.configuration.inChannels, imageSize, imageSize], using: &rng)
    }

    /// About `count` evenly spaced paper timesteps of the chain `sampler` visits, for Fig. 6-style
    /// process images (always including the first and the last).
    public func recordingTimesteps(_ sampler: Sampler, count: Int = 10) throws(PipelineError) -> Set<Int> {
        let visited = try scheduler(for: sampler).modelTimesteps.map { Int($0.rounded()) + 1 }
        let n = min(count, visited.count)
        guard n > 1 else { return Set(visited.prefix(1)) }
        return Set((0..<n).map { visited[$0 * (visited.count - 1) / (n - 1)] })
    }
}
