import Foundation
import Testing
import Tensors
import Diffusion

@Suite("Variational bound, bits/dim and the hybrid loss")
struct VariationalBoundTests {
    @Test("The discretised Gaussian decoder (eq. 13) is a distribution over the 256 pixel values")
    func decoderNormalises() {
        let grid = Tensor(shape: [256], scalars: (0..<256).map { Float($0) / 127.5 - 1 })
        for (mean, logVariance) in [(Float(0.3), Float(-6)), (-0.99, -9), (0.999, -4), (0, 0)] {
            let logP = discretizedGaussianLogLikelihood(grid, mean: Tensor(repeating: mean, shape: [256]),
                                                        logVariance: Tensor(repeating: logVariance, shape: [256]))
            let total = logP.scalars.map { Foundation.exp(Double($0)) }.reduce(0, +)
            #expect(abs(total - 1) < 1e-4, "μ = \(mean), log σ² = \(logVariance): Σ p = \(total)")
        }
    }

    @Test("Gaussian KL: zero for equal distributions, closed form otherwise")
    func kl() {
        let kl = gaussianKL(meanQ: Tensor(shape: [2], scalars: [0, 1]), logVarianceQ: Tensor(shape: [2], scalars: [0, 0]),
                            meanP: Tensor(shape: [2], scalars: [0, 0]), logVarianceP: Tensor(shape: [2], scalars: [0, Float(Foundation.log(2.0))]))
        #expect(abs(kl.scalars[0]) < 1e-7)
        let expected = 0.5 * (-1 + Foundation.log(2.0) + 0.5 + 0.5)
        #expect(abs(Double(kl.scalars[1]) - expected) < 1e-6)
    }

    /// The exact entropy, in bits, of 8-bit pixels k = clamp(round((x + 1)·127.5), 0, 255), x ~ N(μ, s²).
    static func discretisedEntropy(mean mu: Double, standardDeviation s: Double) -> Double {
        func cdf(_ x: Double) -> Double { 0.5 * Foundation.erfc(-(x - mu) / (s * 2.0.squareRoot())) }
        return (0..<256).map { k -> Double in
            let lower = k == 0 ? 0 : cdf((Double(k) - 0.5) / 127.5 - 1)
            let upper = k == 255 ? 1 : cdf((Double(k) + 0.5) / 127.5 - 1)
            let p = upper - lower
            return p > 0 ? -p * Foundation.log2(p) : 0
        }.reduce(0, +)
    }

    @Test("With the exact predictor the bound is at or just above the data's entropy (bits/dim)",
          arguments: [ReverseVariance.fixedLarge, .fixedSmall])
    func bitsPerDimensionAgainstEntropy(_ variance: ReverseVariance) {
        let (mu, s) = (0.1, 0.25)
        var rng = SeededGenerator(seed: 7)
        let continuous = Tensor.randomNormal([64, 1, 4, 4], mean: Float(mu), standardDeviation: Float(s), using: &rng)
        let x0 = Tensor(shape: continuous.shape, scalars: continuous.scalars.map { x in
            min(max(((x + 1) * 127.5).rounded(), 0), 255) / 127.5 - 1
        })
        let ddpm = DDPM(schedule: paperSchedule, variance: variance)
        let bound = ddpm.likelihoodBound(x0, using: &rng, predictNoise: exactGaussianPredictor(mean: mu, standardDeviation: s, schedule: paperSchedule))
        let entropy = Self.discretisedEntropy(mean: mu, standardDeviation: s)
        let priorMean = bound.prior.reduce(0, +) / Double(bound.prior.count)
        let spread = (bound.total.map { ($0 - bound.mean) * ($0 - bound.mean) }.reduce(0, +) / Double(bound.total.count - 1)).squareRoot()
        print("bits/dim \(variance): bound \(String(format: "%.4f", bound.mean)) ± \(String(format: "%.4f", spread / 8)) (s.e.), "
              + "entropy \(String(format: "%.4f", entropy)), gap \(String(format: "%+.4f", bound.mean - entropy)); "
              + "prior \(String(format: "%.2e", priorMean)), decoder L_0 \(String(format: "%.4f", bound.terms[0])), "
              + "Σ L_{t−1} \(String(format: "%.4f", bound.terms.dropFirst().reduce(0, +)))")
        #expect(abs(bound.terms.reduce(0, +) + priorMean - bound.mean) < 1e-6)
        #expect(priorMean < 1e-4)
        #expect(bound.mean > entropy - 0.02)
        #expect(bound.mean < entropy + 0.05)
    }

    @Test("Hybrid loss: L_simple + λ·T·L_{t−1}, and the bound term trains only the variance channels")
    func hybridLoss() {
        let ddpm = DDPM(schedule: paperSchedule, variance: .learnedRange)
        let x0 = standardNormal([2, 1, 2, 2], seed: 21).clamped(lower: -1, upper: 1)
        let noise = standardNormal([2, 1, 2, 2], seed: 22), t = [1, 300]
        let parameters = Tensor.concatenated([standardNormal([2, 1, 2, 2], seed: 23),
                                              Tensor(repeating: 0.2, shape: [2, 1, 2, 2])], alongAxis: 1).requiringGradient()
        let network: NoisePredictor = { xt, _ in parameters + 0 * xt.detached() }
        let loss = ddpm.hybridLoss(x0, at: t, noise: noise, predictNoise: network)
        let simple = ddpm.simpleLoss(x0, at: t, noise: noise, predictNoise: network)
        let xt = ddpm.noised(x0, at: t, noise: noise)
        let term = ddpm.variationalBoundTerm(x0, xt: xt, at: t, modelOutput: parameters.detached()).mean().scalar
        #expect(abs(loss.scalar - (simple.scalar + 0.001 * 1000 * term)) < 1e-5)

        let g = gradients(of: loss, withRespectTo: [parameters])[0]
        let gSimple = gradients(of: simple, withRespectTo: [parameters])[0]
        let meanHalf = g.sliced(alongAxis: 1, 0..<1), varianceHalf = g.sliced(alongAxis: 1, 1..<2)
        #expect(meanHalf.maxAbsoluteDifference(gSimple.sliced(alongAxis: 1, 0..<1)) < 1e-6)   // stop-gradient on the mean
        #expect(varianceHalf.scalars.contains { abs($0) > 1e-6 })
        #expect(gSimple.sliced(alongAxis: 1, 1..<2).scalars.allSatisfy { $0 == 0 })
    }

    @Test("A learned variance at v = ±1 reproduces the fixed small and fixed large bound terms")
    func learnedRangeEndpoints() {
        let x0 = standardNormal([2, 1, 2, 2], seed: 31).clamped(lower: -1, upper: 1)
        let noise = standardNormal([2, 1, 2, 2], seed: 32), output = standardNormal([2, 1, 2, 2], seed: 33)
        for t in [[1, 1], [50, 900]] {
            let xt = DDPM(schedule: paperSchedule).noised(x0, at: t, noise: noise)
            for (v, fixed) in [(Float(1), ReverseVariance.fixedLarge), (-1, .fixedSmall)] {
                let learned = DDPM(schedule: paperSchedule, variance: .learnedRange)
                    .variationalBoundTerm(x0, xt: xt, at: t, modelOutput: .concatenated([output, Tensor(repeating: v, shape: output.shape)], alongAxis: 1))
                let reference = DDPM(schedule: paperSchedule, variance: fixed).variationalBoundTerm(x0, xt: xt, at: t, modelOutput: output)
                #expect(learned.maxAbsoluteDifference(reference) < 1e-4, "t = \(t), v = \(v)")
            }
        }
    }
}
