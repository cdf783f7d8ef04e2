import TensorKernels

// Shape manipulation: reshape (no copy), permute, broadcast, concatenate, slice.

extension Tensor {
    /// The same elements with a new shape; one dimension may be -1 (inferred). Shares storage.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(
                known > 0 && scalarCount % known == 0,
                "[reshape] cannot reshape \(shape) (\(scalarCount) elements) to \(newShape)")
            target[i] = scalarCount / known
        }
        precondition(
            target.reduce(1, *) == scalarCount,
            "[reshape] cannot reshape \(shape) (\(scalarCount) elements) to \(newShape)")
        let oldShape = shape
        return .result(Tensor(shape: target, storage: storage), inputs: [self]) { g, _ in [g.reshaped(to: oldShape)] }
    }

    /// Axes reordered: result dimension d is input dimension `permutation[d]`.
    public func permuted(_ permutation: [Int]) -> Tensor {
        precondition(
            permutation.sorted() == Array(0..<rank),
            "[permute] \(permutation) is not a permutation of the axes of shape \(shape)")
        let out = Tensor.uninitialized(permutation.map { shape[$0] })
        Kernels.permute(storage.pointer, out.storage.pointer, shape: shape, permutation: permutation)
        var inverse = Array(repeating: 0, count: rank)
        for (d, p) in permutation.enumerated() { inverse[p] = d }
        return .result(out, inputs: [self]) { g, _ in [g.permuted(inverse)] }
    }

    /// The last two axes swapped.
    public func transposed() -> Tensor {
        precondition(rank >= 2, "[transpose] needs rank >= 2, got shape \(shape)")
        return permuted(Array(0..<rank - 2) + [rank - 1, rank - 2])
    }

    /// Broadcast to `target` by NumPy's rule (copies).
    public func broadcasted(to target: [Int]) -> Tensor {
        precondition(
            BroadcastPlan.broadcastShape(shape, target) == target,
            "[broadcast] shape \(shape) cannot be broadcast to \(target)")
        if shape == target { return self }
        let source = shape
        let out = Tensor.uninitialized(target)
        Kernels.expand(storage.pointer, out.storage.pointer, plan: BroadcastPlan(target, shape)!)
        return .result(out, inputs: [self]) { g, _ in [g.summed(toShape: source)] }
    }

    /// Joins `tensors` along `axis`; all other dimensions must agree.
    public static func concatenated(_ tensors: [Tensor], alongAxis axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "[concat] needs at least one tensor")
        let first = tensors[0].shape
        precondition(axis >= 0 && axis < first.count, "[concat] axis \(axis) out of range for shape \(first)")
        for t in tensors {
            precondition(
                t.rank == first.count && (0..<first.count).allSatisfy { $0 == axis || t.shape[$0] == first[$0] },
                "[concat] shapes \(first) and \(t.shape) differ outside axis \(axis)")
        }
        let outer = first[..<axis].reduce(1, *)
        let inner = first[(axis + 1)...].reduce(1, *)
        let sizes = tensors.map { $0.shape[axis] }
        var outShape = first
        outShape[axis] = sizes.reduce(0, +)
        let out = Tensor.uninitialized(outShape)
        let rowOut = outShape[axis] * inner
        var offset = 0
        for (t, size) in zip(tensors, sizes) {
            let rowIn = size * inner
            let src = t.storage.pointer
            let dst = out.storage.pointer + offset
            parallelFor(outer, grain: max(1, parallelGrain / max(rowIn, 1))) { r in
                for o in r { (dst + o * rowOut).update(from: src + o * rowIn, count: rowIn) }
            }
            offset += rowIn
        }
        return .result(out, inputs: tensors) { g, needs in
            var start = 0
            return sizes.enumerated().map { i, size in
                defer { start += size }
                return needs[i] ? g.sliced(alongAxis: axis, start..<start + size) : nil
            }
        }
    }

    /// Elements `range` along `axis` (copies).
    public func sliced(alongAxis axis: Int, _ range: Range<Int>) -> Tensor {
        precondition(axis >= 0 && axis < rank, "[slice] axis \(axis) out of range for shape \(shape)")
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[axis],
            "[slice] range \(range) out of bounds for axis \(axis) of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape
        outShape[axis] = range.count
        let out = Tensor.uninitialized(outShape)
        let rowIn = shape[axis] * inner
        let rowOut = range.count * inner
        let src = storage.pointer + range.lowerBound * inner
        let dst = out.storage.pointer
        parallelFor(outer, grain: max(1, parallelGrain / max(rowOut, 1))) { r in
            for o in r { (dst + o * rowOut).update(from: src + o * rowIn, count: rowOut) }
        }
        let fullShape = shape
        return .result(out, inputs: [self]) { g, _ in
            // Pullback: g placed back into zeros.
            let dx = Tensor.zeros(fullShape)
            let gs = g.storage.pointer
            let dxs = dx.storage.pointer + range.lowerBound * inner
            for o in 0..<outer { (dxs + o * rowIn).update(from: gs + o * rowOut, count: rowOut) }
            return [dx]
        }
    }
}
