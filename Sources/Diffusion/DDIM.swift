import Tensors

/// Denoising diffusion implicit models (Song, Meng & Ermon 2021, arXiv:2010.02502): a
/// non-Markovian sampler for a network trained with the DDPM objective, on S ≤ T timesteps.
///
/// With τ the chosen paper timesteps (descending) and ᾱ_prev the ᾱ of the next one (eq. 12):
///
///     x̂₀ = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t
///     σ   = η · √((1 − ᾱ_prev) / (1 − ᾱ_t)) · √(1 − ᾱ_t / ᾱ_prev)                     (eq. 16)
///     x_prev = √ᾱ_prev · x̂₀ + √(1 − ᾱ_prev − σ²) · ε̂ + σ z
///
/// η = 0 is deterministic DDIM; η = 1 has the DDPM posterior variance for each jump. After the
/// last timestep ᾱ_prev is 1 (`setAlphaToOne`, the output is x̂₀) or ᾱ_1 (diffusers'
/// `set_alpha_to_one=False`). ᾱ_prev is always that of the next timestep in the list; diffusers
/// uses t − ⌊T/S⌋ instead, which differs for `linspace` and for S not dividing T.
///
/// With `clipDenoised`, x̂₀ is clipped to [−1, 1]. The direction term then uses the network's ε̂
/// as it is (diffusers' DDIMPipeline default, `use_clipped_model_output=None`), or, with
/// `recomputeNoiseAfterClipping`, ε̂ = (x_t − √ᾱ_t x̂₀) / √(1 − ᾱ_t) from the clipped x̂₀
/// (`use_clipped_model_output=True`, the DDIM authors' code).
public struct DDIM: Sendable {
    /// The trained chain: schedule, parameterisation, `clipDenoised` and the model-timestep convention.
    public let model: DDPM
    /// Paper timesteps of `model`'s chain, descending.
    public let timesteps: [Int]
    public let eta: Double
    public let setAlphaToOne: Bool
    /// With `clipDenoised`: recompute ε̂ from the clipped x̂₀ for the direction term (diffusers'
    /// `use_clipped_model_output=True`). `false` keeps the network's ε̂ (DDIMPipeline's default).
    public var recomputeNoiseAfterClipping: Bool

    public init(
        _ model: DDPM, steps: Int, spacing: TimestepSpacing = .leading, eta: Double = 0,
        setAlphaToOne: Bool = true, recomputeNoiseAfterClipping: Bool = false
    ) throws(DiffusionError) {
        try self.init(
            model, timesteps: spacing.timesteps(steps: steps, timestepCount: model.schedule.timestepCount),
            eta: eta, setAlphaToOne: setAlphaToOne, recomputeNoiseAfterClipping: recomputeNoiseAfterClipping)
    }

    /// DDIM on the given paper timesteps of `model`'s chain (any order; visited descending).
    public init(
        _ model: DDPM, timesteps: [Int], eta: Double = 0, setAlphaToOne: Bool = true,
        recomputeNoiseAfterClipping: Bool = false
    ) throws(DiffusionError) {
        guard eta >= 0 else { throw .negativeEta(eta) }
        let descending = timesteps.sorted(by: >)
        guard !descending.isEmpty, Set(descending).count == descending.count, descending.last! >= 1,
            descending.first! <= model.schedule.timestepCount
        else {
            throw .invalidRespacedTimesteps(timesteps: timesteps, timestepCount: model.schedule.timestepCount)
        }
        self.model = model
        self.timesteps = descending
        self.eta = eta
        self.setAlphaToOne = setAlphaToOne
        self.recomputeNoiseAfterClipping = recomputeNoiseAfterClipping
    }

    /// The same sampler entered at paper timestep `t` (for x_t given at t, e.g. an encoded image):
    /// t itself, then the timesteps of this sampler below t. When t is one of `timesteps` this is
    /// the tail of the run from x_T; from `timesteps[0]` it is the whole run.
    public func startingAt(_ t: Int) throws(DiffusionError) -> DDIM {
        try DDIM(
            model, timesteps: [t] + timesteps.filter { $0 < t }, eta: eta, setAlphaToOne: setAlphaToOne,
            recomputeNoiseAfterClipping: recomputeNoiseAfterClipping)
    }

