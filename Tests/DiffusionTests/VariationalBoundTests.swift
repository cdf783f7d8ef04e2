import Diffusion
import Foundation
import Tensors
import TestSupport
import Testing

@Suite("Variational bound, bits/dim and the hybrid loss")
struct VariationalBoundTests {
    @Test("The discretised Gaussian decoder (eq. 13) is a distribution over the 256 pixel values")
    func decoderNormalises() {
        let grid = Tensor(shape: [256], scalars: (0..<256).map { Float($0) / 127.5 - 1 })
        for (mean, logVariance) in [(Float(0.3), Float(-6)), (-0.99, -9), (0.999, -4), (0, 0)] {
            let logP = discretizedGaussianLogLikelihood(
                grid, mean: Tensor(repeating: mean, shape: [256]),
                logVariance: Tensor(repeating: logVariance, shape: [256]))
            let total = logP.scalars.map { Foundation.exp(Double($0)) }.reduce(0, +)
            #expect(abs(total - 1) < 1e-4, "μ = \(mean), log σ² = \(logVariance): Σ p = \(total)")
        }
    }

    @Test("Gaussian KL: zero for equal distributions, closed form otherwise")
    func kl() {
        let kl = gaussianKL(
            meanQ: Tensor(shape: [2], scalars: [0, 1]), logVarianceQ: Tensor(shape: [2], scalars: [0, 0]),
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

    /// 1024 images of 1×4×4 pixels N(0.1, 0.25²) on the 8-bit grid.
    static func discretisedData(using rng: inout SeededGenerator) -> Tensor {
        let continuous = Tensor.randomNormal([1024, 1, 4, 4], mean: 0.1, standardDeviation: 0.25, using: &rng)
        return Tensor(
            shape: continuous.shape,
            scalars: continuous.scalars.map { x in
                min(max(((x + 1) * 127.5).rounded(), 0), 255) / 127.5 - 1
            })
    }

    /// Var(x₀ | x_t) for x₀ ~ N(μ, s²): s²(1 − ᾱ_t) / (ᾱ_t s² + 1 − ᾱ_t).
    static func posteriorVarianceOfX0(_ t: Int, _ s2: Double) -> Double {
        let ab = paperSchedule.alphaBar(t)
        return s2 * (1 - ab) / (ab * s2 + 1 - ab)
    }

    /// The bound's expectation for continuous Gaussian data with the exact predictor and fixed
    /// variances, in closed form (independent of the library): Σ_t ½(−1 + log(σ²/β̃) + β̃/σ²) +
    /// c₀² Var(x₀ | x_t)/(2σ²), plus the decoder term E[−log₂ P(bin)] by quadrature over the error.
    static func expectedBound(_ variance: ReverseVariance, s2: Double) -> Double {
        let s = paperSchedule
        var nats = 0.0
        for t in 2...1000 {
            let q = s.betaTilde(t)
            let sigma2 = variance == .fixedLarge ? s.beta(t) : q
            let c0 = s.posteriorMeanCoefficientX0(t)
            nats += 0.5 * (-1 + Foundation.log(sigma2 / q) + q / sigma2) + c0 * c0 * posteriorVarianceOfX0(t, s2) / (2 * sigma2)
        }
        let (v1, sigma1, halfBin) = (posteriorVarianceOfX0(1, s2), s.betaTilde(2).squareRoot(), 1.0 / 255)
        func phi(_ z: Double) -> Double { 0.5 * Foundation.erfc(-z / 2.0.squareRoot()) }
        let points = 4001
        let width = 16 * v1.squareRoot() / Double(points - 1)
        var decoderBits = 0.0
        for i in 0..<points {
            let e = -8 * v1.squareRoot() + Double(i) * width
            let density = Foundation.exp(-e * e / (2 * v1)) / (2 * Double.pi * v1).squareRoot()
            let d = abs(e)  // the bin mass is even in e; on this side both Φ values sit in the lower tail, no cancellation
            decoderBits += -Foundation.log2(phi((halfBin - d) / sigma1) - phi((-halfBin - d) / sigma1)) * density * width
        }
        return nats / Foundation.log(2.0) + decoderBits
    }

    /// Runs the bound and prints it against the entropy; returns (bound, standard error, entropy).
    func measure(_ ddpm: DDPM, _ predictor: @escaping NoisePredictor, label: String) -> (Double, Double, Double) {
        var rng = SeededGenerator(seed: 7)
        let x0 = Self.discretisedData(using: &rng)
        let bound = ddpm.likelihoodBound(x0, using: &rng, predictNoise: predictor)
        let entropy = Self.discretisedEntropy(mean: 0.1, standardDeviation: 0.25)
        let n = Double(bound.total.count)
        let standardError = (bound.total.map { ($0 - bound.mean) * ($0 - bound.mean) }.reduce(0, +) / (n - 1) / n).squareRoot()
        let priorMean = bound.prior.reduce(0, +) / n
        print(
            "bits/dim \(label): bound \(String(format: "%.4f", bound.mean)) ± \(String(format: "%.4f", standardError)) (s.e.), "
                + "entropy \(String(format: "%.4f", entropy)), gap \(String(format: "%+.4f", bound.mean - entropy)); "
                + "L_T \(String(format: "%.1e", priorMean)), L_0 \(String(format: "%.4f", bound.terms[0])), "
                + "Σ L_{t−1} \(String(format: "%.4f", bound.terms.dropFirst().reduce(0, +)))")
        #expect(abs(bound.terms.reduce(0, +) + priorMean - bound.mean) < 1e-6)  // the terms add up
        #expect(priorMean < 1e-4)
        return (bound.mean, standardError, entropy)
    }

    @Test("With the exact mean and the exact reverse variance the bound equals the entropy (bits/dim)")
    func bitsPerDimensionAtEntropy() {
        // Learned-range output whose log σ² is the true Var(x_{t−1} | x_t) = β̃_t + c₀² Var(x₀ | x_t)
        // (Var(x₀ | x₁) at t = 1): the bound is then tight up to the decoder's discretisation.
        let s = paperSchedule
        let s2 = 0.0625
        let exact = exactGaussianPredictor(mean: 0.1, standardDeviation: 0.25, schedule: s)
        let predictor: NoisePredictor = { xt, modelT in
            let v = modelT.map { index -> Float in
                let t = Int(index) + 1
                let c0 = s.posteriorMeanCoefficientX0(t)
                let target = t == 1 ? Self.posteriorVarianceOfX0(1, s2) : s.betaTilde(t) + c0 * c0 * Self.posteriorVarianceOfX0(t, s2)
                let (low, high) = (s.logBetaTildeClipped(t), Foundation.log(s.beta(t)))
                return Float(2 * (Foundation.log(target) - low) / (high - low) - 1)
            }
            return .concatenated([exact(xt, modelT), perSample(v, like: xt) + 0 * xt], alongAxis: 1)
        }
        let (bound, standardError, entropy) = measure(DDPM(schedule: s, variance: .learnedRange), predictor, label: "exact variance")
        #expect(bound > entropy - 3 * standardError)
        #expect(bound < entropy + 3 * standardError + 0.01)
    }

    @Test(
        "With fixed variances the bound lies above the entropy, at its closed-form expectation",
        arguments: [ReverseVariance.fixedLarge, .fixedSmall])
    func bitsPerDimensionFixedVariance(_ variance: ReverseVariance) {
        let predictor = exactGaussianPredictor(mean: 0.1, standardDeviation: 0.25, schedule: paperSchedule)
        let (bound, standardError, entropy) = measure(DDPM(schedule: paperSchedule, variance: variance), predictor, label: "\(variance)")
        let expected = Self.expectedBound(variance, s2: 0.0625)
        print("bits/dim \(variance): closed-form expectation \(String(format: "%.4f", expected))")
        #expect(bound > entropy)
        #expect(abs(bound - expected) < 3 * standardError)
    }

    @Test("Hybrid loss: L_simple + λ·T·L_{t−1}, and the bound term trains only the variance channels")
    func hybridLoss() {
        let ddpm = DDPM(schedule: paperSchedule, variance: .learnedRange)
        let x0 = standardNormal([2, 1, 2, 2], seed: 21).clamped(lower: -1, upper: 1)
        let noise = standardNormal([2, 1, 2, 2], seed: 22)
        let t = [1, 300]
        let parameters = Tensor.concatenated(
            [
                standardNormal([2, 1, 2, 2], seed: 23),
                Tensor(repeating: 0.2, shape: [2, 1, 2, 2]),
            ], alongAxis: 1
        ).requiringGradient()
        let network: NoisePredictor = { xt, _ in parameters + 0 * xt.detached() }
        let loss = ddpm.hybridLoss(x0, at: t, noise: noise, predictNoise: network)
        let simple = ddpm.simpleLoss(x0, at: t, noise: noise, predictNoise: network)
        let xt = ddpm.noised(x0, at: t, noise: noise)
        let term = ddpm.variationalBoundTerm(x0, xt: xt, at: t, modelOutput: parameters.detached()).mean().scalar
        #expect(abs(loss.scalar - (simple.scalar + 0.001 * 1000 * term)) < 1e-5)

        let g = gradients(of: loss, withRespectTo: [parameters])[0]
        let gSimple = gradients(of: simple, withRespectTo: [parameters])[0]
        let meanHalf = g.sliced(alongAxis: 1, 0..<1)
        let varianceHalf = g.sliced(alongAxis: 1, 1..<2)
        #expect(meanHalf.maxAbsoluteDifference(gSimple.sliced(alongAxis: 1, 0..<1)) < 1e-6)  // stop-gradient on the mean
        #expect(varianceHalf.scalars.contains { abs($0) > 1e-6 })
        #expect(gSimple.sliced(alongAxis: 1, 1..<2).scalars.allSatisfy { $0 == 0 })
    }

    @Test("A learned variance at v = −1 / +1 reproduces the fixed small / fixed large bound terms")
    func learnedRangeEndpoints() {
        let x0 = standardNormal([2, 1, 2, 2], seed: 31).clamped(lower: -1, upper: 1)
        let noise = standardNormal([2, 1, 2, 2], seed: 32)
        let output = standardNormal([2, 1, 2, 2], seed: 33)
        for t in [[1, 1], [50, 900]] {
            let xt = DDPM(schedule: paperSchedule).noised(x0, at: t, noise: noise)
            // At t = 1 the learned range tops out at β_1 (improved-diffusion), fixed large uses β̃_2 (original code).
            for (v, fixed) in [(Float(1), ReverseVariance.fixedLarge), (-1, .fixedSmall)] where !(v == 1 && t[0] == 1) {
                let learned = DDPM(schedule: paperSchedule, variance: .learnedRange)
                    .variationalBoundTerm(
                        x0, xt: xt, at: t, modelOutput: .concatenated([output, Tensor(repeating: v, shape: output.shape)], alongAxis: 1))
                let reference = DDPM(schedule: paperSchedule, variance: fixed).variationalBoundTerm(x0, xt: xt, at: t, modelOutput: output)
                #expect(learned.maxAbsoluteDifference(reference) < 1e-4, "t = \(t), v = \(v)")
            }
        }
    }
}
