import Foundation
import Tensors

// The variational bound L = L_T + Σ_{t>1} L_{t−1} + L_0 (Ho et al. eq. 5), its use as a
// likelihood in bits/dim (Table 2), and the hybrid loss for a learned variance (Nichol & Dhariwal).

/// KL(N(μ₁, e^{ℓ₁}) ‖ N(μ₂, e^{ℓ₂})) elementwise, in nats: ½(−1 + ℓ₂ − ℓ₁ + e^{ℓ₁−ℓ₂} + (μ₁ − μ₂)² e^{−ℓ₂}).
public func gaussianKL(meanQ: Tensor, logVarianceQ: Tensor, meanP: Tensor, logVarianceP: Tensor) -> Tensor {
    0.5
        * (-1 + logVarianceP - logVarianceQ + (logVarianceQ - logVarianceP).exp()
            + (meanQ - meanP).squared() * (-logVarianceP).exp())
}

/// log p(x₀ | μ, σ²) of the discretised Gaussian decoder (eq. 13), elementwise, in nats: the
/// N(μ, σ²) mass of the bin [x₀ − 1/255, x₀ + 1/255], with the edge bins (x₀ = ±1) reaching ±∞.
/// `x0` holds pixel values {0,…,255} scaled to [−1, 1]. Probabilities are floored at 1e-12.
public func discretizedGaussianLogLikelihood(_ x0: Tensor, mean: Tensor, logVariance: Tensor) -> Tensor {
    let inverseScale = (logVariance * -0.5).exp()
    func cdf(_ z: Tensor) -> Tensor { 0.5 * (1 + (z * Float(1 / 2.0.squareRoot())).erf()) }  // Φ
    let cdfUpper = cdf((x0 - mean + Float(1.0 / 255)) * inverseScale)
    let cdfLower = cdf((x0 - mean - Float(1.0 / 255)) * inverseScale)
    let floor: Float = 1e-12
    let logLowestBin = cdfUpper.clamped(lower: floor, upper: 1).log()  // x₀ = −1: Φ(upper)
    let logHighestBin = (1 - cdfLower).clamped(lower: floor, upper: 1).log()  // x₀ = +1: 1 − Φ(lower)
    let logBin = (cdfUpper - cdfLower).clamped(lower: floor, upper: 1).log()
    let isLowest = Tensor(shape: x0.shape, scalars: x0.scalars.map { $0 < -0.999 ? 1 : 0 })
    let isHighest = Tensor(shape: x0.shape, scalars: x0.scalars.map { $0 > 0.999 ? 1 : 0 })
    return isLowest * logLowestBin + isHighest * logHighestBin + (1 - isLowest - isHighest) * logBin
}

/// Mean over all but the first axis, divided by ln 2: nats per sample → bits/dim, `[N]`.
func bitsPerDimension(_ nats: Tensor) -> Tensor {
    nats.mean(alongAxes: Array(1..<nats.rank)) * Float(1 / Foundation.log(2.0))
}

/// The negative log-likelihood bound over the full chain, in bits/dim (Ho et al. Table 2, §4.3).
public struct LikelihoodBound: Sendable {
    /// L_T + Σ L_{t−1} + L_0, per sample.
    public let total: [Double]
    /// L_T = KL(q(x_T | x₀) ‖ N(0, I)), per sample.
    public let prior: [Double]
    /// `terms[t − 1]` is the batch mean of the term at paper timestep t of the chain: L_0
    /// (the decoder, −log p_θ(x₀ | x₁)) at t = 1, L_{t−1} = KL(q(x_{t−1} | x_t, x₀) ‖ p_θ(x_{t−1} | x_t)) above.
    public let terms: [Double]
    /// `distortion[t − 1]` is the batch mean of ‖x₀ − x̂₀(x_t)‖²/D, x̂₀ predicted from the x_t drawn at
    /// paper timestep t, in [−1, 1] units (§4.3's distortion is its root, times 127.5).
    public let distortion: [Double]

    /// The batch mean of `total`.
    public var mean: Double { total.reduce(0, +) / Double(total.count) }
}

extension DDPM {
    /// L_T in bits/dim, `[N]`: q(x_T | x₀) = N(√ᾱ_T x₀, (1 − ᾱ_T) I) against N(0, I). No parameters.
    public func priorTerm(_ x0: Tensor) -> Tensor {
        let T = [Int](repeating: schedule.timestepCount, count: x0.shape[0])
        let logVariance = schedule.coefficient({ Foundation.log(1 - self.schedule.alphaBar($0)) }, at: T, like: x0)
        let kl = gaussianKL(
            meanQ: schedule.coefficient(schedule.sqrtAlphaBar, at: T, like: x0) * x0,
            logVarianceQ: logVariance, meanP: .zeros(x0.shape), logVarianceP: .zeros(logVariance.shape))
        return bitsPerDimension(kl)
    }

