import Foundation
import Tensors

/// How β_1…β_T are chosen.
public enum BetaSchedule: Sendable, Equatable {
    /// β_t linear from `start` to `end` (Ho et al. §4: 1e-4 to 0.02 for T = 1000), computed in
    /// Float64 as `numpy.linspace` does in the original code. Not rescaled for other T.
    case linear(start: Double = 1e-4, end: Double = 0.02)
    /// Nichol & Dhariwal 2021 eq. 17: ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2),
    /// β_t = min(1 − ᾱ_t/ᾱ_{t−1}, `maxBeta`); diffusers calls it `squaredcos_cap_v2`.
    case cosine(offset: Double = 0.008, maxBeta: Double = 0.999)
    /// β_1…β_T given explicitly.
    case custom([Double])

    /// The paper's schedule.
    public static let paper = BetaSchedule.linear()
}

/// The forward process variances β_t and every quantity derived from them, all in Float64.
///
/// **Timesteps are the paper's: `t` runs over `1...T`.** ᾱ_0 = 1 by definition (an empty product),
/// so `alphaBarPrevious(1) == 1`. The 0-based index a network sees is made in one place only,
/// `DDPM.modelTimesteps(_:)` (see README.md).
///
/// [1]: Ho, Jain & Abbeel 2020, arXiv:2006.11239, §2 and eqs. 4, 6, 7.
public struct NoiseSchedule: Sendable, Equatable {
    /// β_1…β_T, stored at offsets 0..<T.
    public let betas: [Double]
    /// ᾱ_1…ᾱ_T, stored at offsets 0..<T.
    public let alphaBars: [Double]

    /// T, the length of the chain.
    public var timestepCount: Int { betas.count }

    public init(_ kind: BetaSchedule = .paper, timestepCount: Int = 1000) throws(DiffusionError) {
        guard timestepCount >= 1 else { throw .timestepCountTooSmall(timestepCount) }
        let count = timestepCount
        switch kind {
        case .linear(let start, let end):
            guard start > 0, start <= end, end < 1 else { throw .invalidLinearSchedule(start: start, end: end) }
            // numpy.linspace: start + i·step, with the last value exactly `end`.
            let step = count > 1 ? (end - start) / Double(count - 1) : 0
            try self.init(betas: (0..<count).map { $0 == count - 1 && count > 1 ? end : start + Double($0) * step })
        case .cosine(let s, let maxBeta):
            func f(_ t: Int) -> Double {
                let c = Foundation.cos((Double(t) / Double(count) + s) / (1 + s) * Double.pi / 2)
                return c * c
            }
            try self.init(betas: (1...count).map { t in min(1 - f(t) / f(t - 1), maxBeta) })
        case .custom(let betas):
            guard !betas.isEmpty else { throw .timestepCountTooSmall(0) }
            try self.init(betas: betas)
        }
    }

    /// A schedule from explicit β_1…β_T, each in (0, 1).
    public init(betas: [Double]) throws(DiffusionError) {
        guard !betas.isEmpty else { throw .timestepCountTooSmall(0) }
        for (offset, beta) in betas.enumerated() where !(beta > 0 && beta < 1) {
            throw .betaOutOfRange(t: offset + 1, beta: beta)
        }
        self.betas = betas
        var product = 1.0
        self.alphaBars = betas.map { beta in
            product *= 1 - beta
            return product
        }
    }

    @inline(__always)
    private func checked(_ t: Int) -> Int {
        precondition(t >= 1 && t <= timestepCount, "[NoiseSchedule] paper timestep \(t) is outside 1...\(timestepCount)")
        return t - 1
    }

    // MARK: - Forward process q(x_t | x_{t−1}) and q(x_t | x₀) (eqs. 2, 4)

    /// β_t.
    public func beta(_ t: Int) -> Double { betas[checked(t)] }
    /// α_t = 1 − β_t.
    public func alpha(_ t: Int) -> Double { 1 - beta(t) }
    /// ᾱ_t = ∏_{s=1}^{t} α_s; ᾱ_0 = 1.
    public func alphaBar(_ t: Int) -> Double { t == 0 ? 1 : alphaBars[checked(t)] }
    /// ᾱ_{t−1}, with ᾱ_0 = 1.
    public func alphaBarPrevious(_ t: Int) -> Double { alphaBar(t - 1) }
    /// √ᾱ_t, the signal scale of q(x_t | x₀).
    public func sqrtAlphaBar(_ t: Int) -> Double { alphaBar(t).squareRoot() }
    /// √(1 − ᾱ_t), the noise scale of q(x_t | x₀).
    public func sqrtOneMinusAlphaBar(_ t: Int) -> Double { (1 - alphaBar(t)).squareRoot() }
    /// √(1/ᾱ_t), for x̂₀ (eq. 15).
    public func sqrtRecipAlphaBar(_ t: Int) -> Double { (1 / alphaBar(t)).squareRoot() }
    /// √(1/ᾱ_t − 1), for x̂₀ (eq. 15).
    public func sqrtRecipAlphaBarMinusOne(_ t: Int) -> Double { (1 / alphaBar(t) - 1).squareRoot() }

    // MARK: - Posterior q(x_{t−1} | x_t, x₀) (eqs. 6, 7)

    /// β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t, the posterior variance; β̃_1 = 0.
    public func betaTilde(_ t: Int) -> Double { (1 - alphaBarPrevious(t)) / (1 - alphaBar(t)) * beta(t) }

    /// log β̃_t with β̃_1 (= 0) replaced by β̃_2, as the original code does so the log is finite.
    /// With T = 1 there is no β̃_2 and β_1 is used.
    public func logBetaTildeClipped(_ t: Int) -> Double {
        if t == 1 { return Foundation.log(timestepCount > 1 ? betaTilde(2) : beta(1)) }
        return Foundation.log(betaTilde(t))
    }

    /// μ̃_t's coefficient of x₀: √ᾱ_{t−1} · β_t / (1 − ᾱ_t) (eq. 7).
    public func posteriorMeanCoefficientX0(_ t: Int) -> Double {
        alphaBarPrevious(t).squareRoot() * beta(t) / (1 - alphaBar(t))
    }

    /// μ̃_t's coefficient of x_t: √α_t · (1 − ᾱ_{t−1}) / (1 − ᾱ_t) (eq. 7).
    public func posteriorMeanCoefficientXt(_ t: Int) -> Double {
        alpha(t).squareRoot() * (1 - alphaBarPrevious(t)) / (1 - alphaBar(t))
    }
}

extension NoiseSchedule {
    /// A per-sample coefficient as a `[N, 1, 1, …]` tensor that broadcasts against `x` (`[N, …]`).
    func coefficient(_ value: (Int) -> Double, at t: [Int], like x: Tensor) -> Tensor {
        precondition(t.count == x.shape[0], "[NoiseSchedule] \(t.count) timesteps for a batch of \(x.shape[0])")
        return perSample(t.map { Float(value($0)) }, like: x)
    }
}

/// Per-sample values as a `[N, 1, 1, …]` tensor that broadcasts against `x` (`[N, …]`).
func perSample(_ values: [Float], like x: Tensor) -> Tensor {
    Tensor(shape: [values.count] + Array(repeating: 1, count: x.rank - 1), scalars: values)
}
