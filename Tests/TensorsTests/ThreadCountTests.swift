import Tensors
import TestSupport
import Testing

// ComputeSettings.threadCount must not change results beyond float rounding: the kernels split
// work differently for 1, 2 and 3 threads (per image, per GEMM column block, per reduction block).
// Ops documented as thread-count independent (random fills, sums, group norm, softmax,
// elementwise) must agree exactly. Serialized: the thread count is process-wide.

/// Runs `body` with `ComputeSettings.threadCount = threads`, restoring the previous value.
func withThreadCount<R>(_ threads: Int, _ body: () -> R) -> R {
    let previous = ComputeSettings.threadCount
    ComputeSettings.threadCount = threads
    defer { ComputeSettings.threadCount = previous }
    return body()
}

/// `f` evaluated with 1, 2 and 3 threads; the results for 2 and 3 threads are compared with the
/// single-threaded ones, exactly or within `relativeTolerance` of the largest magnitude.
func expectThreadCountIndependent(
    exactly: Bool = false, relativeTolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation,
    _ f: () -> [String: Tensor]
) {
    let reference = withThreadCount(1, f)
    for threads in [2, 3] {
        let result = withThreadCount(threads, f)
        for (name, expected) in reference.sorted(by: { $0.key < $1.key }) {
            guard let actual = result[name] else {
                Issue.record("\(name) is missing from the \(threads)-thread result", sourceLocation: sourceLocation)
                continue
            }
            if exactly {
                #expect(
                    actual.shape == expected.shape && actual.scalars == expected.scalars,
                    "\(name) with \(threads) threads differs from 1 thread", sourceLocation: sourceLocation)
            } else {
                let scale = expected.scalars.map(abs).max() ?? 0
                expectClose(
                    actual, expected, absoluteTolerance: relativeTolerance * scale, relativeTolerance: relativeTolerance,
                    "\(name) with \(threads) threads vs 1 thread", sourceLocation: sourceLocation)
            }
        }
    }
}

/// Value and input gradients of Σ f(inputs)·probe, keyed "y" and "d0", "d1", ….
func valueAndGradients(_ inputs: [Tensor], probeSeed: UInt64 = 99, _ f: ([Tensor]) -> Tensor) -> [String: Tensor] {
    let variables = inputs.map { $0.requiringGradient() }
    let y = f(variables)
    let grads = gradients(of: (y * standardNormal(y.shape, seed: probeSeed)).sum(), withRespectTo: variables)
    var out = ["y": y.detached()]
    for (i, g) in grads.enumerated() { out["d\(i)"] = g }
    return out
}

@Suite("Thread count does not change results", .serialized)
struct ThreadCountTests {
    @Test("conv2d forward and backward, per-image split (batch 3), agree to 1e-5 relative")
    func convolutionPerImage() {
        let x = standardNormal([3, 8, 12, 12], seed: 71)
        let w = standardNormal([16, 8, 3, 3], seed: 72, scale: 0.2)
        let b = standardNormal([16], seed: 73)
        expectThreadCountIndependent {
            valueAndGradients([x, w, b]) { conv2d($0[0], weight: $0[1], bias: $0[2], padding: .uniform(1)) }
        }
        expectThreadCountIndependent {
            valueAndGradients([x, w]) {
                conv2d($0[0], weight: $0[1], stride: 2, padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1))
            }
        }
    }

    @Test("conv2d forward and backward, split GEMM (batch 1, 2·M·N·K ≥ 2²¹), agree to 1e-5 relative")
    func convolutionSplitGEMM() {
        let x = standardNormal([1, 16, 16, 16], seed: 74)
        let w = standardNormal([32, 16, 3, 3], seed: 75, scale: 0.1)
        expectThreadCountIndependent {
            valueAndGradients([x, w]) { conv2d($0[0], weight: $0[1], padding: .uniform(1)) }
        }
        let w1 = standardNormal([64, 16, 1, 1], seed: 76)  // pointwise: GEMM straight on the input
        expectThreadCountIndependent { valueAndGradients([x, w1]) { conv2d($0[0], weight: $0[1]) } }
    }

    @Test("matmul 128×128 (split GEMM) and batched [4, 32, 32] agree to 1e-5 relative, with gradients")
    func matrixProducts() {
        let a = standardNormal([128, 128], seed: 77)
        let b = standardNormal([128, 128], seed: 78)
        expectThreadCountIndependent { valueAndGradients([a, b]) { matmul($0[0], $0[1], transposeB: true) } }
        let c = standardNormal([4, 32, 32], seed: 79)
        let d = standardNormal([4, 32, 32], seed: 80)
        expectThreadCountIndependent { valueAndGradients([c, d]) { matmul($0[0], $0[1], transposeA: true) } }
    }

    @Test("group norm (with and without SiLU) forward and backward are identical")
    func groupNorm() {
        let x = standardNormal([2, 8, 8, 8], seed: 81)
        let gamma = standardNormal([8], seed: 82)
        let beta = standardNormal([8], seed: 83)
        for silu in [false, true] {
            expectThreadCountIndependent(exactly: true) {
                valueAndGradients([x, gamma, beta]) { $0[0].groupNormalized(groups: 4, gamma: $0[1], beta: $0[2], fusingSiLU: silu) }
            }
        }
    }

    @Test("sums (long blocked rows, inner axes, all) and softmax are identical")
    func reductions() {
        let long = standardNormal([100_000], seed: 84)
        let rows = standardNormal([3, 70_000], seed: 85)
        let columns = standardNormal([64, 600], seed: 86)
        let logits = standardNormal([64, 1024], seed: 87)
        expectThreadCountIndependent(exactly: true) {
            [
                "sum": long.sum(), "rows": rows.sum(alongAxes: [1]), "columns": columns.sum(alongAxes: [0]),
                "mean": columns.mean(alongAxes: [1], keepingDimensions: true), "softmax": logits.softmax(),
            ]
        }
        expectThreadCountIndependent(exactly: true) { valueAndGradients([logits]) { $0[0].softmax() } }
    }

    @Test("random fills, dropout and broadcasting elementwise ops are identical")
    func randomAndElementwise() {
        let x = standardNormal([100_000], seed: 88)
        let y = standardNormal([4, 50_000], seed: 89)
        let z = standardNormal([4, 1], seed: 90)
        expectThreadCountIndependent(exactly: true) {
            var rng = SeededGenerator(seed: 91)
            return [
                "normal": Tensor.randomNormal([100_001], using: &rng), "uniform": Tensor.randomUniform([100_000], using: &rng),
                "dropout": x.dropout(probability: 0.3, training: true, using: &rng),
                "silu": x.silu(), "exp": x.exp(), "broadcast": y * z + y / (z.squared() + 1),
            ]
        }
    }

    @Test("withThreadCount restores the previous thread count")
    func restoresThreadCount() {
        let before = ComputeSettings.threadCount
        _ = withThreadCount(before + 3) { ComputeSettings.threadCount }
        #expect(ComputeSettings.threadCount == before)
    }
}
