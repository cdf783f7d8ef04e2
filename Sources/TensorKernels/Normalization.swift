import CKernels

extension Kernels {
    /// GroupNorm forward over x `[N, C, S]` (S = H·W) with G groups: each group is one contiguous
    /// block of (C/G)·S floats. Writes y, and per-(n, g) mean and 1/σ for the backward pass.
    /// With `silu`, y = SiLU(GroupNorm(x)) in the same pass (the U-Net always follows GN by SiLU).
    /// The per-group loops are C (Sources/CKernels), built per vector ISA: they need FMA and wide
    /// vectors to be fast, which a portable Swift build does not get.
    package static func groupNormForward(
        x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>,
        batch: Int, channels: Int, spatial: Int, groups: Int, epsilon: Float, silu: Bool = false
    ) {
        let perGroup = channels / groups
        let blockSize = perGroup * spatial
        parallelFor(batch * groups) { r in
            for ng in r {
                let c0 = (ng % groups) * perGroup
                ddpm_group_norm_forward(
                    x + ng * blockSize, gamma.map { $0 + c0 }, beta.map { $0 + c0 }, y + ng * blockSize,
                    perGroup, spatial, epsilon, silu ? 1 : 0, mean + ng, inverseStd + ng)
            }
        }
    }

    /// GroupNorm backward. With x̂ = (x − μ)/σ and d = dz·γ:
    ///     dx = (d − mean(d) − x̂·mean(d·x̂)) / σ        (means over the group)
    ///     dγ[c] = Σ_{n,s} dz·x̂,   dβ[c] = Σ_{n,s} dz
    /// dz is dy, or with `silu` (the forward was SiLU(z), z = GroupNorm(x)) dz = dy·SiLU'(z) with z
    /// recomputed from x on the fly, so the fused op keeps no extra activation. dγ and dβ are
    /// reduced per (n, c) first, then over n in order (thread-count independent).
    package static func groupNormBackward(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
        mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>?, dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?,
        batch: Int, channels: Int, spatial: Int, groups: Int, silu: Bool = false
    ) {
        let perGroup = channels / groups
        let blockSize = perGroup * spatial
        let perChannel = UnsafeMutablePointer<Float>.allocate(capacity: 2 * batch * channels)
        defer { perChannel.deallocate() }
        let scratch = dx == nil && silu ? UnsafeMutablePointer<Float>.allocate(capacity: batch * channels * spatial) : nil
        defer { scratch?.deallocate() }
        parallelFor(batch * groups) { r in
            for ng in r {
                let n = ng / groups
                let c0 = (ng % groups) * perGroup
                let offset = ng * blockSize
                ddpm_group_norm_backward(
                    x + offset, dy + offset, gamma.map { $0 + c0 }, beta.map { $0 + c0 }, mean[ng], inverseStd[ng],
                    dx.map { $0 + offset }, (dx ?? scratch).map { $0 + offset },
                    perChannel + 2 * (n * channels + c0), perGroup, spatial, silu ? 1 : 0)
            }
        }
        for c in 0..<channels {
            var sgx: Float = 0
            var sg: Float = 0
            for n in 0..<batch {
                sgx += perChannel[2 * (n * channels + c)]
                sg += perChannel[2 * (n * channels + c) + 1]
            }
            dgamma?[c] = sgx
            dbeta?[c] = sg
        }
    }

    /// Softmax over the last axis of x viewed as `[rows, n]`.
    package static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
        parallelFor(rows, grain: max(1, parallelGrain / max(n, 1))) { r in
            for row in r { ddpm_softmax_row(x + row * n, y + row * n, n) }
        }
    }

    /// Softmax pullback per row: dx = y·(dy − Σ dy·y).
    package static func softmaxRowsBackward(
        _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, n: Int
    ) {
        parallelFor(rows, grain: max(1, parallelGrain / max(n, 1))) { r in
            for row in r { ddpm_softmax_row_backward(y + row * n, dy + row * n, dx + row * n, n) }
        }
    }
}
