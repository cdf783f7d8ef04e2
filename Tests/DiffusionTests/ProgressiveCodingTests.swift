import Diffusion
import Foundation
import Tensors
import TestSupport
import Testing

/// The progressive code of Ho et al. 2020 §4.3 (Algorithms 3 and 4), checked against a noise
/// predictor that knows x₀ (so p_θ(x_{t−1} | x_t) is the true posterior) and statistically.
@Suite("Progressive coding (Ho et al. 2020 §4.3, Algorithms 3 and 4)")
struct ProgressiveCodingTests {
    /// ε̂ = (x_t − √ᾱ_t x₀) / √(1 − ᾱ_t): the noise that produced x_t from this very x₀.
    static func oracle(_ x0: Tensor, schedule: NoiseSchedule) -> NoisePredictor {
        { xt, modelTimesteps in
            let t = modelTimesteps.map { Int($0.rounded()) + 1 }
            let shift = perSample(t.map { Float(schedule.sqrtAlphaBar($0)) }, like: xt)
            let scale = perSample(t.map { Float(1 / schedule.sqrtOneMinusAlphaBar($0)) }, like: xt)
            return (xt - shift * x0) * scale
        }
    }

    /// Images on the 8-bit grid in [−1, 1].
    static func images(_ shape: [Int], seed: UInt64) -> Tensor {
        let raw = standardNormal(shape, seed: seed).clamped(lower: -1, upper: 1)
        return Tensor(shape: shape, scalars: raw.scalars.map { (($0 + 1) * 127.5).rounded() / 127.5 - 1 })
    }

    @Test("with p_θ equal to the posterior q(x_{t−1} | x_t, x₀) (β̃ variance), every step is free, x̂₀ = x₀, and only L_T and L_0 cost bits")
    func oracleCostsOnlyPriorAndDecoder() throws {
        let schedule = try NoiseSchedule(.paper, timestepCount: 100)
        let ddpm = DDPM(schedule: schedule, variance: .fixedSmall)
        let x0 = Self.images([2, 1, 8, 8], seed: 1)
        var rng = SeededGenerator(seed: 2)
        var visited: [Int] = []
        let code = ddpm.progressiveCode(x0, using: &rng, recordingAt: [100, 50, 1], predictNoise: Self.oracle(x0, schedule: schedule)) {
            visited.append($0)
        }
        #expect(visited == Array((1...100).reversed()))
        #expect(code.frames.map(\.t) == [100, 50, 1])
        for frame in code.frames { #expect(frame.predictedX0.maxAbsoluteDifference(x0) < 1e-4, "x̂₀ at t = \(frame.t)") }
        #expect(code.bound.terms.dropFirst().allSatisfy { abs($0) < 1e-5 }, "\(code.bound.terms.dropFirst().max()!)")
        #expect(code.bound.distortion.allSatisfy { $0 < 1e-8 }, "\(code.bound.distortion.max()!)")
        // L_0: the discretised Gaussian of eq. 13 centred on x₀ itself, with σ² = β̃_2 (the decoder's variance at t = 1).
        let logVariance = Tensor(shape: [1, 1, 1, 1], scalars: [Float(schedule.logBetaTildeClipped(1))])
        let expected = -discretizedGaussianLogLikelihood(x0, mean: x0, logVariance: logVariance).mean().scalar / Float(log(2.0))
        #expect(abs(code.bound.terms[0] - Double(expected)) < 1e-4, "L_0 \(code.bound.terms[0]), expected \(expected)")
        #expect(code.bound.terms[0] > 0.1)
        let priorExpected = ddpm.priorTerm(x0).scalars.map(Double.init)
        #expect(code.bound.prior == priorExpected)
        // `terms` are batch means, `total` and `prior` per image: the means agree.
        let meanSteps = zip(code.bound.total, code.bound.prior).map { $0 - $1 }.reduce(0, +) / 2
        #expect(abs(meanSteps - code.bound.terms.reduce(0, +)) < 1e-9, "\(meanSteps) vs \(code.bound.terms.reduce(0, +))")
    }

    @Test(
        "the x_t the receiver decodes follow q(x_t | x₀): mean √ᾱ_t x₀ and variance 1 − ᾱ_t (eq. 4); a poor predictor pays bits at every step"
    )
    func chainFollowsForwardMarginals() throws {
        let ddpm = DDPM(schedule: paperSchedule)
        let x0 = Tensor(shape: [4, 1, 16, 16], scalars: [Float](repeating: 0.5, count: 1024))
        var rng = SeededGenerator(seed: 3)
        let zero: NoisePredictor = { xt, _ in .zeros(xt.shape) }
        let code = ddpm.progressiveCode(x0, using: &rng, recordingAt: [900, 500, 100, 10], predictNoise: zero)
        #expect(code.frames.map(\.t) == [900, 500, 100, 10])
        for frame in code.frames {
            let alphaBar = paperSchedule.alphaBar(frame.t)
            let m = moments(frame.xt - Float(alphaBar.squareRoot()) * x0)
            let sd = (1 - alphaBar).squareRoot()
            #expect(abs(m.mean) < 4 * sd / 32, "t = \(frame.t): mean offset \(m.mean)")
            #expect(abs(m.variance / (1 - alphaBar) - 1) < 0.15, "t = \(frame.t): variance \(m.variance), expected \(1 - alphaBar)")
        }
        #expect(code.bound.terms.allSatisfy { $0 > 0 })
        #expect(code.bound.distortion[999] > code.bound.distortion[0])
        var again = SeededGenerator(seed: 3)
        #expect(ddpm.progressiveCode(x0, using: &again, predictNoise: zero).bound.terms == code.bound.terms)
    }
}
