import TensorKernels

// Matrix products: 2-D and batched, with transposes folded into the GEMM call.

/// scale · op(a) · op(b) for `[M, K]·[K, N]` or batched `[B, M, K]·[B, K, N]`; `transposeA`/`transposeB`
/// read the operand as its transpose without copying, and `scale` rides on the GEMM's alpha
/// (attention's 1/√d costs no extra pass).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false, scale: Float = 1) -> Tensor {
    precondition(
        (a.rank == 2 && b.rank == 2) || (a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0]),
        "[matmul] expected two rank-2 or two rank-3 tensors with equal batch, got \(a.shape) and \(b.shape)")
    let batched = a.rank == 3
    let ra = a.shape.suffix(2)
    let rb = b.shape.suffix(2)
    let (m, ka) = transposeA ? (ra.last!, ra.first!) : (ra.first!, ra.last!)
    let (kb, n) = transposeB ? (rb.last!, rb.first!) : (rb.first!, rb.last!)
    precondition(ka == kb, "[matmul] inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")")
    let batch = batched ? a.shape[0] : 1
    let out = Tensor.uninitialized(batched ? [batch, m, n] : [m, n])
    let pa = a.storage.pointer
    let pb = b.storage.pointer
    let pc = out.storage.pointer
    let (lda, ldb) = (ra.last!, rb.last!)
    let (strideA, strideB, strideC) = (m * ka, ka * n, m * n)
    func one(_ i: Int, parallel: Bool) {
        Kernels.gemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: ka, alpha: scale,
            a: pa + i * strideA, lda: lda, b: pb + i * strideB, ldb: ldb, c: pc + i * strideC, ldc: n,
            parallel: parallel)
    }
    if batch >= ComputeSettings.threadCount && batch > 1 {
        parallelFor(batch) { r in for i in r { one(i, parallel: false) } }
    } else {
        for i in 0..<batch { one(i, parallel: true) }
    }
    return .result(out, inputs: [a, b]) { g, needs in
        let da: Tensor? =
            !needs[0]
            ? nil
            : transposeA
                ? matmul(b, g, transposeA: transposeB, transposeB: true, scale: scale)
                : matmul(g, b, transposeB: !transposeB, scale: scale)
        let db: Tensor? =
            !needs[1]
            ? nil
            : transposeB
                ? matmul(g, a, transposeA: true, transposeB: transposeA, scale: scale)
                : matmul(a, g, transposeA: !transposeA, scale: scale)
        return [da, db]
    }
}

/// A dense layer as PyTorch lays it out: x `[N, in]`, weight `[out, in]`, bias `[out]` → x·Wᵀ + b.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(
        x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
        "[linear] input \(x.shape) does not match weight \(weight.shape) (expected [N, \(weight.shape.last ?? 0)])")
    let y = matmul(x, weight, transposeB: true)
    guard let bias else { return y }
    precondition(bias.shape == [weight.shape[0]], "[linear] bias shape \(bias.shape), expected [\(weight.shape[0])]")
    return y + bias
}
