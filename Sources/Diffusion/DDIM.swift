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
public struct DDIM: Sendable {
    /// The trained chain: schedule, parameterisation, `clipDenoised` and the model-timestep convention.
    public let model: DDPM
    /// Paper timesteps of `model`'s chain, descending.
    public let timesteps: [Int]
    public let eta: Double
    public let setAlphaToOne: Bool

    public init(_ model: DDPM, steps: Int, spacing: TimestepSpacing = .leading, eta: Double = 0,
                setAlphaToOne: Bool = true) throws(DiffusionError) {
        guard eta >= 0 else { throw .negativeEta(eta) }
        self.model = model
        self.timesteps = try spacing.timesteps(steps: steps, timestepCount: model.schedule.timestepCount)
        self.eta = eta
        self.setAlphaToOne = setAlphaToOne
    }

    /// ᾱ of the timestep after step `index` (the one x_prev belongs to).
    func previousAlphaBar(afterStep index: Int) -> Double {
        if index + 1 < timesteps.count { return model.schedule.alphaBar(timesteps[index + 1]) }
        return setAlphaToOne ? 1 : model.schedule.alphaBar(1)
    }

    /// One DDIM update from x_t at `timesteps[index]`; `noise` is z (unused when η = 0). With
    /// `clipDenoised` x̂₀ is clipped and ε̂ recomputed from it (diffusers' `use_clipped_model_output`).
    public func step(_ xt: Tensor, index: Int, modelOutput: Tensor, noise z: Tensor) -> (previous: Tensor, predictedX0: Tensor) {
        let schedule = model.schedule, t = timesteps[index], batch = Array(repeating: t, count: xt.shape[0])
        let channels = xt.shape[1]
        let output = model.variance == .learnedRange ? modelOutput.sliced(alongAxis: 1, 0..<channels) : modelOutput
        var (noise, x0) = model.parameterization.noiseAndX0(from: output, xt: xt, at: batch, schedule: schedule)
        if model.clipDenoised {
            x0 = x0.clamped(lower: -1, upper: 1)
            noise = schedule.noise(fromX0: x0, xt: xt, at: batch)
        }
        let alphaBar = schedule.alphaBar(t), alphaBarPrevious = previousAlphaBar(afterStep: index)
        let sigma = eta * ((1 - alphaBarPrevious) / (1 - alphaBar)).squareRoot()
            * (1 - alphaBar / alphaBarPrevious).squareRoot()                                     // eq. 16
        var previous = Float(alphaBarPrevious.squareRoot()) * x0                                 // "predicted x₀"
            + Float(max(0, 1 - alphaBarPrevious - sigma * sigma).squareRoot()) * noise           // "direction to x_t"
        if sigma > 0 { previous = previous + Float(sigma) * z }                                  // random noise
        return (previous, x0)
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
