import CKernels

/// Raw elementwise loops: maps and broadcasting binary operations.
package enum Kernels {}

/// Below this many elements a loop runs on one thread: waking a second one costs more.
@usableFromInline package let parallelGrain = 1 << 15

extension Kernels {
    /// y[i] = f(x[i]) over `count` elements, split across threads.
    @inlinable @inline(__always)
    package static func map(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
        _ f: (Float) -> Float
    ) {
        parallelFor(count, grain: parallelGrain) { r in
            for i in r { y[i] = f(x[i]) }
        }
    }

    /// z[i] = f(x[i], y[i]) over `count` elements, split across threads.
    @inlinable @inline(__always)
    package static func zip(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>,
        count: Int, _ f: (Float, Float) -> Float
    ) {
        parallelFor(count, grain: parallelGrain) { r in
            for i in r { z[i] = f(x[i], y[i]) }
        }
    }

    /// out = a op b with NumPy broadcasting, given a plan from `BroadcastPlan`. The rows run in C
    /// (Sources/CKernels/elementwise.c): a closure here stayed an indirect call per element.
    package static func binary(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        plan: BroadcastPlan, _ op: BinaryOperator
    ) {
        let inner = plan.innerCount
        let sa = plan.innerStrideA
        let sb = plan.innerStrideB
        let code = op.rawValue
        if plan.outerShape.isEmpty {
            parallelFor(inner, grain: parallelGrain) { r in
                let lo = r.lowerBound
                ddpm_binary(code, a + lo * sa, sa, b + lo * sb, sb, out + lo, r.count)
            }
            return
        }
        let outerCount = plan.outerShape.reduce(1, *)
        parallelFor(outerCount, grain: max(1, parallelGrain / max(inner, 1))) { range in
            for o in range {
                var (oa, ob) = (0, 0)
                var rest = o
                for d in stride(from: plan.outerShape.count - 1, through: 0, by: -1) {
                    let idx = rest % plan.outerShape[d]
                    rest /= plan.outerShape[d]
                    oa += idx * plan.outerStridesA[d]
                    ob += idx * plan.outerStridesB[d]
                }
                ddpm_binary(code, a + oa, sa, b + ob, sb, out + o * inner, inner)
            }
        }
    }

    /// out = a op s over `count` floats.
    package static func binary(
        _ a: UnsafePointer<Float>, scalar s: Float, _ out: UnsafeMutablePointer<Float>, count: Int, _ op: BinaryOperator
    ) {
        withUnsafePointer(to: s) { s in
            parallelFor(count, grain: parallelGrain) { r in
                ddpm_binary(op.rawValue, a + r.lowerBound, 1, s, 0, out + r.lowerBound, r.count)
            }
        }
    }
}

extension Kernels {
    /// Inverted dropout with `SeededGenerator`'s counter-based draws: y[i] = x[i]·scale when
    /// unit(draw(base, first + i)) < keep, else 0. In C: the 64-bit hash vectorises only there.
    package static func dropout(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, base: UInt64, first: Int, keep: Float,
        scale: Float
    ) {
        // unit(bits) is (bits >> 40)·2⁻²⁴ exactly, so unit < keep ⟺ bits >> 40 < ⌈keep·2²⁴⌉.
        let threshold = UInt32((keep * 0x1p24).rounded(.up))
        parallelFor(count, grain: parallelGrain) { r in
            ddpm_dropout(x + r.lowerBound, y + r.lowerBound, r.count, base, UInt64(first + r.lowerBound), threshold, scale)
        }
    }
}

/// The operators of `Kernels.binary`; raw values are CKernels' DDPM_ADD….
package enum BinaryOperator: Int32 {
    case add, subtract, multiply, divide
}

extension Kernels {
    /// out = x broadcast to `plan.outputShape`, for a plan made as `BroadcastPlan(outputShape, x.shape)`
    /// (only the second operand's strides are read).
    package static func expand(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, plan: BroadcastPlan) {
        let inner = plan.innerCount
        let sb = plan.innerStrideB
        let outerCount = plan.outerShape.reduce(1, *)
        parallelFor(outerCount, grain: max(1, parallelGrain / max(inner, 1))) { range in
            for o in range {
                var (ob, rest) = (0, o)
                for d in stride(from: plan.outerShape.count - 1, through: 0, by: -1) {
                    ob += (rest % plan.outerShape[d]) * plan.outerStridesB[d]
                    rest /= plan.outerShape[d]
                }
                let pb = x + ob
                let po = out + o * inner
                if sb == 1 { po.update(from: pb, count: inner) } else { po.update(repeating: pb[0], count: inner) }
            }
        }
    }
}

/// Broadcasting of two shapes, with dimensions coalesced so the inner loop is as long as possible.
package struct BroadcastPlan {
    package let outputShape: [Int]
    package var outerShape: [Int] = []
    package var outerStridesA: [Int] = []
    package var outerStridesB: [Int] = []
    package var innerCount = 1
    package var innerStrideA = 1
    package var innerStrideB = 1

    /// NumPy's rule: align trailing dimensions; each pair must be equal or contain a 1.
    package static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        var out: [Int] = []
        for (x, y) in Swift.zip(pa, pb) {
            guard x == y || x == 1 || y == 1 else { return nil }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    package init?(_ a: [Int], _ b: [Int]) {
        guard let shape = Self.broadcastShape(a, b) else { return nil }
        outputShape = shape
        let rank = shape.count
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        func strides(_ dims: [Int]) -> [Int] {
            var s = Array(repeating: 0, count: rank)
            var acc = 1
            for d in stride(from: rank - 1, through: 0, by: -1) {
                s[d] = dims[d] == 1 ? 0 : acc
                acc *= dims[d]
            }
            return s
        }
        // Drop size-1 output dims, then merge neighbours whose strides chain in both inputs.
        var dims: [(size: Int, sa: Int, sb: Int)] = []
        for (d, (sa, sb)) in Swift.zip(strides(pa), strides(pb)).enumerated() where shape[d] != 1 {
            if let last = dims.last, last.sa == sa * shape[d], last.sb == sb * shape[d] {
                dims[dims.count - 1] = (last.size * shape[d], sa, sb)
            } else {
                dims.append((shape[d], sa, sb))
            }
        }
        guard let last = dims.popLast() else {
            innerCount = 1
            innerStrideA = 0
            innerStrideB = 0
            return
        }
        innerCount = last.size
        innerStrideA = last.sa == 0 ? 0 : 1
        innerStrideB = last.sb == 0 ? 0 : 1
        outerShape = dims.map(\.size)
        outerStridesA = dims.map(\.sa)
        outerStridesB = dims.map(\.sb)
    }
}
