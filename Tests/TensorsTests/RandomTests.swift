import Tensors
import TestSupport
import Testing

// SeededGenerator.swift: seeded normal and uniform fills, and inverted dropout. Dropout cannot
// reproduce torch's random stream, so it is tested statistically and for mask consistency.
// Sample sizes make each statistical tolerance at least 6 standard errors wide; with fixed seeds
// the outcomes are deterministic anyway.

@Suite("Random numbers and dropout")
struct RandomTests {
    @Test("the same seed gives identical normal and uniform fills; another seed does not")
    func sameSeedSameValues() {
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        var c = SeededGenerator(seed: 43)
        let na = Tensor.randomNormal([3, 7], using: &a)
        let nb = Tensor.randomNormal([3, 7], using: &b)
        let nc = Tensor.randomNormal([3, 7], using: &c)
        #expect(na.scalars == nb.scalars)
        #expect(na.scalars != nc.scalars)
        let ua = Tensor.randomUniform([5, 5], using: &a)
        let ub = Tensor.randomUniform([5, 5], using: &b)
        #expect(ua.scalars == ub.scalars)
        #expect(a == b)
    }

    @Test("consecutive fills continue one stream: fills of 7 then 5 equal one fill of 12")
    func fillsContinueTheStream() {
        var a = SeededGenerator(seed: 5)
        var b = SeededGenerator(seed: 5)
        let parts = Tensor.randomUniform([7], using: &a).scalars + Tensor.randomUniform([5], using: &a).scalars
        #expect(parts == Tensor.randomUniform([12], using: &b).scalars)
        #expect(a == b)
        // Normal fills draw pairs, so even-sized fills split the same way.
        var c = SeededGenerator(seed: 6)
        var d = SeededGenerator(seed: 6)
        let normals = Tensor.randomNormal([6], using: &c).scalars + Tensor.randomNormal([4], using: &c).scalars
        #expect(normals == Tensor.randomNormal([10], using: &d).scalars)
    }

    @Test("a restored generator state replays the stream exactly (checkpoint resume)")
    func stateReplays() {
        var rng = SeededGenerator(seed: 9)
        _ = Tensor.randomNormal([11], using: &rng)
        var saved = SeededGenerator(seed: 0)
        saved.state = rng.state
        #expect(Tensor.randomNormal([8], using: &rng).scalars == Tensor.randomNormal([8], using: &saved).scalars)
    }

    @Test("randomNormal has mean ≈ 0, variance ≈ 1 and 68.3 % of samples within one σ (n = 200 000)")
    func normalMoments() {
        var rng = SeededGenerator(seed: 2020)
        let n = 200_000
        let x = Tensor.randomNormal([n], using: &rng).scalars.map(Double.init)
        let mean = x.reduce(0, +) / Double(n)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let withinOneSigma = Double(x.filter { abs($0) < 1 }.count) / Double(n)
        #expect(abs(mean) < 0.015)  // standard error 0.0022
        #expect(abs(variance - 1) < 0.02)  // standard error 0.0032
        #expect(abs(withinOneSigma - 0.6827) < 0.007)  // standard error 0.001
        #expect(x.allSatisfy { $0.isFinite })
    }

    @Test("randomNormal(mean: 3, standardDeviation: 0.5) shifts and scales the samples")
    func normalParameters() {
        var rng = SeededGenerator(seed: 7)
        let x = Tensor.randomNormal([50_000], mean: 3, standardDeviation: 0.5, using: &rng)
        let mean = Double(x.mean().scalar)
        let sd = Double(((x - 3).squared().mean()).scalar).squareRoot()
        #expect(abs(mean - 3) < 0.015)  // standard error 0.0022
        #expect(abs(sd - 0.5) < 0.01)  // standard error 0.0016
    }