    /// The bound's term at paper timesteps `t` (one per sample) in bits/dim, `[N]`: the decoder NLL
    /// −log p_θ(x₀ | x₁) (eq. 13) where t = 1, KL(q(x_{t−1} | x_t, x₀) ‖ p_θ(x_{t−1} | x_t)) elsewhere.
    public func variationalBoundTerm(_ x0: Tensor, xt: Tensor, at t: [Int], modelOutput: Tensor) -> Tensor {
        variationalBoundTerm(x0, xt: xt, at: t, reverse: reverseDistribution(xt, at: t, modelOutput: modelOutput))
    }

    func variationalBoundTerm(
        _ x0: Tensor, xt: Tensor, at t: [Int],
        reverse p: (mean: Tensor, logVariance: Tensor, predictedX0: Tensor)
    ) -> Tensor {
        let q = posterior(x0: x0, xt: xt, at: t)
        let qLogVariance = schedule.coefficient(schedule.logBetaTildeClipped, at: t, like: x0)
        let kl = bitsPerDimension(gaussianKL(meanQ: q.mean, logVarianceQ: qLogVariance, meanP: p.mean, logVarianceP: p.logVariance))
        let decoder = bitsPerDimension(-discretizedGaussianLogLikelihood(x0, mean: p.mean, logVariance: p.logVariance))
        let isFirst = Tensor(shape: [t.count], scalars: t.map { $0 == 1 ? 1 : 0 })
        return isFirst * decoder + (1 - isFirst) * kl
    }

    /// The bound over the whole chain for `x0` (`[N, C, H, W]` in [−1, 1] on the 8-bit grid), one
    /// draw of x_t ~ q(x_t | x₀) per timestep, in bits/dim (the original code's `calc_bpd_loop`).
    /// T network evaluations; `onTimestep(t)` runs after each (progress reporting).
    public func likelihoodBound(
        _ x0: Tensor, using rng: inout SeededGenerator, predictNoise: NoisePredictor,
        onTimestep: (Int) -> Void = { _ in }
    ) -> LikelihoodBound {
        withoutGradients {
            let n = x0.shape[0]
            let prior = priorTerm(x0).scalars.map(Double.init)
            var total = prior
            var terms = [Double](repeating: 0, count: schedule.timestepCount)
            var distortion = terms
            for t in stride(from: schedule.timestepCount, through: 1, by: -1) {
                let batch = [Int](repeating: t, count: n)
                let xt = noised(x0, at: batch, noise: .randomNormal(x0.shape, using: &rng))
                let p = reverseDistribution(xt, at: batch, modelOutput: predict(predictNoise, xt, at: batch))
                let values = variationalBoundTerm(x0, xt: xt, at: batch, reverse: p).scalars.map(Double.init)
                for i in 0..<n { total[i] += values[i] }
                terms[t - 1] = values.reduce(0, +) / Double(n)
                distortion[t - 1] = Double((x0 - p.predictedX0).squared().mean().scalar)
                onTimestep(t)
            }
            return LikelihoodBound(total: total, prior: prior, terms: terms, distortion: distortion)
        }
    }

    // MARK: - Hybrid loss (Nichol & Dhariwal 2021 §3.1)

    /// L_hybrid = L_simple + λ · T · L_{t−1} at given timesteps and noise: the bound's term trains
    /// only the variance (the mean half of the output is frozen, a stop-gradient), the T puts the
    /// sampled term on the scale of the whole bound. λ = 0.001. Needs `.learnedRange`.
    public func hybridLoss(
        _ x0: Tensor, at t: [Int], noise: Tensor, lambda: Double = 0.001,
        predictNoise: NoisePredictor
    ) -> Tensor {
        precondition(variance == .learnedRange, "[hybridLoss] needs a learned variance (.learnedRange), got \(variance)")
        let xt = noised(x0, at: t, noise: noise)
        let output = predict(predictNoise, xt, at: t)
        let channels = x0.shape[1]
        let prediction = output.sliced(alongAxis: 1, 0..<channels)
        let simple = meanSquaredError(prediction, parameterization.target(x0: x0, noise: noise, at: t, schedule: schedule))
        let frozen = Tensor.concatenated([prediction.detached(), output.sliced(alongAxis: 1, channels..<(2 * channels))], alongAxis: 1)
        let bound = variationalBoundTerm(x0, xt: xt, at: t, modelOutput: frozen).mean()
        return simple + Float(lambda * Double(schedule.timestepCount)) * bound
    }

    /// L_hybrid with t ~ U{1…T} and ε ~ N(0, I) drawn from `rng` (Algorithm 1 with the hybrid loss).
    public func hybridLoss(
        _ x0: Tensor, using rng: inout SeededGenerator, lambda: Double = 0.001,
        predictNoise: NoisePredictor
    ) -> Tensor {
        let t = rng.integers(x0.shape[0], in: 1...schedule.timestepCount)
        let noise = Tensor.randomNormal(x0.shape, using: &rng)
        return hybridLoss(x0, at: t, noise: noise, lambda: lambda, predictNoise: predictNoise)
    }
}
