import Foundation
import Tensors

/// ε_θ, the network: given x_t (`[N, C, H, W]`) and **0-based model timesteps** (one per sample,
/// in `0..<T` of the training chain; fractional for σ-interpolating schedulers, as in diffusers),
/// returns its output (ε̂, x̂₀ or v per `Parameterization`; with `.learnedRange` variance, `2C`
/// channels). The 0-based index is made only in `DDPM.modelTimesteps(_:)` and by the schedulers'
/// timestep grids (`Schedulers/`).
public typealias NoisePredictor = (_ xt: Tensor, _ modelTimesteps: [Double]) -> Tensor

/// The variance σ_t² of the reverse step p_θ(x_{t−1} | x_t) (Ho et al. §3.2).
public enum ReverseVariance: Sendable, Equatable {
    /// σ_t² = β_t: the paper's CIFAR-10 setting (the original code's `fixedlarge`).
    case fixedLarge
    /// σ_t² = β̃_t: the paper's 256×256 setting (`fixedsmall`).
    case fixedSmall
    /// Learned (Nichol & Dhariwal 2021 eq. 15): the network's extra C channels give v ∈ [−1, 1] and
    /// log σ_t² = (v+1)/2 · log β_t + (1 − (v+1)/2) · log β̃_t.
    case learnedRange
}

/// x_t and the model's x̂₀ at one step of a sampling loop, for visualisation (Ho et al. Fig. 6).
public struct TrajectoryFrame: Sendable {
    /// The paper timestep of the training chain that x_t belongs to.
    public let t: Int
    public let xt: Tensor
    public let predictedX0: Tensor
}

/// A sampler's output: x₀ and the frames recorded on the way.
public struct SamplingResult: Sendable {
    public let sample: Tensor
    public let trajectory: [TrajectoryFrame]
}

/// Denoising diffusion probabilistic model (Ho, Jain & Abbeel 2020, arXiv:2006.11239).
///
/// Timesteps `t` are 1-based, `1...T`, exactly as in the paper's Algorithms 1 and 2. A respaced
/// chain (`Respacing.swift`) is a `DDPM` whose step i stands for training timestep
/// `originalTimesteps[i − 1]`.
public struct DDPM: Sendable {
    public let schedule: NoiseSchedule
    public var parameterization: Parameterization
    public var variance: ReverseVariance
    /// Clip x̂₀ to [−1, 1] and step to the posterior mean μ̃(x̂₀, x_t): what the original code and
    /// diffusers (`clip_sample=True`) do. `false` is the paper's Algorithm 2 (eq. 11).
    public var clipDenoised: Bool
    /// For a respaced chain, the training-chain paper timestep of each step; `nil` means itself.
    public let originalTimesteps: [Int]?

    public init(
        schedule: NoiseSchedule, parameterization: Parameterization = .noise,
        variance: ReverseVariance = .fixedLarge, clipDenoised: Bool = false, originalTimesteps: [Int]? = nil
    ) {
        precondition(
            originalTimesteps.map { $0.count == schedule.timestepCount } ?? true,
            "[DDPM] \(originalTimesteps?.count ?? 0) original timesteps for a chain of \(schedule.timestepCount)")
        self.schedule = schedule
        self.parameterization = parameterization
        self.variance = variance
        self.clipDenoised = clipDenoised
        self.originalTimesteps = originalTimesteps
    }

    // MARK: - The one place paper t (1…T) becomes the network's index (0..<T)

    /// The 0-based timestep the network was trained with for paper timestep `t` of this chain:
    /// `t − 1`, or `originalTimesteps[t − 1] − 1` on a respaced chain (the original code and
    /// diffusers embed 0…999 for the paper's 1…1000).
    public func modelTimesteps(_ t: [Int]) -> [Double] {
        t.map { Double((originalTimesteps?[$0 - 1] ?? $0) - 1) }
    }

    /// Calls the network at paper timesteps `t` and checks the shape of its answer.
    func predict(_ predictNoise: NoisePredictor, _ xt: Tensor, at t: [Int]) -> Tensor {
        let output = predictNoise(xt, modelTimesteps(t))
        var expected = xt.shape
        if variance == .learnedRange { expected[1] *= 2 }
        precondition(output.shape == expected, "[DDPM] the network returned \(output.shape); expected \(expected)")
        return output
    }