    @Test("randomUniform(low: -2, high: 3) lies in [-2, 3) with mean 0.5 and variance 25/12")
    func uniformRangeAndMoments() {
        var rng = SeededGenerator(seed: 8)
        let x = Tensor.randomUniform([100_000], low: -2, high: 3, using: &rng).scalars.map(Double.init)
        #expect(x.allSatisfy { $0 >= -2 && $0 < 3 })
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count - 1)
        #expect(abs(mean - 0.5) < 0.04)  // standard error 0.0046
        #expect(abs(variance - 25.0 / 12) < 0.04)  // standard error 0.0059
    }

    @Test("dropout with the same seed drops the same elements; the generator advances between calls")
    func dropoutDeterministic() {
        let x = standardNormal([4, 25], seed: 60)
        var a = SeededGenerator(seed: 61)
        var b = SeededGenerator(seed: 61)
        let first = x.dropout(probability: 0.5, training: true, using: &a)
        #expect(first.scalars == x.dropout(probability: 0.5, training: true, using: &b).scalars)
        #expect(first.scalars != x.dropout(probability: 0.5, training: true, using: &a).scalars)
    }

    @Test(
        "dropout keeps element i exactly when the generator's i-th next() gives (bits >> 40)·2⁻²⁴ < 1 − p (the vector kernel's stream)",
        arguments: [0.1, 0.3, 0.5] as [Float])
    func dropoutMatchesScalarDraws(_ p: Float) {
        let x = standardNormal([3, 1037], seed: 70)
        var rng = SeededGenerator(seed: 71)
        var reference = rng
        let y = x.dropout(probability: p, training: true, using: &rng).scalars
        let keep = 1 - p
        let expected = x.scalars.map { v -> Float in Float(reference.next() >> 40) * 0x1p-24 < keep ? v * (1 / keep) : 0 }
        #expect(y == expected)
        #expect(rng == reference)
    }

    @Test("dropout keeps a fraction 1 − p of elements, scaled by 1/(1 − p) (inverted dropout; n = 100 000)")
    func dropoutStatistics() {
        var rng = SeededGenerator(seed: 62)
        let p: Float = 0.3
        let scale = 1 / (1 - p)
        let y = Tensor.ones([100_000]).dropout(probability: p, training: true, using: &rng).scalars
        #expect(y.allSatisfy { $0 == 0 || $0 == scale })
        let kept = Double(y.filter { $0 != 0 }.count) / Double(y.count)
        #expect(abs(kept - 0.7) < 0.01)  // standard error 0.0014
        let mean = y.reduce(0) { $0 + Double($1) } / Double(y.count)
        #expect(abs(mean - 1) < 0.015)  // the expectation is preserved
    }

    @Test("dropout is the identity outside training or with p = 0, and draws no random numbers then")
    func dropoutIdentity() {
        let x = standardNormal([3, 4], seed: 63)
        var rng = SeededGenerator(seed: 64)
        let before = rng
        #expect(x.dropout(probability: 0.5, training: false, using: &rng).scalars == x.scalars)
        #expect(x.dropout(probability: 0, training: true, using: &rng).scalars == x.scalars)
        #expect(rng == before)
    }

    @Test("the dropout gradient uses the forward mask: ∂/∂x Σ dropout(x)·c = c/(1 − p) where kept, 0 where dropped")
    func dropoutGradientMask() {
        let x = standardNormal([6, 20], seed: 65).requiringGradient()
        let c = standardNormal([6, 20], seed: 66)
        var rng = SeededGenerator(seed: 67)
        let p: Float = 0.4
        let y = x.dropout(probability: p, training: true, using: &rng)
        let g = gradients(of: (y * c).sum(), withRespectTo: [x])[0].scalars
        let ys = y.scalars
        let cs = c.scalars
        let dropped = ys.filter { $0 == 0 }.count
        #expect(dropped > 0 && dropped < ys.count)
        for i in ys.indices {
            let expected: Float = ys[i] == 0 ? 0 : cs[i] * (1 / (1 - p))
            #expect(g[i] == expected, "element \(i): y = \(ys[i]), gradient \(g[i]), expected \(expected)")
        }
    }

    @Test("with a fixed mask, the dropout gradient matches finite differences")
    func dropoutFiniteDifferences() {
        expectGradientsMatchFiniteDifferences([standardNormal([3, 8], seed: 68)]) {
            var rng = SeededGenerator(seed: 69)
            return $0[0].dropout(probability: 0.25, training: true, using: &rng)
        }
    }
}
