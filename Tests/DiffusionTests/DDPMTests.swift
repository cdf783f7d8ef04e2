import Diffusion
import Foundation
import Tensors
import TestSupport
import Testing

/// Records the model timesteps a sampler or loss hands to the network.
final class TimestepRecorder: @unchecked Sendable {
    var seen: [[Int]] = []
    var predictor: NoisePredictor {
        { xt, t in
            self.seen.append(t.map { Int($0) })
            return .zeros(xt.shape)
        }
    }
}

@Suite("DDPM (Ho et al. 2020)")
struct DDPMTests {
    @Test("The network sees 0-based timesteps: T−1…0 in Algorithm 2, t−1 in Algorithm 1, τ−1 when respaced")
    func timestepConvention() throws {
        let ddpm = DDPM(schedule: paperSchedule)
        #expect(ddpm.modelTimesteps([1, 500, 1000]) == [0, 499, 999])
        var rng = SeededGenerator(seed: 1)
        let recorder = TimestepRecorder()
        _ = ddpm.sample(from: .zeros([1, 1, 2, 2]), using: &rng, predictNoise: recorder.predictor)
        #expect(recorder.seen.map { $0[0] } == Array((0..<1000).reversed()))

        let strided = TimestepRecorder()
        _ = try ddpm.respaced(steps: 4, spacing: .trailing).sample(
            from: .zeros([1, 1, 2, 2]), using: &rng, predictNoise: strided.predictor)
        #expect(strided.seen.map { $0[0] } == [999, 749, 499, 249])

        let ddim = TimestepRecorder()
        _ = try DDIM(ddpm, steps: 4, spacing: .leading).sample(from: .zeros([1, 1, 2, 2]), using: &rng, predictNoise: ddim.predictor)
        #expect(ddim.seen.map { $0[0] } == [750, 500, 250, 0])

        // Algorithm 1 draws paper t ~ U{1…T}; with T = 2 the network must see only 0 and 1.
        let short = DDPM(schedule: try NoiseSchedule(.linear(start: 0.1, end: 0.2), timestepCount: 2))
        let training = TimestepRecorder()
        _ = short.trainingLoss(.zeros([64, 1, 1, 1]), using: &rng, predictNoise: training.predictor)
        #expect(Set(training.seen[0]) == [0, 1])
    }

    @Test("q(x_t | x₀) has mean √ᾱ_t·x₀ and variance 1 − ᾱ_t (eq. 4)")
    func forwardProcessMoments() {
        let ddpm = DDPM(schedule: paperSchedule)
        let x0 = Tensor(repeating: 0.5, shape: [4096, 1, 1, 1])
        for t in [1, 100, 1000] {
            let xt = ddpm.noised(x0, at: Array(repeating: t, count: 4096), noise: standardNormal(x0.shape, seed: UInt64(t)))
            let (mean, variance) = moments(xt)
            #expect(abs(mean - 0.5 * paperSchedule.sqrtAlphaBar(t)) < 0.05 * paperSchedule.sqrtOneMinusAlphaBar(t) + 1e-6)
            #expect(abs(variance / (1 - paperSchedule.alphaBar(t)) - 1) < 0.06)
        }
    }

    @Test("ε ↔ x₀ ↔ v conversions are mutually inverse (eq. 15 and v = √ᾱ ε − √(1−ᾱ) x₀)")
    func parameterizationRoundTrips() {
        let s = paperSchedule
        let t = [1, 10, 500, 1000]
        let x0 = standardNormal([4, 1, 3, 3], seed: 2)
        let noise = standardNormal([4, 1, 3, 3], seed: 3)
        let xt = DDPM(schedule: s).noised(x0, at: t, noise: noise)
        #expect(s.predictedX0(fromNoise: noise, xt: xt, at: t).maxAbsoluteDifference(x0) < 2e-3)  // 1/√ᾱ_T ≈ 157 amplifies rounding
        #expect(s.noise(fromX0: x0, xt: xt, at: t).maxAbsoluteDifference(noise) < 2e-3)
        let v = s.velocity(x0: x0, noise: noise, at: t)
        #expect(s.predictedX0(fromVelocity: v, xt: xt, at: t).maxAbsoluteDifference(x0) < 1e-5)
        #expect(s.noise(fromVelocity: v, xt: xt, at: t).maxAbsoluteDifference(noise) < 1e-5)
        for p in [Parameterization.noise, .x0, .velocity] {
            let output = p.target(x0: x0, noise: noise, at: t, schedule: s)
            let (n, x) = p.noiseAndX0(from: output, xt: xt, at: t, schedule: s)
            #expect(n.maxAbsoluteDifference(noise) < 2e-3 && x.maxAbsoluteDifference(x0) < 2e-3, "\(p)")
        }
    }

