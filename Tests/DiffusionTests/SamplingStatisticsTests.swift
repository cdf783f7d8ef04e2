import Diffusion
import Foundation
import Tensors
import Testing

/// Every sampler, driven by the exact noise predictor for Gaussian data N(μ, s²) per pixel, must
/// return samples with the data's mean and variance. 256 images of 1×4×4 = 4096 values: the
/// standard errors are s/64 ≈ 0.004 for the mean and ≈ 2.2 % for the variance; the seeds are fixed,
/// so each check is deterministic.
///
/// With few steps a sampler is biased even with the exact predictor: for Gaussian data every
/// update is linear, x_prev − μ_prev = g·(x_t − μ_t) + σ z, so the variance it produces follows
/// var ← g²·var + σ², computed here independently of the library. For s = 0.25, 20 DDIM steps
/// give 0.57 s² (their discretisation error, not a bug). Each sampler must match that prediction;
/// those whose prediction is within 5 % of s² must also match the data.
@Suite("Samplers against the exact Gaussian noise predictor")
struct SamplingStatisticsTests {
    static let (mu, s) = (0.1, 0.25)
    static let shape = [256, 1, 4, 4]

    enum Rule: Sendable {
        case ancestral(ReverseVariance)
        case ddim(eta: Double)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let timesteps: [Int]  // paper timesteps visited, descending
        let rule: Rule
        let sample: @Sendable (Tensor, inout SeededGenerator, @escaping NoisePredictor) throws -> Tensor
        var testDescription: String { name }
    }

    static func spaced(_ steps: Int, _ spacing: TimestepSpacing) -> [Int] {
        try! spacing.timesteps(steps: steps, timestepCount: 1000)
    }

    static func ddpm(
        _ name: String, steps: Int = 1000, spacing: TimestepSpacing = .leading, _ variance: ReverseVariance,
        clip: Bool = false
    ) -> Case {
        Case(name: name, timesteps: spaced(steps, spacing), rule: .ancestral(variance)) { x, rng, f in
            var model = DDPM(schedule: paperSchedule, variance: variance, clipDenoised: clip)
            if steps < 1000 { model = try model.respaced(steps: steps, spacing: spacing) }
            return model.sample(from: x, using: &rng, predictNoise: f).sample
        }
    }

    static func ddim(_ name: String, steps: Int, spacing: TimestepSpacing, eta: Double) -> Case {
        Case(name: name, timesteps: spaced(steps, spacing), rule: .ddim(eta: eta)) { x, rng, f in
            try DDIM(DDPM(schedule: paperSchedule), steps: steps, spacing: spacing, eta: eta).sample(from: x, using: &rng, predictNoise: f)
                .sample
        }
    }

    static let cases: [Case] = [
        ddpm("Algorithm 2, σ² = β (fixed large)", .fixedLarge),
        ddpm("Algorithm 2, σ² = β̃ (fixed small)", .fixedSmall),
        ddpm("clipped x̂₀ → posterior mean (original code), fixed large", .fixedLarge, clip: true),
        ddpm("respaced DDPM, 250 trailing steps, fixed small", steps: 250, spacing: .trailing, .fixedSmall),
        ddpm("respaced DDPM, 50 leading steps, fixed small", steps: 50, spacing: .leading, .fixedSmall),
        ddpm("respaced DDPM, 50 leading steps, fixed large", steps: 50, spacing: .leading, .fixedLarge),
        ddim("DDIM η = 0, 250 trailing steps", steps: 250, spacing: .trailing, eta: 0),
        ddim("DDIM η = 0, 50 leading steps", steps: 50, spacing: .leading, eta: 0),
        ddim("DDIM η = 0, 20 trailing steps", steps: 20, spacing: .trailing, eta: 0),
        ddim("DDIM η = 1, 50 linspace steps", steps: 50, spacing: .linspace, eta: 1),
        Case(name: "x₀-parameterised Algorithm 2, fixed small", timesteps: Array((1...1000).reversed()), rule: .ancestral(.fixedSmall)) {
            x, rng, f in
            let model = DDPM(schedule: paperSchedule, parameterization: .x0, variance: .fixedSmall)
            let predictX0: NoisePredictor = { xt, t in paperSchedule.predictedX0(fromNoise: f(xt, t), xt: xt, at: t.map { Int($0) + 1 }) }
            return model.sample(from: x, using: &rng, predictNoise: predictX0).sample
        },
    ]

    /// Var(x₀ sampled) / s² predicted by the linear-Gaussian recursion, starting from Var(x_T) = 1.
    static func predictedVarianceRatio(_ c: Case) -> Double {
        let s2 = s * s
        func alphaBar(_ t: Int) -> Double { t == 0 ? 1 : paperSchedule.alphaBar(t) }
        var variance = 1.0
        for (i, t) in c.timesteps.enumerated() {
            let a = alphaBar(t)
            let previous = alphaBar(i + 1 < c.timesteps.count ? c.timesteps[i + 1] : 0)
            let v = a * s2 + 1 - a
            let noiseGain = (1 - a).squareRoot() / v
            let x0Gain = a.squareRoot() * s2 / v  // ε̂ and x̂₀ per unit of x_t − √ᾱ μ
            let beta = 1 - a / previous
            let betaTilde = (1 - previous) / (1 - a) * beta
            switch c.rule {
            case .ancestral(let kind):
                let gain = previous.squareRoot() * beta / (1 - a) * x0Gain + (1 - beta).squareRoot() * (1 - previous) / (1 - a)
                let sigma2 = i == c.timesteps.count - 1 ? 0 : (kind == .fixedLarge ? beta : betaTilde)
                variance = gain * gain * variance + sigma2
            case .ddim(let eta):
                let sigma2 = eta * eta * betaTilde
                let gain = previous.squareRoot() * x0Gain + max(0, 1 - previous - sigma2).squareRoot() * noiseGain
                variance = gain * gain * variance + sigma2
            }
        }
        return variance / s2
    }

    @Test("Samples have the data's mean, and the variance the sampler's discretisation predicts", arguments: cases)
    func moments(_ c: Case) throws {
        let predictor = exactGaussianPredictor(mean: Self.mu, standardDeviation: Self.s, schedule: paperSchedule)
        var rng = SeededGenerator(seed: 42)
        let xT = Tensor.randomNormal(Self.shape, using: &rng)
        let (mean, variance) = DiffusionTests.moments(try c.sample(xT, &rng, predictor))
        let ratio = variance / (Self.s * Self.s)
        let predicted = Self.predictedVarianceRatio(c)
        print(
            "sampling \(c.name): mean \(String(format: "%.4f", mean)) (data \(Self.mu)), variance/s² \(String(format: "%.3f", ratio)) "
                + "(predicted \(String(format: "%.3f", predicted)))")
        #expect(abs(mean - Self.mu) < 0.02)
        #expect(abs(ratio / predicted - 1) < 0.1)
        if abs(predicted - 1) < 0.05 { #expect(abs(ratio - 1) < 0.1) }
    }
}
