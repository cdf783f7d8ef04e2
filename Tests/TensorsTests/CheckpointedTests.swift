import Tensors
import TestSupport
import Testing

@Suite("Gradient checkpointing")
struct CheckpointedTests {
    @Test("a checkpointed block has the value and gradients of the plain one")
    func sameAsPlain() {
        let x = standardNormal([2, 4, 5, 5], seed: 31)
        let gamma = standardNormal([4], seed: 32)
        let beta = standardNormal([4], seed: 33)
        let w = standardNormal([3, 4, 3, 3], seed: 34, scale: 0.3)
        func block(_ t: [Tensor]) -> Tensor {
            conv2d(t[0].groupNormalized(groups: 2, gamma: t[1], beta: t[2], fusingSiLU: true), weight: t[3], padding: .uniform(1))
        }
        let plainInputs = [x, gamma, beta, w].map { $0.requiringGradient() }
        let plain = block(plainInputs)
        let probe = standardNormal(plain.shape, seed: 35)
        let plainGrads = gradients(of: (plain * probe).sum(), withRespectTo: plainInputs)
        let inputs = [x, gamma, beta, w].map { $0.requiringGradient() }
        let checkpointed = Tensor.checkpointed(inputs, block)
        #expect(checkpointed.maxAbsoluteDifference(plain.detached()) == 0)
        let grads = gradients(of: (checkpointed * probe).sum(), withRespectTo: inputs)
        for (a, b) in zip(grads, plainGrads) { #expect(a.maxAbsoluteDifference(b) < 1e-5) }
        expectGradientsMatchFiniteDifferences([x, gamma, beta, w]) { Tensor.checkpointed($0, block) }
    }

    @Test("only the inputs that need a gradient get one")
    func partialNeeds() {
        let x = standardNormal([1, 2, 4, 4], seed: 36)
        let w = standardNormal([2, 2, 3, 3], seed: 37).requiringGradient()
        let y = Tensor.checkpointed([x, w]) { conv2d($0[0], weight: $0[1], padding: .uniform(1)) }
        let g = gradients(of: y.sum(), withRespectTo: [w])[0]
        let reference = gradients(of: conv2d(x, weight: w, padding: .uniform(1)).sum(), withRespectTo: [w])[0]
        #expect(g.maxAbsoluteDifference(reference) < 1e-5)
    }

    @Test("a convolution of a recomputed activation has the value and gradients of the plain one")
    func recomputedActivation() {
        let x = standardNormal([2, 4, 5, 5], seed: 41)
        let gamma = standardNormal([4], seed: 42)
        let beta = standardNormal([4], seed: 43)
        let w = standardNormal([3, 4, 3, 3], seed: 44, scale: 0.3)
        let b = standardNormal([3], seed: 45)
        func activation(_ t: [Tensor]) -> Tensor { t[0].groupNormalized(groups: 2, gamma: t[1], beta: t[2], fusingSiLU: true) }
        let plainInputs = [x, gamma, beta, w, b].map { $0.requiringGradient() }
        let plain = conv2d(activation(Array(plainInputs[0..<3])), weight: plainInputs[3], bias: plainInputs[4], padding: .uniform(1))
        let probe = standardNormal(plain.shape, seed: 46)
        let plainGrads = gradients(of: (plain * probe).sum(), withRespectTo: plainInputs)
        let inputs = [x, gamma, beta, w, b].map { $0.requiringGradient() }
        let y = conv2d(recomputing: activation, of: Array(inputs[0..<3]), weight: inputs[3], bias: inputs[4], padding: .uniform(1))
        #expect(y.maxAbsoluteDifference(plain.detached()) == 0)
        let grads = gradients(of: (y * probe).sum(), withRespectTo: inputs)
        for (a, b) in zip(grads, plainGrads) { #expect(a.maxAbsoluteDifference(b) < 1e-5) }
        expectGradientsMatchFiniteDifferences([x, gamma, beta, w, b]) {
            conv2d(recomputing: activation, of: Array($0[0..<3]), weight: $0[3], bias: $0[4], padding: .uniform(1))
        }
    }

    @Test("a recomputed activation gives gradients only where they are needed")
    func recomputedActivationPartialNeeds() {
        let x = standardNormal([1, 2, 4, 4], seed: 47)
        let w = standardNormal([2, 2, 3, 3], seed: 48)
        func activation(_ t: [Tensor]) -> Tensor { t[0] * t[0] }
        let xOnly = x.requiringGradient()
        let y = conv2d(recomputing: activation, of: [xOnly], weight: w, padding: .uniform(1))
        let gx = gradients(of: y.sum(), withRespectTo: [xOnly])[0]
        let xPlain = x.requiringGradient()
        let gxPlain = gradients(of: conv2d(xPlain * xPlain, weight: w, padding: .uniform(1)).sum(), withRespectTo: [xPlain])[0]
        #expect(gx.maxAbsoluteDifference(gxPlain) < 1e-5)
        let wOnly = w.requiringGradient()
        let z = conv2d(recomputing: activation, of: [x], weight: wOnly, padding: .uniform(1))
        let gw = gradients(of: z.sum(), withRespectTo: [wOnly])[0]
        let gwPlain = gradients(of: conv2d(x * x, weight: wOnly, padding: .uniform(1)).sum(), withRespectTo: [wOnly])[0]
        #expect(gw.maxAbsoluteDifference(gwPlain) < 1e-5)
        #expect(gw.maxAbsoluteDifference(.zeros(gw.shape)) > 0.1)
    }
}