    @Test("Eq. 11's mean equals the posterior mean μ̃_t(x̂₀, x_t) of eq. 7 with x̂₀ from eq. 15")
    func eq11IsPosteriorMean() {
        let ddpm = DDPM(schedule: paperSchedule)
        let xt = standardNormal([3, 1, 2, 2], seed: 4)
        let noise = standardNormal([3, 1, 2, 2], seed: 5)
        let t = [2, 300, 1000]
        let p = ddpm.reverseDistribution(xt, at: t, modelOutput: noise)
        let q = ddpm.posterior(x0: paperSchedule.predictedX0(fromNoise: noise, xt: xt, at: t), xt: xt, at: t)
        #expect(p.mean.maxAbsoluteDifference(q.mean) < 1e-4)
    }

    @Test("Algorithm 2 adds no noise at t = 1; fixed variances give σ_t = √β_t or √β̃_t")
    func noiseScale() {
        let xt = standardNormal([2, 1, 2, 2], seed: 6)
        let output = standardNormal([2, 1, 2, 2], seed: 7)
        let z = standardNormal([2, 1, 2, 2], seed: 8)
        for variance in [ReverseVariance.fixedLarge, .fixedSmall] {
            let ddpm = DDPM(schedule: paperSchedule, variance: variance)
            let withNoise = ddpm.reverseStep(xt, at: 1, modelOutput: output, noise: z).previous
            let without = ddpm.reverseStep(xt, at: 1, modelOutput: output, noise: .zeros(z.shape)).previous
            #expect(withNoise.maxAbsoluteDifference(without) == 0)
            let t = 400
            let sigma = variance == .fixedLarge ? paperSchedule.beta(t).squareRoot() : paperSchedule.betaTilde(t).squareRoot()
            let difference =
                ddpm.reverseStep(xt, at: t, modelOutput: output, noise: z).previous
                - ddpm.reverseStep(xt, at: t, modelOutput: output, noise: .zeros(z.shape)).previous
            #expect(difference.maxAbsoluteDifference(z * Float(sigma)) < 1e-6)
        }
    }

    @Test("Samplers return x_t and x̂₀ at the requested timesteps, and x_T first")
    func trajectories() throws {
        let ddpm = DDPM(schedule: paperSchedule)
        let predictor = exactGaussianPredictor(mean: 0, standardDeviation: 0.5, schedule: paperSchedule)
        let xT = standardNormal([2, 1, 2, 2], seed: 9)
        var rng = SeededGenerator(seed: 10)
        let result = ddpm.sample(from: xT, using: &rng, recordingAt: [1000, 500, 1], predictNoise: predictor)
        #expect(result.trajectory.map(\.t) == [1000, 500, 1])
        #expect(result.trajectory[0].xt.maxAbsoluteDifference(xT) == 0)
        #expect(result.trajectory[2].predictedX0.shape == xT.shape)
        let ddim = try DDIM(ddpm, steps: 10, spacing: .trailing)
        let fast = ddim.sample(from: xT, using: &rng, recordingAt: Set(ddim.timesteps), predictNoise: predictor)
        #expect(fast.trajectory.map(\.t) == ddim.timesteps)
        let strided = try ddpm.respaced(steps: 10, spacing: .trailing)
        let stridedResult = strided.sample(from: xT, using: &rng, recordingAt: [1000, 100], predictNoise: predictor)
        #expect(stridedResult.trajectory.map(\.t) == [1000, 100])
    }

    @Test("L_simple is the MSE between ε and the network output on x_t (eq. 14); x₀ and v targets")
    func simpleLoss() {
        let x0 = standardNormal([2, 1, 2, 2], seed: 11)
        let noise = standardNormal([2, 1, 2, 2], seed: 12)
        let t = [3, 700]
        for p in [Parameterization.noise, .x0, .velocity] {
            let ddpm = DDPM(schedule: paperSchedule, parameterization: p)
            let perfect: NoisePredictor = { _, _ in p.target(x0: x0, noise: noise, at: t, schedule: paperSchedule) }
            #expect(ddpm.simpleLoss(x0, at: t, noise: noise, predictNoise: perfect).scalar < 1e-12)
        }
        let ddpm = DDPM(schedule: paperSchedule)
        let zero: NoisePredictor = { xt, _ in .zeros(xt.shape) }
        #expect(abs(ddpm.simpleLoss(x0, at: t, noise: noise, predictNoise: zero).scalar - noise.squared().mean().scalar) < 1e-6)
    }
}
