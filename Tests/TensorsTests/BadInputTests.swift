import Tensors
import Testing

// Programmer errors stop the process with a message naming the op and the shapes involved
// (house rule 3). Each test runs its body in a child process (Swift Testing exit tests) and
// compares the full message on the child's standard error.

/// Expects the exit test's standard error to contain "Fatal error: `message`".
func expectStopped(_ result: ExitTest.Result?, with message: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let result else { return }  // the exit expectation itself already failed
    let standardError = String(decoding: result.standardErrorContent, as: UTF8.self)
    #expect(
        standardError.contains("Fatal error: \(message)"), "standard error was: \(standardError)",
        sourceLocation: sourceLocation)
}

@Suite("Bad input stops with the op name and shapes")
struct BadInputTests {
    @Test("add of non-broadcastable shapes names [add] and both shapes")
    func addBroadcastMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }
        expectStopped(result, with: "[add] shapes [2, 3] and [4] cannot be broadcast together")
    }

    @Test("mul of [2,3,4] and [3,2] names [mul] and both shapes")
    func mulBroadcastMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3, 4]) * Tensor.zeros([3, 2])
        }
        expectStopped(result, with: "[mul] shapes [2, 3, 4] and [3, 2] cannot be broadcast together")
    }

    @Test("matmul with different inner dimensions names [matmul] and both shapes")
    func matmulInnerMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))
        }
        expectStopped(result, with: "[matmul] inner dimensions differ: [2, 3] × [4, 5]")
    }

    @Test("matmul marks a transposed operand with ᵀ in the message")
    func matmulTransposedMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor.zeros([2, 3]), Tensor.zeros([2, 5]), transposeB: true)
        }
        expectStopped(result, with: "[matmul] inner dimensions differ: [2, 3] × [2, 5]ᵀ")
    }

    @Test("batched matmul with different batch sizes names both shapes")
    func matmulBatchMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor.zeros([2, 3, 4]), Tensor.zeros([3, 4, 5]))
        }
        expectStopped(result, with: "[matmul] expected two rank-2 or two rank-3 tensors with equal batch, got [2, 3, 4] and [3, 4, 5]")
    }

    @Test("linear with a weight of the wrong input size names [linear] and both shapes")
    func linearMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = linear(Tensor.zeros([2, 3]), weight: Tensor.zeros([4, 5]), bias: nil)
        }
        expectStopped(result, with: "[linear] input [2, 3] does not match weight [4, 5] (expected [N, 5])")
    }

    @Test("conv2d with a weight for the wrong channel count names [conv2d] and both shapes")
    func conv2dChannelMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = conv2d(Tensor.zeros([1, 3, 5, 5]), weight: Tensor.zeros([4, 2, 3, 3]))
        }
        expectStopped(result, with: "[conv2d] weight [4, 2, 3, 3] does not match input [1, 3, 5, 5] (expected [Cout, 3, kh, kw])")
    }

    @Test("conv2d with a bias of the wrong length names [conv2d] and the expected shape")
    func conv2dBiasMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = conv2d(Tensor.zeros([1, 3, 5, 5]), weight: Tensor.zeros([4, 3, 3, 3]), bias: Tensor.zeros([3]))
        }
        expectStopped(result, with: "[conv2d] bias shape [3], expected [4]")
    }

    @Test("reshape to a different element count names [reshape], both shapes and the count")
    func reshapeCountMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).reshaped(to: [4, 2])
        }
        expectStopped(result, with: "[reshape] cannot reshape [2, 3] (6 elements) to [4, 2]")
    }

    @Test("concatenation of tensors differing off the axis names [concat] and both shapes")
    func concatMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.concatenated([Tensor.zeros([2, 3]), Tensor.zeros([2, 4])], alongAxis: 0)
        }
        expectStopped(result, with: "[concat] shapes [2, 3] and [2, 4] differ outside axis 0")
    }

    @Test("group norm with channels not divisible by groups names [groupNorm]")
    func groupNormGroups() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 6, 2, 2]).groupNormalized(groups: 4, gamma: nil, beta: nil)
        }
        expectStopped(result, with: "[groupNorm] 6 channels are not divisible into 4 groups")
    }

    @Test("mean squared error of different shapes names both shapes")
    func mseMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = meanSquaredError(Tensor.zeros([2, 3]), Tensor.zeros([3, 2]))
        }
        expectStopped(result, with: "[meanSquaredError] shapes differ: predicted [2, 3], target [3, 2]")
    }

    @Test("dropout probability 1 is rejected")
    func dropoutProbability() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var rng = SeededGenerator(seed: 0)
            _ = Tensor.zeros([2]).dropout(probability: 1, training: true, using: &rng)
        }
        expectStopped(result, with: "[dropout] probability must be in [0, 1), got 1.0")
    }

    @Test("gradients of a non-scalar loss are rejected")
    func nonScalarLoss() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor.ones([2]).requiringGradient()
            _ = gradients(of: x * 2, withRespectTo: [x])
        }
        expectStopped(result, with: "[gradients] loss must have one element, got shape [2]")
    }
}
