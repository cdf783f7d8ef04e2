import TensorKernels

/// Softmax attention of channel-major q, k, v `[B, d, T]` (B = images × heads, T = positions):
///
///     out = v·softmax(scale·qᵀ·k)ᵀ    ([B, d, T]; softmax over each query's row of keys)
///
/// the value of `matmul(v, matmul(q, k, transposeA: true, scale: scale).softmax(alongAxis: -1),
/// transposeB: true)`, computed one item at a time so the scores never form a [B, T, T] tensor
/// in inference (`Kernels.attention` says why). When recording, P is kept for the pullback.
public func attention(query q: Tensor, key k: Tensor, value v: Tensor, scale: Float) -> Tensor {
    precondition(
        q.rank == 3 && k.shape == q.shape && v.shape == q.shape,
        "[attention] query, key and value must be [B, d, T] of one shape, got \(q.shape), \(k.shape), \(v.shape)")
    let (b, d, t) = (q.shape[0], q.shape[1], q.shape[2])
    let recording = GradientRecording.isEnabled && [q, k, v].contains(where: \.requiresGradient)
    let p = recording ? Tensor.uninitialized([b, t, t]) : nil
    let out = Tensor.uninitialized([b, d, t])
    Kernels.attention(
        q: q.storage.pointer, k: k.storage.pointer, v: v.storage.pointer, out: out.storage.pointer, batch: b, dimensions: d,
        tokens: t, scale: scale, probabilities: p?.storage.pointer)
    return .result(out, inputs: [q, k, v]) { g, needs in
        let (dq, dk, dv) = (Tensor.uninitialized(q.shape), Tensor.uninitialized(q.shape), Tensor.uninitialized(q.shape))
        Kernels.attentionBackward(
            q: q.storage.pointer, k: k.storage.pointer, v: v.storage.pointer, probabilities: p!.storage.pointer,
            dOut: g.storage.pointer, dq: dq.storage.pointer, dk: dk.storage.pointer, dv: dv.storage.pointer, batch: b,
            dimensions: d, tokens: t, scale: scale)
        return [needs[0] ? dq : nil, needs[1] ? dk : nil, needs[2] ? dv : nil]
    }
}
