import Foundation
import Tensors

/// The noise levels that σ-parameterised solvers (DPM-Solver, UniPC, DEIS, Euler, Heun) work with,
/// as diffusers derives them from a trained chain. In the variance-exploding view
/// x̃ = x_t / √ᾱ_t the chain is x̃ = x₀ + σ ε with
///
///     σ_i = √((1 − ᾱ_i) / ᾱ_i)      for model timestep i ∈ 0..<T (paper t = i + 1),
///
/// and the variance-preserving coefficients of x_t = α x₀ + σ_VP ε are α = 1/√(σ² + 1),
/// σ_VP = σ α; the log signal-to-noise ratio is λ = log α − log σ_VP (Lu et al. 2022, eq. 3).
public struct DiscreteSigmas: Sendable, Equatable {
    /// σ at model timesteps 0..<T, ascending.
    public let values: [Double]

    public init(_ schedule: NoiseSchedule) {
        values = schedule.alphaBars.map { ((1 - $0) / $0).squareRoot() }
    }

    public var count: Int { values.count }

    /// σ at a fractional model timestep: linear interpolation between integer timesteps, clamped at
    /// both ends (`numpy.interp(t, arange(T), sigmas)`, as diffusers does).
    public func interpolated(at t: Double) -> Double {
        guard t > 0 else { return values[0] }
        guard t < Double(count - 1) else { return values[count - 1] }
        let low = Int(t.rounded(.down))
        let w = t - Double(low)
        return (1 - w) * values[low] + w * values[low + 1]
    }

    /// The fractional model timestep of noise level σ, interpolating linearly in log σ between the
    /// two neighbouring integer timesteps and clamped to 0…T−1 (diffusers' `_sigma_to_t`).
    public func timestep(forSigma sigma: Double) -> Double {
        let logSigma = Foundation.log(max(sigma, 1e-10))
        let logValues = values.map { Foundation.log($0) }
        // The last index whose log σ is ≤ log σ (0 if none), at most T − 2.
        var low = 0
        for (i, v) in logValues.enumerated() where v <= logSigma { low = i }
        low = min(low, count - 2)
        let (lo, hi) = (logValues[low], logValues[low + 1])
        let w = min(max((lo - logSigma) / (lo - hi), 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }

    /// Karras et al. 2022 (eq. 5) noise levels: `count` values from `maximum` down to `minimum`,
    /// evenly spaced in σ^(1/ρ) (diffusers' `_convert_to_karras`, ρ = 7).
    public static func karras(count: Int, minimum: Double, maximum: Double, rho: Double = 7) -> [Double] {
        let (minInv, maxInv) = (Foundation.pow(minimum, 1 / rho), Foundation.pow(maximum, 1 / rho))
        return (0..<count).map { i in
            let ramp = count > 1 ? Double(i) / Double(count - 1) : 0
            return Foundation.pow(maxInv + ramp * (minInv - maxInv), rho)
        }
    }

    /// The variance-preserving (α, σ_VP) of a variance-exploding σ (diffusers' `_sigma_to_alpha_sigma_t`).
    public static func alphaSigma(_ sigma: Double) -> (alpha: Double, sigma: Double) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    /// λ = log α − log σ_VP = −log σ, the half log-SNR (Lu et al. 2022).
    public static func lambda(_ sigma: Double) -> Double {
        let (alpha, sigmaVP) = alphaSigma(sigma)
        return Foundation.log(alpha) - Foundation.log(sigmaVP)
    }
}

extension Parameterization {
    /// x̂₀ from the network's output at x_t = α x₀ + σ ε (VP coefficients given as numbers).
    public func predictedX0(from output: Tensor, sample xt: Tensor, alpha: Double, sigma: Double) -> Tensor {
        switch self {
        case .noise: (xt - Float(sigma) * output) / Float(alpha)
        case .x0: output
        case .velocity: Float(alpha) * xt - Float(sigma) * output
        }
    }

    /// ε̂ from the network's output at x_t = α x₀ + σ ε.
    public func predictedNoise(from output: Tensor, sample xt: Tensor, alpha: Double, sigma: Double) -> Tensor {
        switch self {
        case .noise: output
        case .x0: (xt - Float(alpha) * output) / Float(sigma)
        case .velocity: Float(alpha) * output + Float(sigma) * xt
        }
    }
}

/// Dynamic thresholding (Saharia et al. 2022, Imagen §2.3; diffusers' `_threshold_sample`): per
/// sample, s = the `ratio` quantile of |x̂₀| (linear interpolation, as `torch.quantile`), clamped
/// to [1, `maximum`]; x̂₀ is clamped to [−s, s] and divided by s.
public func dynamicallyThresholded(_ x0: Tensor, ratio: Double, maximum: Double) -> Tensor {
    let count = x0.shape[0]
    let size = x0.scalarCount / max(count, 1)
    var values = x0.scalars
    for n in 0..<count {
        let row = values[(n * size)..<((n + 1) * size)]
        let sorted = row.map { abs(Double($0)) }.sorted()
        let position = ratio * Double(size - 1)
        let low = Int(position.rounded(.down))
        let high = min(low + 1, size - 1)
        let quantile = sorted[low] + (position - Double(low)) * (sorted[high] - sorted[low])
        let s = Float(min(max(quantile, 1), maximum))
        for i in (n * size)..<((n + 1) * size) { values[i] = min(max(values[i], -s), s) / s }
    }
    return Tensor(shape: x0.shape, scalars: values)
}
