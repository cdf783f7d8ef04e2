import Foundation
import Testing
import Tensors
import Diffusion

/// Every sampler, driven by the exact noise predictor for Gaussian data N(μ, s²) per pixel, must
/// return samples with the data's mean and variance. 256 images of 1×4×4 = 4096 values: the
/// standard errors are s/64 ≈ 0.004 for the mean and ≈ 2.2 % for the variance; the seeds are fixed,
/// so each check is deterministic.
@Suite("Samplers against the exact Gaussian noise predictor")
struct SamplingStatisticsTests {
    static let (mu, s) = (0.1, 0.25)
    static let shape = [256, 1, 4, 4]

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let sample: @Sendable (Tensor, inout SeededGenerator, NoisePredictor) throws -> Tensor
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "Algorithm 2, σ² = β (fixed large)") { x, rng, f in
            DDPM(schedule: paperSchedule, variance: .fixedLarge).sample(from: x, using: &rng, predictNoise: f).sample
        },
        Case(name: "Algorithm 2, σ² = β̃ (fixed small)") { x, rng, f in
            DDPM(schedule: paperSchedule, variance: .fixedSmall).sample(from: x, using: &rng, predictNoise: f).sample
        },
        Case(name: "clipped x̂₀ → posterior mean (original code), fixed large") { x, rng, f in
            DDPM(schedule: paperSchedule, variance: .fixedLarge, clipDenoised: true).sample(from: x, using: &rng, predictNoise: f).sample
        },
        Case(name: "respaced DDPM, 50 leading steps, fixed small") { x, rng, f in
            try DDPM(schedule: paperSchedule, variance: .fixedSmall).respaced(steps: 50, spacing: .leading)
                .sample(from: x, using: &rng, predictNoise: f).sample
        },
        Case(name: "respaced DDPM, 100 trailing steps, fixed small") { x, rng, f in
            try DDPM(schedule: paperSchedule, variance: .fixedSmall).respaced(steps: 100, spacing: .trailing)
                .sample(from: x, using: &rng, predictNoise: f).sample
        },
        Case(name: "DDIM η = 0, 50 leading steps") { x, rng, f in
            try DDIM(DDPM(schedule: paperSchedule), steps: 50, spacing: .leading, eta: 0).sample(from: x, using: &rng, predictNoise: f).sample
        },
        Case(name: "DDIM η = 0, 20 trailing steps") { x, rng, f in
            try DDIM(DDPM(schedule: paperSchedule), steps: 20, spacing: .trailing, eta: 0).sample(from: x, using: &rng, predictNoise: f).sample
        },
        Case(name: "DDIM η = 1, 50 linspace steps") { x, rng, f in
            try DDIM(DDPM(schedule: paperSchedule), steps: 50, spacing: .linspace, eta: 1).sample(from: x, using: &rng, predictNoise: f).sample
        },
        Case(name: "x₀-parameterised Algorithm 2, fixed small") { x, rng, f in
            let ddpm = DDPM(schedule: paperSchedule, parameterization: .x0, variance: .fixedSmall)
            let predictX0: NoisePredictor = { xt, t in
                paperSchedule.predictedX0(fromNoise: f(xt, t), xt: xt, at: t.map { $0 + 1 })
            }
            return ddpm.sample(from: x, using: &rng, predictNoise: predictX0).sample
        },
    ]

    @Test("Samples have the data's mean and variance", arguments: cases)
    func moments(_ c: Case) throws {
        let predictor = exactGaussianPredictor(mean: Self.mu, standardDeviation: Self.s, schedule: paperSchedule)
        var rng = SeededGenerator(seed: 42)
        let xT = Tensor.randomNormal(Self.shape, using: &rng)
        let sample = try c.sample(xT, &rng, predictor)
        let (mean, variance) = DiffusionTests.moments(sample)
        print("sampling \(c.name): mean \(String(format: "%.4f", mean)) (data \(Self.mu)), "
              + "variance \(String(format: "%.5f", variance)) (data \(Self.s * Self.s)), ratio \(String(format: "%.3f", variance / (Self.s * Self.s)))")
        #expect(abs(mean - Self.mu) < 0.02)
        #expect(abs(variance / (Self.s * Self.s) - 1) < 0.1)
    }
}