    /// ᾱ of the timestep after step `index` (the one x_prev belongs to).
    func previousAlphaBar(afterStep index: Int) -> Double {
        if index + 1 < timesteps.count { return model.schedule.alphaBar(timesteps[index + 1]) }
        return setAlphaToOne ? 1 : model.schedule.alphaBar(1)
    }

    /// One DDIM update from x_t at `timesteps[index]`; `noise` is z (unused when η = 0). With
    /// `clipDenoised` x̂₀ is clipped, and ε̂ recomputed from it if `recomputeNoiseAfterClipping`.
    public func step(_ xt: Tensor, index: Int, modelOutput: Tensor, noise z: Tensor) -> (previous: Tensor, predictedX0: Tensor) {
        let schedule = model.schedule
        let t = timesteps[index]
        let batch = Array(repeating: t, count: xt.shape[0])
        let channels = xt.shape[1]
        let output = model.variance == .learnedRange ? modelOutput.sliced(alongAxis: 1, 0..<channels) : modelOutput
        var (noise, x0) = model.parameterization.noiseAndX0(from: output, xt: xt, at: batch, schedule: schedule)
        if model.clipDenoised {
            x0 = x0.clamped(lower: -1, upper: 1)
            if recomputeNoiseAfterClipping { noise = schedule.noise(fromX0: x0, xt: xt, at: batch) }
        }
        let alphaBar = schedule.alphaBar(t)
        let alphaBarPrevious = previousAlphaBar(afterStep: index)
        let sigma =
            eta * ((1 - alphaBarPrevious) / (1 - alphaBar)).squareRoot()
            * (1 - alphaBar / alphaBarPrevious).squareRoot()  // eq. 16
        var previous =
            Float(alphaBarPrevious.squareRoot()) * x0  // "predicted x₀"
            + Float(max(0, 1 - alphaBarPrevious - sigma * sigma).squareRoot()) * noise  // "direction to x_t"
        if sigma > 0 { previous = previous + Float(sigma) * z }  // random noise
        return (previous, x0)
    }

    /// DDIM from x_t given at paper timestep `t` of the training chain: `startingAt(t).sample(from:…)`.
    public func sample(
        from xt: Tensor, startingAt t: Int, using rng: inout SeededGenerator, recordingAt: Set<Int> = [],
        predictNoise: NoisePredictor
    ) throws(DiffusionError) -> SamplingResult {
        try startingAt(t).sample(from: xt, using: &rng, recordingAt: recordingAt, predictNoise: predictNoise)
    }

    /// DDIM sampling from a given x_T (`timesteps[0]`'s x), recording x_t and x̂₀ at the paper
    /// timesteps in `recordingAt`. Draws one z per step when η > 0.
    public func sample(
        from xT: Tensor, using rng: inout SeededGenerator, recordingAt: Set<Int> = [], predictNoise: NoisePredictor
    ) -> SamplingResult {
        var x = xT
        var trajectory: [TrajectoryFrame] = []
        for (index, t) in timesteps.enumerated() {
            let z = eta > 0 ? Tensor.randomNormal(x.shape, using: &rng) : .zeros(x.shape)
            let output = withoutGradients { model.predict(predictNoise, x, at: Array(repeating: t, count: x.shape[0])) }
            let step = withoutGradients { self.step(x, index: index, modelOutput: output, noise: z) }
            let original = model.originalTimesteps?[t - 1] ?? t
            if recordingAt.contains(original) { trajectory.append(TrajectoryFrame(t: original, xt: x, predictedX0: step.predictedX0)) }
            x = step.previous
        }
        return SamplingResult(sample: x, trajectory: trajectory)
    }
}

extension DDIM: Scheduler {
    public var modelTimesteps: [Double] { model.modelTimesteps(timesteps) }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        let z = eta > 0 ? noise() : Tensor.zeros(sample.shape)
        let step = self.step(sample, index: index, modelOutput: modelOutput, noise: z)
        return SchedulerStep(previous: step.previous, predictedX0: step.predictedX0)
    }
}
