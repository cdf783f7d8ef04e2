import Diffusion
import Foundation
import Tensors
import TestSupport
import Testing

/// Samplers entered at an intermediate t (Ho et al. §4.3: decoding an image encoded to x_t).
@Suite("Sampling from an intermediate t")
struct StartingAtTests {
    static var predictor: NoisePredictor { exactGaussianPredictor(mean: 0.1, standardDeviation: 0.25, schedule: paperSchedule) }

    @Test("Algorithm 2 from t = T is the full sampler, bit for bit")
    func ddpmFromT() {
        let ddpm = DDPM(schedule: paperSchedule, variance: .fixedSmall)
        let xT = standardNormal([4, 1, 4, 4], seed: 1)
        var a = SeededGenerator(seed: 2)
        var b = SeededGenerator(seed: 2)
        let full = ddpm.sample(from: xT, using: &a, predictNoise: Self.predictor).sample
        let entered = ddpm.sample(from: xT, startingAt: 1000, using: &b, predictNoise: Self.predictor).sample
        #expect(full.scalars == entered.scalars)
    }

    @Test("The network sees t − 1, …, 0 from t; DDIM visits t, then its own timesteps below t")
    func visitedTimesteps() throws {
        let ddpm = DDPM(schedule: paperSchedule)
        var rng = SeededGenerator(seed: 1)
        let recorder = TimestepRecorder()
        _ = ddpm.sample(from: .zeros([1, 1, 2, 2]), startingAt: 5, using: &rng, predictNoise: recorder.predictor)
        #expect(recorder.seen.map { $0[0] } == [4, 3, 2, 1, 0])
        let ddim = try DDIM(ddpm, steps: 4, spacing: .leading)  // paper timesteps 751, 501, 251, 1
        #expect(try ddim.startingAt(600).timesteps == [600, 501, 251, 1])
        #expect(try ddim.startingAt(501).timesteps == [501, 251, 1])
        let seen = TimestepRecorder()
        _ = try ddim.sample(from: .zeros([1, 1, 2, 2]), startingAt: 600, using: &rng, predictNoise: seen.predictor)
        #expect(seen.seen.map { $0[0] } == [599, 500, 250, 0])
        #expect(throws: DiffusionError.self) { try ddim.startingAt(1001) }
    }

    @Test("DDIM entered at one of its timesteps, from the state the full run had there, ends where the full run ends")
    func ddimTail() throws {
        let ddim = try DDIM(DDPM(schedule: paperSchedule), steps: 20, spacing: .trailing)
        let xT = standardNormal([2, 1, 4, 4], seed: 3)
        var rng = SeededGenerator(seed: 4)
        let t = ddim.timesteps[7]
        let full = ddim.sample(from: xT, using: &rng, recordingAt: [t], predictNoise: Self.predictor)
        let tail = try ddim.sample(from: full.trajectory[0].xt, startingAt: t, using: &rng, predictNoise: Self.predictor)
        #expect(tail.sample.scalars == full.sample.scalars)
        let whole = try ddim.sample(from: xT, startingAt: ddim.timesteps[0], using: &rng, predictNoise: Self.predictor)
        #expect(whole.sample.scalars == full.sample.scalars)
    }

    /// Data x₀ ~ N(μ, s²) encoded to t = 500 with q(x_t | x₀) and decoded with the exact predictor
    /// must come back with the data's statistics (4096 values: standard errors 0.004 and 2.2 %).
    @Test(
        "From t = 500 with the exact Gaussian predictor, samples keep the data's mean and variance",
        arguments: ["ddpm fixed small", "ddpm fixed large", "ddim 1000 trailing"])
    func statistics(_ name: String) throws {
        let (mu, s) = (0.1, 0.25)
        let x0 = standardNormal([256, 1, 4, 4], seed: 5) * Float(s) + Float(mu)
        let ddpm = DDPM(schedule: paperSchedule, variance: name.contains("large") ? .fixedLarge : .fixedSmall)
        let xt = ddpm.noised(x0, at: Array(repeating: 500, count: 256), noise: standardNormal([256, 1, 4, 4], seed: 6))
        var rng = SeededGenerator(seed: 7)
        let sample =
            name.hasPrefix("ddim")
            ? try DDIM(ddpm, steps: 1000, spacing: .trailing).sample(from: xt, startingAt: 500, using: &rng, predictNoise: Self.predictor)
                .sample
            : ddpm.sample(from: xt, startingAt: 500, using: &rng, predictNoise: Self.predictor).sample
        let (mean, variance) = moments(sample)
        print(
            "from t = 500, \(name): mean \(String(format: "%.4f", mean)) (data \(mu)), variance/s² \(String(format: "%.3f", variance / (s * s)))"
        )
        #expect(abs(mean - mu) < 0.02)
        #expect(abs(variance / (s * s) - 1) < 0.1)
    }
}
