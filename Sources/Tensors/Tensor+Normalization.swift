import TensorKernels

// Group normalisation (Wu & He 2018), optionally fused with the SiLU that follows it in the U-Net.

extension Tensor {
    /// GroupNorm over `[N, C, ...]`: each of `groups` channel groups is normalised to zero mean
    /// and unit variance per sample, then scaled by `gamma[C]` and shifted by `beta[C]`.
    /// With `fusingSiLU`, returns SiLU(GroupNorm(x)) in one pass over memory.
    public func groupNormalized(
        groups: Int, gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-6,
        fusingSiLU: Bool = false
    ) -> Tensor {
        precondition(rank >= 2, "[groupNorm] input must be [N, C, ...], got \(shape)")
        let (batch, channels) = (shape[0], shape[1])
        precondition(groups >= 1 && channels % groups == 0, "[groupNorm] \(channels) channels are not divisible into \(groups) groups")
        for p in [gamma, beta].compactMap({ $0 }) {
            precondition(p.shape == [channels], "[groupNorm] affine parameter shape \(p.shape), expected [\(channels)]")
        }
        let spatial = scalarCount / max(batch * channels, 1)
        let x = self
        let statistics = Tensor.uninitialized([2, batch * groups])
        let mean = statistics.storage.pointer
        let inverseStd = mean + batch * groups
        let y = Tensor.uninitialized(shape)
        Kernels.groupNormForward(
            x: x.storage.pointer, gamma: gamma.map { UnsafePointer($0.storage.pointer) },
            beta: beta.map { UnsafePointer($0.storage.pointer) }, y: y.storage.pointer, mean: mean,
            inverseStd: inverseStd, batch: batch, channels: channels, spatial: spatial, groups: groups,
            epsilon: epsilon, silu: fusingSiLU)
        let inputs = [x] + [gamma, beta].compactMap { $0 }
        return .result(y, inputs: inputs) { g, needs in
            withExtendedLifetime(statistics) {}  // owns `mean` and `inverseStd`
            let dx = needs[0] ? Tensor.uninitialized(x.shape) : nil
            let dgamma = gamma != nil && needs[1] ? Tensor.uninitialized([channels]) : nil
            let dbeta = beta != nil && needs[needs.count - 1] ? Tensor.uninitialized([channels]) : nil
            Kernels.groupNormBackward(
                x: x.storage.pointer, dy: g.storage.pointer, gamma: gamma.map { UnsafePointer($0.storage.pointer) },
                beta: beta.map { UnsafePointer($0.storage.pointer) }, mean: mean, inverseStd: inverseStd,
                dx: dx?.storage.pointer, dgamma: dgamma?.storage.pointer, dbeta: dbeta?.storage.pointer,
                batch: batch, channels: channels, spatial: spatial, groups: groups, silu: fusingSiLU)
            return [dx] + (gamma != nil ? [dgamma] : []) + (beta != nil ? [dbeta] : [])
        }
    }

    /// Softmax along `axis`: exp(x − max) / Σ exp(x − max).
    public func softmax(alongAxis axis: Int = -1) -> Tensor {
        let axis = axis < 0 ? axis + rank : axis
        precondition(axis >= 0 && axis < rank, "[softmax] axis \(axis) out of range for shape \(shape)")
        if axis != rank - 1 {
            var perm = Array(0..<rank)
            perm.swapAt(axis, rank - 1)
            return permuted(perm).softmax(alongAxis: -1).permuted(perm)
        }
        let n = shape[rank - 1]
        let rows = scalarCount / max(n, 1)
        let y = Tensor.uninitialized(shape)
        Kernels.softmaxRows(storage.pointer, y.storage.pointer, rows: rows, n: n)
        return .result(y, inputs: [self]) { g, _ in
            let dx = Tensor.uninitialized(y.shape)
            Kernels.softmaxRowsBackward(y.storage.pointer, g.storage.pointer, dx.storage.pointer, rows: rows, n: n)
            return [dx]
        }
    }
}
