import CKernels

extension Kernels {
    /// Sum of `count` contiguous floats with eight independent accumulators (Swift never
    /// reassociates float adds, so a plain loop would not vectorise). In C (Sources/CKernels) for
    /// the per-ISA builds.
    @inline(__always)
    package static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float { ddpm_sum(x, count) }

    /// Σ x[i]·y[i] over `count` contiguous floats, with FMA where the CPU has it.
    @inline(__always)
    package static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float { ddpm_dot(x, y, count) }

    /// out[o, i] = Σ_k x[o, k, i] for x viewed as `[outer, n, inner]`.
    ///
    /// Each output element is summed by one thread in a fixed order, and long rows are summed
    /// in fixed 4096-element blocks, so the result does not depend on the thread count.
    package static func sumAxis(
        _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        outer: Int, n: Int, inner: Int
    ) {
        if inner == 1 {
            let block = 4096
            if outer >= ComputeSettings.threadCount || n <= block {
                parallelFor(outer, grain: max(1, parallelGrain / max(n, 1))) { r in
                    ddpm_blocked_sum_rows(x + r.lowerBound * n, out + r.lowerBound, r.count, n, block)
                }
            } else {
                // Few long rows: blocks in parallel, then the partial sums in order.
                for o in 0..<outer {
                    let blocks = (n + block - 1) / block
                    let partial = UnsafeMutablePointer<Float>.allocate(capacity: blocks)
                    defer { partial.deallocate() }
                    let row = x + o * n
                    parallelFor(blocks, grain: 4) { r in
                        for b in r { partial[b] = sum(row + b * block, count: min(block, n - b * block)) }
                    }
                    var s: Float = 0
                    for b in 0..<blocks { s += partial[b] }
                    out[o] = s
                }
            }
            return
        }
        parallelFor(outer * inner, grain: parallelGrain / max(n, 1)) { r in
            // Work items are (o, i) pairs; walk them as row segments.
            var item = r.lowerBound
            while item < r.upperBound {
                let o = item / inner
                let i0 = item % inner
                let i1 = min(inner, i0 + (r.upperBound - item))
                let dst = out + o * inner
                for i in i0..<i1 { dst[i] = 0 }
                for k in 0..<n {
                    let src = x + (o * n + k) * inner
                    for i in i0..<i1 { dst[i] += src[i] }
                }
                item += i1 - i0
            }
        }
    }

    /// Copies `x` (contiguous, shape `shape`) into `out` with axes reordered by `permutation`:
    /// out dimension d is input dimension permutation[d].
    package static func permute(
        _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        shape: [Int], permutation: [Int]
    ) {
        let rank = shape.count
        var inStrides = Array(repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
        let outShape = permutation.map { shape[$0] }
        let strides = permutation.map { inStrides[$0] }
        let inner = outShape.last ?? 1
        let innerStride = strides.last ?? 1
        let rows = outShape.dropLast().reduce(1, *)
        parallelFor(rows, grain: max(1, parallelGrain / max(inner, 1))) { r in
            for row in r {
                var rest = row
                var offset = 0
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    offset += (rest % outShape[d]) * strides[d]
                    rest /= outShape[d]
                }
                let dst = out + row * inner
                let src = x + offset
                for i in 0..<inner { dst[i] = src[i * innerStride] }
            }
        }
    }
}
