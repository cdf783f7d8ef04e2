import TensorKernels

// Sums and means over axes, and the mean squared error built from them.

extension Tensor {
    /// Sum over `axes` (any order, no duplicates). With `keepingDimensions` the reduced axes stay as 1.
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let axes = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
        precondition(axes.allSatisfy { $0 >= 0 && $0 < rank }, "[sum] axes \(axes.sorted()) out of range for shape \(shape)")
        // Reduce one axis at a time, innermost first, viewing the tensor as [outer, n, inner].
        var current = self.detached()
        for axis in axes.sorted(by: >) {
            let s = current.shape
            let outer = s[..<axis].reduce(1, *)
            let n = s[axis]
            let inner = s[(axis + 1)...].reduce(1, *)
            var reducedShape = s
            reducedShape[axis] = 1
            let out = Tensor.uninitialized(reducedShape)
            Kernels.sumAxis(current.storage.pointer, out.storage.pointer, outer: outer, n: n, inner: inner)
            current = out
        }
        let kept = current.shape
        let final = keepingDimensions ? kept : shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
        let source = shape
        return .result(Tensor(shape: final, storage: current.storage), inputs: [self]) { g, _ in
            [g.reshaped(to: kept).broadcasted(to: source)]
        }
    }

    /// Sum of all elements, as a rank-0 tensor.
    public func sum() -> Tensor { sum(alongAxes: Array(0..<rank)) }

    /// Mean over `axes`.
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let count = Set(axes.map { $0 < 0 ? $0 + rank : $0 }).map { shape[$0] }.reduce(1, *)
        return sum(alongAxes: axes, keepingDimensions: keepingDimensions) * (1 / Float(count))
    }

    /// Mean of all elements, as a rank-0 tensor.
    public func mean() -> Tensor { mean(alongAxes: Array(0..<rank)) }
}

/// Mean squared error, mean over every element (L_simple's ‖ε − ε_θ‖² up to a constant; eq. 14).
public func meanSquaredError(_ predicted: Tensor, _ target: Tensor) -> Tensor {
    precondition(
        predicted.shape == target.shape,
        "[meanSquaredError] shapes differ: predicted \(predicted.shape), target \(target.shape)")
    return (predicted - target).squared().mean()
}
