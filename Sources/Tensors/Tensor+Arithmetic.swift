import Foundation
import TensorKernels

// Elementwise arithmetic with NumPy broadcasting; each op's forward and pullback side by side.

extension Tensor {
    /// Applies a broadcasting binary kernel; no recording.
    static func broadcastApply(_ a: Tensor, _ b: Tensor, name: String, _ op: BinaryOperator) -> Tensor {
        guard let plan = BroadcastPlan(a.shape, b.shape) else {
            preconditionFailure("[\(name)] shapes \(a.shape) and \(b.shape) cannot be broadcast together")
        }
        let out = Tensor.uninitialized(plan.outputShape)
        Kernels.binary(a.storage.pointer, b.storage.pointer, out.storage.pointer, plan: plan, op)
        return out
    }

    /// self op s elementwise; no recording.
    func applying(_ op: BinaryOperator, scalar s: Float) -> Tensor {
        let out = Tensor.uninitialized(shape)
        Kernels.binary(storage.pointer, scalar: s, out.storage.pointer, count: scalarCount, op)
        return out
    }

    /// Elementwise `f` of two same-shaped tensors; no recording. For pullbacks and fused kernels.
    package static func zipMap(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape, "[zipMap] shapes differ: \(a.shape) vs \(b.shape)")
        let out = Tensor.uninitialized(a.shape)
        Kernels.zip(a.storage.pointer, b.storage.pointer, out.storage.pointer, count: a.scalarCount, f)
        return out
    }

    /// Elementwise `f`; no recording.
    package func map(_ f: (Float) -> Float) -> Tensor {
        let out = Tensor.uninitialized(shape)
        Kernels.map(storage.pointer, out.storage.pointer, count: scalarCount, f)
        return out
    }

    /// A map by one of the C kernels (`Kernels.mapExp` and so on); no recording.
    func applying(_ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let out = Tensor.uninitialized(shape)
        kernel(storage.pointer, out.storage.pointer, scalarCount)
        return out
    }

    /// Sums a broadcast gradient back down to `target` (the pullback of broadcasting).
    package func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "[summed(toShape:)] cannot reduce \(shape) to \(target)")
        let padded = Array(repeating: 1, count: lead) + target
        let axes = (0..<rank).filter { padded[$0] == 1 && shape[$0] != 1 }
        return sum(alongAxes: axes, keepingDimensions: true).reshaped(to: target)
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let (sa, sb) = (a.shape, b.shape)
        return .result(broadcastApply(a, b, name: "add", .add), inputs: [a, b]) { g, needs in
            [needs[0] ? g.summed(toShape: sa) : nil, needs[1] ? g.summed(toShape: sb) : nil]
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let (sa, sb) = (a.shape, b.shape)
        return .result(broadcastApply(a, b, name: "sub", .subtract), inputs: [a, b]) { g, needs in
            [needs[0] ? g.summed(toShape: sa) : nil, needs[1] ? (-g).summed(toShape: sb) : nil]
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        .result(broadcastApply(a, b, name: "mul", .multiply), inputs: [a, b]) { g, needs in
            [needs[0] ? (g * b).summed(toShape: a.shape) : nil, needs[1] ? (g * a).summed(toShape: b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let y = broadcastApply(a, b, name: "div", .divide)
        return .result(y, inputs: [a, b]) { g, needs in
            [
                needs[0] ? (g / b).summed(toShape: a.shape) : nil,
                needs[1] ? (-(g * y) / b).summed(toShape: b.shape) : nil,
            ]
        }
    }

    public static prefix func - (x: Tensor) -> Tensor {
        .result(x.map { -$0 }, inputs: [x]) { g, _ in [-g] }
    }

    // MARK: Scalar operands

    public static func + (a: Tensor, s: Float) -> Tensor {
        .result(a.applying(.add, scalar: s), inputs: [a]) { g, _ in [g] }
    }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
    public static func - (s: Float, a: Tensor) -> Tensor {
        .result(a.map { s - $0 }, inputs: [a]) { g, _ in [-g] }
    }
    public static func * (a: Tensor, s: Float) -> Tensor {
        .result(a.applying(.multiply, scalar: s), inputs: [a]) { g, _ in [g * s] }
    }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
    public static func / (s: Float, a: Tensor) -> Tensor {
        let y = a.map { s / $0 }
        return .result(y, inputs: [a]) { g, _ in [Tensor.zipMap(g, Tensor.zipMap(y, a) { y, x in -y / x }) { $0 * $1 }] }
    }

    // MARK: Unary math

    public func exp() -> Tensor {
        let y = applying { Kernels.mapExp($0, $1, count: $2) }
        return .result(y, inputs: [self]) { g, _ in [Tensor.zipMap(g, y) { $0 * $1 }] }
    }

    public func log() -> Tensor {
        let x = self
        return .result(map { Foundation.log($0) }, inputs: [x]) { g, _ in [Tensor.zipMap(g, x) { $0 / $1 }] }
    }

    public func squareRoot() -> Tensor {
        let y = map { $0.squareRoot() }
        return .result(y, inputs: [self]) { g, _ in [Tensor.zipMap(g, y) { $0 / (2 * $1) }] }
    }

    public func squared() -> Tensor {
        let x = self
        return .result(map { $0 * $0 }, inputs: [x]) { g, _ in [Tensor.zipMap(g, x) { 2 * $0 * $1 }] }
    }

    public func sigmoid() -> Tensor {
        let y = applying { Kernels.mapSigmoid($0, $1, count: $2) }
        return .result(y, inputs: [self]) { g, _ in [Tensor.zipMap(g, y) { $0 * $1 * (1 - $1) }] }
    }

    public func tanh() -> Tensor {
        let y = map { Foundation.tanh($0) }
        return .result(y, inputs: [self]) { g, _ in [Tensor.zipMap(g, y) { $0 * (1 - $1 * $1) }] }
    }

    /// SiLU (swish): x · σ(x). Derivative σ(x)·(1 + x·(1 − σ(x))).
    public func silu() -> Tensor {
        let x = self
        return .result(applying { Kernels.mapSiLU($0, $1, count: $2) }, inputs: [x]) { g, _ in
            precondition(g.shape == x.shape, "[silu] gradient shape \(g.shape) differs from input \(x.shape)")
            let dx = Tensor.uninitialized(x.shape)
            Kernels.siluPullback(g.storage.pointer, x.storage.pointer, dx.storage.pointer, count: x.scalarCount)
            return [dx]
        }
    }
}

extension Tensor {
    /// ReLU: max(x, 0). The derivative is taken as 0 at x = 0, as PyTorch does.
    public func relu() -> Tensor {
        let x = self
        return .result(map { max($0, 0) }, inputs: [x]) { g, _ in [Tensor.zipMap(g, x) { $1 > 0 ? $0 : 0 }] }
    }
}