    // MARK: - Forward process q(x_t | x₀) (eq. 4)

    /// x_t = √ᾱ_t · x₀ + √(1 − ᾱ_t) · ε (eq. 4), for `x0` and `noise` of shape `[N, …]` and one
    /// paper timestep per sample.
    public func noised(_ x0: Tensor, at t: [Int], noise: Tensor) -> Tensor {
        schedule.coefficient(schedule.sqrtAlphaBar, at: t, like: x0) * x0
            + schedule.coefficient(schedule.sqrtOneMinusAlphaBar, at: t, like: x0) * noise
    }

    /// Posterior q(x_{t−1} | x_t, x₀) = N(μ̃_t, β̃_t I) (eqs. 6, 7). Per-sample variances, `[N]`.
    public func posterior(x0: Tensor, xt: Tensor, at t: [Int]) -> (mean: Tensor, variance: [Double]) {
        let mean =
            schedule.coefficient(schedule.posteriorMeanCoefficientX0, at: t, like: xt) * x0
            + schedule.coefficient(schedule.posteriorMeanCoefficientXt, at: t, like: xt) * xt
        return (mean, t.map(schedule.betaTilde))
    }

    // MARK: - Algorithm 1 — Training

    /// L_simple (eq. 14): ‖ε − ε_θ(√ᾱ_t x₀ + √(1 − ᾱ_t) ε, t)‖², mean over every element.
    public func trainingLoss(_ x0: Tensor, using rng: inout SeededGenerator, predictNoise: NoisePredictor) -> Tensor {
        let t = rng.integers(x0.shape[0], in: 1...schedule.timestepCount)  // 3: t ~ U{1…T}
        let noise = Tensor.randomNormal(x0.shape, using: &rng)  // 4: ε ~ N(0, I)
        return simpleLoss(x0, at: t, noise: noise, predictNoise: predictNoise)  // 5: gradient step on
    }

    /// L_simple at given timesteps and noise. With `.x0` or `.velocity` the target is x₀ or v.
    public func simpleLoss(_ x0: Tensor, at t: [Int], noise: Tensor, predictNoise: NoisePredictor) -> Tensor {
        let output = predict(predictNoise, noised(x0, at: t, noise: noise), at: t)
        let channels = x0.shape[1]
        let prediction = variance == .learnedRange ? output.sliced(alongAxis: 1, 0..<channels) : output
        return meanSquaredError(prediction, parameterization.target(x0: x0, noise: noise, at: t, schedule: schedule))
    }

    // MARK: - Reverse process p_θ(x_{t−1} | x_t) (eqs. 11, 15)

    /// Mean, log-variance (`[N, 1, …]`, or `[N, C, …]` when learned) and x̂₀ of p_θ(x_{t−1} | x_t).
    public func reverseDistribution(
        _ xt: Tensor, at t: [Int], modelOutput: Tensor
    ) -> (mean: Tensor, logVariance: Tensor, predictedX0: Tensor) {
        let channels = xt.shape[1]
        let output = variance == .learnedRange ? modelOutput.sliced(alongAxis: 1, 0..<channels) : modelOutput
        var (noise, x0) = parameterization.noiseAndX0(from: output, xt: xt, at: t, schedule: schedule)
        let mean: Tensor
        if clipDenoised {
            x0 = x0.clamped(lower: -1, upper: 1)  // x̂₀ clipped to [−1, 1]
            mean = posterior(x0: x0, xt: xt, at: t).mean  // μ̃_t(x̂₀, x_t) (eq. 7)
        } else {  // eq. 11:
            let scale = schedule.coefficient({ 1 / self.schedule.alpha($0).squareRoot() }, at: t, like: xt)
            let noiseScale = schedule.coefficient(
                { self.schedule.beta($0) / self.schedule.sqrtOneMinusAlphaBar($0) },
                at: t, like: xt)
            mean = scale * (xt - noiseScale * noise)  // 1/√α_t (x_t − β_t/√(1−ᾱ_t) ε_θ)
        }
        return (mean, logVariance(at: t, modelOutput: modelOutput, channels: channels), x0)
    }

