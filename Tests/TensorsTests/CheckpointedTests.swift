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
}
