import Foundation

// Clamping and the error function: what the diffusion code needs beyond plain arithmetic
// (clipping x̂₀ to [−1, 1], and the normal CDF of the discretised Gaussian decoder, Ho et al. eq. 13).

extension Tensor {
    /// Each element limited to `[lower, upper]`. The gradient passes where the input lies inside the
    /// range (inclusive) and is zero where it was clamped.
    public func clamped(lower: Float, upper: Float) -> Tensor {
        precondition(lower <= upper, "[clamped] lower bound \(lower) exceeds upper bound \(upper)")
        let x = self
        return .result(map { Swift.min(Swift.max($0, lower), upper) }, inputs: [x]) { g, _ in
            [Tensor.zipMap(g, x) { g, x in x >= lower && x <= upper ? g : 0 }]
        }
    }

    /// The error function, erf(x) = 2/√π ∫₀ˣ e^(−u²) du, elementwise; d/dx erf(x) = 2/√π · e^(−x²).
    public func erf() -> Tensor {
        let x = self
        return .result(map { Foundation.erf($0) }, inputs: [x]) { g, _ in
            [Tensor.zipMap(g, x) { g, x in g * 1.128_379_2 * Foundation.exp(-x * x) }]
        }
    }
}
