extension Kernels {
    /// GroupNorm forward over x `[N, C, S]` (S = H·W) with G groups: each group is one contiguous
    /// block of (C/G)·S floats. Writes y, and per-(n, g) mean and 1/σ for the backward pass.
    /// With `silu`, y = SiLU(GroupNorm(x)) in the same pass (the U-Net always follows GN by SiLU).
    package static func groupNormForward(
        x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
        mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>,
        batch: Int, channels: Int, spatial: Int, groups: Int, epsilon: Float, silu: Bool = false
    ) {
        let perGroup = channels / groups, blockSize = perGroup * spatial
        parallelFor(batch * groups) { r in
            for ng in r {
                let block = x + ng * blockSize, out = y + ng * blockSize
                let mu = blockedSum(block, count: blockSize, block: 4096) / Float(blockSize)
                var acc = SIMD8<Float>(repeating: 0), i = 0
                let m8 = SIMD8<Float>(repeating: mu)
                while i + 8 <= blockSize {
                    let d = UnsafeRawPointer(block + i).loadUnaligned(as: SIMD8<Float>.self) - m8
                    acc.addProduct(d, d)
                    i += 8
                }
                var ss = acc.sum()
                while i < blockSize { let d = block[i] - mu; ss += d * d; i += 1 }
                let rstd = 1 / (ss / Float(blockSize) + epsilon).squareRoot()
                mean[ng] = mu
                inverseStd[ng] = rstd
                let c0 = (ng % groups) * perGroup
                for c in 0..<perGroup {
                    let scale = rstd * (gamma?[c0 + c] ?? 1), shift = (beta?[c0 + c] ?? 0) - mu * scale
                    let src = block + c * spatial, dst = out + c * spatial
                    if silu {
                        for s in 0..<spatial { let z = src[s] * scale + shift; dst[s] = z * fastSigmoid(z) }
                    } else {
                        for s in 0..<spatial { dst[s] = src[s] * scale + shift }
                    }
                }
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
        let perGroup = channels / groups, blockSize = perGroup * spatial
        let perChannel = UnsafeMutablePointer<Float>.allocate(capacity: 2 * batch * channels)
        defer { perChannel.deallocate() }
        let scratch = dx == nil && silu ? UnsafeMutablePointer<Float>.allocate(capacity: batch * channels * spatial) : nil
        defer { scratch?.deallocate() }
        parallelFor(batch * groups) { r in
            for ng in r {
                let n = ng / groups, c0 = (ng % groups) * perGroup
                let mu = mean[ng], rstd = inverseStd[ng]
                var sumD: Float = 0, sumDX: Float = 0
                for c in 0..<perGroup {
                    let offset = ng * blockSize + c * spatial
                    let xs = x + offset
                    var gs = dy + offset
                    let w = gamma?[c0 + c] ?? 1
                    if silu {  // dz = dy·SiLU'(z) into dx (or scratch), read back below
                        let dz = (dx ?? scratch!) + offset
                        let scale = rstd * w, shift = (beta?[c0 + c] ?? 0) - mu * scale
                        for s in 0..<spatial {
                            let z = xs[s] * scale + shift, sg = fastSigmoid(z)
                            dz[s] = gs[s] * sg * (1 + z * (1 - sg))
                        }
                        gs = UnsafePointer(dz)
                    }
                    let sg = sum(gs, count: spatial)
                    let sgx = (dot(gs, xs, count: spatial) - mu * sg) * rstd  // Σ dz·x̂
                    perChannel[2 * (n * channels + c0 + c)] = sgx
                    perChannel[2 * (n * channels + c0 + c) + 1] = sg
                    sumD += w * sg
                    sumDX += w * sgx
                }
                guard let dx else { continue }
                let count = Float(blockSize)
                let meanD = sumD / count, meanDX = sumDX / count
                for c in 0..<perGroup {
                    let w = gamma?[c0 + c] ?? 1
                    let offset = ng * blockSize + c * spatial
                    let xs = x + offset, out = dx + offset
                    let gs = silu ? UnsafePointer(out) : dy + offset
                    // dx = rstd·(w·dz − meanD − (x − μ)·rstd·meanDX)
                    let a = rstd * w, b = rstd * rstd * meanDX, cst = -rstd * meanD + mu * b
                    for s in 0..<spatial { out[s] = a * gs[s] - b * xs[s] + cst }
                }
            }
        }
        for c in 0..<channels {
            var sgx: Float = 0, sg: Float = 0
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
            for row in r {
                let src = x + row * n, dst = y + row * n
                var m = -Float.infinity
                for i in 0..<n { m = max(m, src[i]) }
                for i in 0..<n { dst[i] = fastExp(src[i] - m) }
                let inv = 1 / sum(dst, count: n)
                for i in 0..<n { dst[i] *= inv }
            }
        }
    }

    /// Softmax pullback per row: dx = y·(dy − Σ dy·y).
    package static func softmaxRowsBackward(
        _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, rows: Int, n: Int
    ) {
        parallelFor(rows, grain: max(1, parallelGrain / max(n, 1))) { r in
            for row in r {
                let ys = y + row * n, gs = dy + row * n, out = dx + row * n
                let s = dot(ys, gs, count: n)
                for i in 0..<n { out[i] = ys[i] * (gs[i] - s) }
            }
        }
    }
}
