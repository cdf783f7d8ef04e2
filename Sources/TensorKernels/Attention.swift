import CKernels

/// Softmax attention over channel-major operands, one batch item (image × head) at a time.
///
/// Why a kernel and not matmul → softmax → matmul: those three ops stream a [B, T, T] score tensor
/// through memory three times (16 MiB per attention layer of the small U-Net at B = 64, T = 256).
/// Here each thread takes whole items (or, with fewer items than threads, the threads share each
/// item's GEMMs), and an item's T×T scores stay in that thread's buffer
/// (256 KiB at T = 256, L2-resident) from the first GEMM to the second. With `probabilities`, P
/// is also written out for the pullback (training); inference keeps nothing.
///
///     S = scale·qᵀ·k (T×T),  P = softmax_rows(S),  out = v·Pᵀ (d×T)
extension Kernels {
    package static func attention(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        batch: Int, dimensions d: Int, tokens t: Int, scale: Float, probabilities: UnsafeMutablePointer<Float>?
    ) {
        let (item, square) = (d * t, t * t)
        forEachItem(batch) { r, parallel in
            // S and P in separate buffers: in place, the softmax loops lose their vectorisation
            // (the compiler's overlap check fails and takes the scalar loop).
            let scores = Storage(uninitializedCount: square)
            let scratch = probabilities == nil ? Storage(uninitializedCount: square) : nil
            for b in r {
                let p = probabilities.map { $0 + b * square } ?? scratch!.pointer
                gemm(
                    transposeA: true, m: t, n: t, k: d, alpha: scale, a: q + b * item, lda: t, b: k + b * item, ldb: t,
                    c: scores.pointer, ldc: t, parallel: parallel)
                softmaxRows(scores.pointer, p, rows: t, n: t, parallel: parallel)
                gemm(
                    transposeB: true, m: d, n: t, k: t, a: v + b * item, lda: t, b: p, ldb: t, c: out + b * item, ldc: t,
                    parallel: parallel)
            }
        }
    }

    /// `body(items, parallel)`: one contiguous range of items per thread (parallel: false), or,
    /// with fewer items than threads (a single image), all of them here with each GEMM and
    /// softmax split over the threads.
    private static func forEachItem(_ batch: Int, _ body: (Range<Int>, Bool) -> Void) {
        if batch >= ComputeSettings.threadCount {
            parallelFor(batch) { body($0, false) }
        } else if batch > 0 {
            body(0..<batch, true)
        }
    }

    private static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, n: Int, parallel: Bool) {
        if parallel { return softmaxRows(x, y, rows: rows, n: n) }
        for row in 0..<rows { ddpm_softmax_row(x + row * n, y + row * n, n) }
    }

    /// The pullback of `attention` from its saved P, per item with the T×T gradients in a
    /// per-thread buffer: dv = dout·P, dP = doutᵀ·v, dS = P ⊙ (dP − Σ_j dP·P) (the softmax
    /// pullback), dq = scale·k·dSᵀ, dk = scale·q·dS.
    package static func attentionBackward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, probabilities p: UnsafePointer<Float>,
        dOut: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
        dv: UnsafeMutablePointer<Float>, batch: Int, dimensions d: Int, tokens t: Int, scale: Float
    ) {
        let (item, square) = (d * t, t * t)
        forEachItem(batch) { r, parallel in
            let (dp, ds) = (Storage(uninitializedCount: square), Storage(uninitializedCount: square))  // not in place (see above)
            for b in r {
                let (pb, gb) = (p + b * square, dOut + b * item)
                gemm(m: d, n: t, k: t, a: gb, lda: t, b: pb, ldb: t, c: dv + b * item, ldc: t, parallel: parallel)
                gemm(
                    transposeA: true, m: t, n: t, k: d, a: gb, lda: t, b: v + b * item, ldb: t, c: dp.pointer, ldc: t,
                    parallel: parallel)
                if parallel {
                    softmaxRowsBackward(pb, dp.pointer, ds.pointer, rows: t, n: t)
                } else {
                    for row in 0..<t { ddpm_softmax_row_backward(pb + row * t, dp.pointer + row * t, ds.pointer + row * t, t) }
                }
                gemm(
                    transposeB: true, m: d, n: t, k: t, alpha: scale, a: k + b * item, lda: t, b: ds.pointer, ldb: t,
                    c: dq + b * item, ldc: t, parallel: parallel)
                gemm(
                    m: d, n: t, k: t, alpha: scale, a: q + b * item, lda: t, b: ds.pointer, ldb: t, c: dk + b * item, ldc: t,
                    parallel: parallel)
            }
        }
    }
}
