import Tensors
import TestSupport
import Testing

// Tensor+Normalization.swift: group normalisation (optionally fused with SiLU) and softmax.

@Suite("Normalization (F.group_norm, torch.softmax)")
struct NormalizationTests {
    static let cases: [OpCase] = [
        OpCase("group_norm_g3", accumulating: true) { $0[0].groupNormalized(groups: 3, gamma: $0[1], beta: $0[2]) },
        OpCase("group_norm_g1", accumulating: true) { $0[0].groupNormalized(groups: 1, gamma: $0[1], beta: $0[2]) },
        OpCase("group_norm_rank3", accumulating: true) { $0[0].groupNormalized(groups: 2, gamma: $0[1], beta: $0[2]) },
        OpCase("group_norm_noaffine", accumulating: true) { $0[0].groupNormalized(groups: 2, gamma: nil, beta: nil) },
        OpCase("group_norm_silu", accumulating: true) {
            $0[0].groupNormalized(groups: 3, gamma: $0[1], beta: $0[2], fusingSiLU: true)
        },
        OpCase("softmax_axis1") { $0[0].softmax(alongAxis: 1) },
        OpCase("softmax_axis_last") { $0[0].softmax(alongAxis: -1) },
        OpCase("softmax_axis0") { $0[0].softmax(alongAxis: 0) },
    ]

    @Test("value and input gradients match PyTorch", arguments: cases)
    func matchesPyTorch(_ c: OpCase) throws { try expectMatchesPyTorch(c) }

    @Test("autodiff gradient matches central finite differences", arguments: cases)
    func matchesFiniteDifferences(_ c: OpCase) throws { try expectFiniteDifferencesMatch(c) }

    @Test("fused GroupNorm+SiLU equals SiLU applied after GroupNorm, value and gradients")
    func fusedEqualsComposite() {
        let x = standardNormal([2, 4, 3, 3], seed: 41).requiringGradient()
        let gamma = standardNormal([4], seed: 42).requiringGradient()
        let beta = standardNormal([4], seed: 43).requiringGradient()
        let probe = standardNormal([2, 4, 3, 3], seed: 44)
        let fused = x.groupNormalized(groups: 2, gamma: gamma, beta: beta, fusingSiLU: true)
        let composite = x.groupNormalized(groups: 2, gamma: gamma, beta: beta).silu()
        expectClose(fused, composite, absoluteTolerance: 1e-6, relativeTolerance: 1e-6, "value")
        let gf = gradients(of: (fused * probe).sum(), withRespectTo: [x, gamma, beta])
        let gc = gradients(of: (composite * probe).sum(), withRespectTo: [x, gamma, beta])
        for i in 0..<3 { expectClose(gf[i], gc[i], absoluteTolerance: 1e-5, relativeTolerance: 1e-5, "gradient \(i)") }
    }

    @Test("long groups (3 × 1023 floats, mean 20): value and gradients match a Float64 reference")
    func longGroupsMatchFloat64() {
        let (n, c, s, groups) = (2, 6, 1023, 2)
        let x = standardNormal([n, c, 33, 31], seed: 46, scale: 3) + 20
        let gamma = standardNormal([c], seed: 47)
        let beta = standardNormal([c], seed: 48)
        let probe = standardNormal([n, c, 33, 31], seed: 49)
        let inputs = [x, gamma, beta].map { $0.requiringGradient() }
        let y = inputs[0].groupNormalized(groups: groups, gamma: inputs[1], beta: inputs[2])
        let g = gradients(of: (y * probe).sum(), withRespectTo: inputs)
        let (xs, ws, bs, ps) = (
            x.scalars.map(Double.init), gamma.scalars.map(Double.init), beta.scalars.map(Double.init), probe.scalars.map(Double.init)
        )
        var (yRef, dxRef) = ([Double](repeating: 0, count: xs.count), [Double](repeating: 0, count: xs.count))
        var (dgRef, dbRef) = ([Double](repeating: 0, count: c), [Double](repeating: 0, count: c))
        let block = c / groups * s
        for start in stride(from: 0, to: xs.count, by: block) {
            let r = start..<(start + block)
            let mu = xs[r].reduce(0, +) / Double(block)
            let rstd = 1 / (xs[r].reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(block) + 1e-6).squareRoot()
            let channel = { (i: Int) in (i / s) % c }
            let d = r.map { ps[$0] * ws[channel($0)] }
            let hat = r.map { (xs[$0] - mu) * rstd }
            let meanD = d.reduce(0, +) / Double(block)
            let meanDHat = zip(d, hat).reduce(0) { $0 + $1.0 * $1.1 } / Double(block)
            for (k, i) in r.enumerated() {
                yRef[i] = hat[k] * ws[channel(i)] + bs[channel(i)]
                dxRef[i] = (d[k] - meanD - hat[k] * meanDHat) * rstd
                dgRef[channel(i)] += ps[i] * hat[k]
                dbRef[channel(i)] += ps[i]
            }
        }
        // Seen: value 1.9e-6, dx 2.4e-7, dβ 3e-5 (of 153), dγ 1.5e-4 (of 15: Σ dz·x − μ·Σ dz cancels at μ = 20).
        let references = [
            (y, yRef, "value", Float(1e-5)), (g[0], dxRef, "dx", 2e-6), (g[1], dgRef, "dgamma", 1e-3), (g[2], dbRef, "dbeta", 3e-4),
        ]
        for (t, reference, name, tolerance) in references {
            let expected = Tensor(shape: t.shape, scalars: reference.map(Float.init))
            expectClose(t.detached(), expected, absoluteTolerance: tolerance, name)
        }
    }

    @Test("each group of the output has mean 0 and variance 1 − O(ε) without affine parameters")
    func normalisedMoments() {
        let x = standardNormal([2, 6, 4, 4], seed: 45, scale: 3) + 5
        let y = x.groupNormalized(groups: 3, gamma: nil, beta: nil).reshaped(to: [6, 32])
        let mean = y.mean(alongAxes: [1])
        let variance = y.squared().mean(alongAxes: [1])
        expectClose(mean, .zeros([6]), absoluteTolerance: 1e-5, "group means")
        expectClose(variance, .ones([6]), absoluteTolerance: 1e-4, "group variances")
    }

    @Test("a constant group normalises to beta (variance 0 is guarded by ε)")
    func constantInput() {
        let y = Tensor(repeating: 3, shape: [1, 2, 2, 2])
            .groupNormalized(groups: 1, gamma: .ones([2]), beta: Tensor(shape: [2], scalars: [0.5, -1]))
        #expect(y.scalars.allSatisfy { $0.isFinite })
        expectClose(y, Tensor(shape: [1, 2, 2, 2], scalars: [0.5, 0.5, 0.5, 0.5, -1, -1, -1, -1]), absoluteTolerance: 1e-6, "output")
    }

    @Test("softmax rows sum to 1 and are invariant to adding a constant; large logits do not overflow")
    func softmaxProperties() {
        let x = standardNormal([3, 7], seed: 46, scale: 4)
        let y = x.softmax()
        expectClose(y.sum(alongAxes: [1]), .ones([3]), absoluteTolerance: 1e-6, "row sums")
        expectClose((x + 100).softmax(), y, absoluteTolerance: 2e-5, "shifted by 100")
        let big = Tensor(shape: [1, 3], scalars: [1000, 1000, -1000]).softmax()
        expectClose(big, Tensor(shape: [1, 3], scalars: [0.5, 0.5, 0]), absoluteTolerance: 1e-7, "saturated")
    }
}