    /// log σ_t². At t = 1 both fixed choices use log β̃_2, as the original code does for the decoder;
    /// the learned range spans log β̃_2 … log β_1 there (improved-diffusion).
    func logVariance(at t: [Int], modelOutput: Tensor, channels: Int) -> Tensor {
        let logBeta: (Int) -> Double = { t in t == 1 ? self.schedule.logBetaTildeClipped(1) : Foundation.log(self.schedule.beta(t)) }
        switch variance {
        case .fixedLarge:
            return schedule.coefficient(logBeta, at: t, like: modelOutput)
        case .fixedSmall:
            return schedule.coefficient(schedule.logBetaTildeClipped, at: t, like: modelOutput)
        case .learnedRange:
            let fraction = (modelOutput.sliced(alongAxis: 1, channels..<(2 * channels)) + 1) * 0.5
            let logBetaUnclipped: (Int) -> Double = { Foundation.log(self.schedule.beta($0)) }  // as improved-diffusion
            return fraction * schedule.coefficient(logBetaUnclipped, at: t, like: modelOutput)
                + (1 - fraction) * schedule.coefficient(schedule.logBetaTildeClipped, at: t, like: modelOutput)
        }
    }

    /// One reverse step x_t → x_{t−1} = μ_θ(x_t, t) + σ_t z (Algorithm 2, line 4), the same `t` for
    /// the whole batch. `noise` is z; no noise is added at t = 1.
    public func reverseStep(_ xt: Tensor, at t: Int, modelOutput: Tensor, noise z: Tensor) -> (previous: Tensor, predictedX0: Tensor) {
        let batch = Array(repeating: t, count: xt.shape[0])
        let p = reverseDistribution(xt, at: batch, modelOutput: modelOutput)
        guard t > 1 else { return (p.mean, p.predictedX0) }
        let sigma: Tensor =
            switch variance {
            case .fixedLarge: schedule.coefficient({ self.schedule.beta($0).squareRoot() }, at: batch, like: xt)
            case .fixedSmall: schedule.coefficient({ self.schedule.betaTilde($0).squareRoot() }, at: batch, like: xt)
            case .learnedRange: (p.logVariance * 0.5).exp()
            }
        return (p.mean + sigma * z, p.predictedX0)
    }

    // MARK: - Algorithm 2 — Sampling

    /// Ancestral sampling from a given x_T, recording x_t and x̂₀ at the paper timesteps in
    /// `recordingAt` (of the training chain). One draw of z per step t > 1, shaped like x_T.
    public func sample(
        from xT: Tensor, using rng: inout SeededGenerator, recordingAt: Set<Int> = [], predictNoise: NoisePredictor
    ) -> SamplingResult {
        sample(from: xT, startingAt: schedule.timestepCount, using: &rng, recordingAt: recordingAt, predictNoise: predictNoise)
    }

    /// Algorithm 2 entered at paper timestep `start` of this chain: x is x_start (e.g. an image
    /// encoded with `noised`, Ho et al. §4.3), and steps t = start, …, 1 run as in the full loop,
    /// drawing the same z per step. `start` = T is the full sampler.
    public func sample(
        from xt: Tensor, startingAt start: Int, using rng: inout SeededGenerator, recordingAt: Set<Int> = [],
        predictNoise: NoisePredictor
    ) -> SamplingResult {
        precondition(
            (1...schedule.timestepCount).contains(start),
            "[DDPM] cannot start sampling at t = \(start); the chain has t = 1…\(schedule.timestepCount)")
        var x = xt  // 1: x_T ~ N(0, I), given
        var trajectory: [TrajectoryFrame] = []
        for t in stride(from: start, through: 1, by: -1) {  // 2: for t = T, …, 1
            let z = t > 1 ? Tensor.randomNormal(x.shape, using: &rng) : .zeros(x.shape)  // 3: z ~ N(0, I) if t > 1
            let output = withoutGradients { predict(predictNoise, x, at: Array(repeating: t, count: x.shape[0])) }
            let step = withoutGradients { reverseStep(x, at: t, modelOutput: output, noise: z) }  // 4: x_{t−1}
            let original = originalTimesteps?[t - 1] ?? t
            if recordingAt.contains(original) { trajectory.append(TrajectoryFrame(t: original, xt: x, predictedX0: step.predictedX0)) }
            x = step.previous
        }
        return SamplingResult(sample: x, trajectory: trajectory)  // 6: return x₀
    }
}
