import Foundation
import TensorKernels

/// Rows `offset..<offset + b` of a global batch of `total` rows.
public struct BatchShard: Sendable, Equatable {
    public var offset: Int
    public var total: Int
    public init(offset: Int, total: Int) {
        precondition(offset >= 0 && total > 0 && offset < total, "[BatchShard] offset \(offset) outside a batch of \(total)")
        (self.offset, self.total) = (offset, total)
    }

    /// (first global counter of this shard, counters reserved) for a tensor of `count` elements and
    /// `rows` leading rows.
    @inline(__always)
    func span(count: Int, rows: Int) -> (first: Int, reserved: Int) {
        precondition(
            rows > 0 && count % rows == 0 && offset + rows <= total,
            "[BatchShard] \(rows) rows of \(count) elements do not fit rows \(offset)… of \(total)")
        let perRow = count / rows
        return (offset * perRow, total * perRow)
    }
}

/// A seeded, counter-based random number generator (SplitMix64, Steele et al. 2014).
///
/// Element i of a tensor fill is a pure function of (state, i), so fills can run on any number
/// of threads and still give the same numbers. `state` is public so checkpoints can save and
/// restore the stream exactly.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    public var state: UInt64
    /// When set, batch-shaped draws (`[b, …]` tensors, timesteps) are the rows `offset..<offset+b`
    /// of a batch of `total`: the counter advances past all `total` rows and each row reads the
    /// counters a single process drawing the whole batch would have read for it. Data-parallel
    /// ranks thus draw ε, t and dropout masks keyed by the global sample index, and any number
    /// of processes computes the same samples. Not saved: only `state` is a position.
    public var shard: BatchShard?

    public init(seed: UInt64) { state = seed }

    @inline(__always)
    static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    public mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }

    /// Reserves `count` draws: returns the base counter and advances the state past them.
    mutating func reserve(_ count: Int) -> UInt64 {
        let base = state
        state &+= Self.increment &* UInt64(count)
        return base
    }

    /// The i-th draw after `base`, as `next()` would have returned it.
    @inline(__always)
    static func draw(_ base: UInt64, _ i: Int) -> UInt64 { mix(base &+ increment &* UInt64(i + 1)) }

    /// `count` integers uniform in `range` (t ~ U{1…T} of Algorithm 1). Unsharded, the draws of
    /// `Int.random(in:using:)`; sharded, one counter per global row, mapped by a multiply-shift
    /// (bias below span/2⁶⁴, 5e-17 for T = 1000) so every row costs exactly one counter.
    public mutating func integers(_ count: Int, in range: ClosedRange<Int>) -> [Int] {
        guard let shard else { return (0..<count).map { _ in Int.random(in: range, using: &self) } }
        let (first, reserved) = shard.span(count: count, rows: count)
        let base = reserve(reserved)
        let span = UInt64(range.count)
        return (0..<count).map { range.lowerBound + Int(Self.draw(base, first + $0).multipliedFullWidth(by: span).high) }
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    static func unit(_ bits: UInt64) -> Float { Float(bits >> 40) * 0x1p-24 }
}

extension Tensor {
    /// Independent uniform samples in [low, high).
    public static func randomUniform(
        _ shape: [Int], low: Float = 0, high: Float = 1,
        using rng: inout SeededGenerator
    ) -> Tensor {
        let out = Tensor.uninitialized(shape)
        let n = out.scalarCount
        let p = out.storage.pointer
        let (first, reserved) = rng.shard?.span(count: n, rows: shape.first ?? 1) ?? (0, n)
        let base = rng.reserve(reserved)
        parallelFor(n, grain: parallelGrain) { r in
            for i in r { p[i] = low + (high - low) * SeededGenerator.unit(SeededGenerator.draw(base, first + i)) }
        }
        return out
    }

    /// Independent standard normal samples (Box–Muller on pairs of uniform draws).
    public static func randomNormal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
        using rng: inout SeededGenerator
    ) -> Tensor {
        let (mu, sigma) = (mean, standardDeviation)
        let out = Tensor.uninitialized(shape)
        if let shard = rng.shard {
            // Element i is global element first + i, whose Box–Muller pair may start in another shard.
            let n = out.scalarCount
            let p = out.storage.pointer
            let (first, reserved) = shard.span(count: n, rows: shape.first ?? 1)
            let base = rng.reserve(2 * ((reserved + 1) / 2))
            parallelFor(n, grain: parallelGrain / 2) { r in
                for i in r {
                    let g = first + i
                    let j = g / 2
                    let u1 = Double((SeededGenerator.draw(base, 2 * j) >> 11) + 1) * 0x1p-53
                    let u2 = Double(SeededGenerator.draw(base, 2 * j + 1) >> 11) * 0x1p-53
                    let radius = (-2 * Foundation.log(u1)).squareRoot()
                    let angle = 2 * Double.pi * u2
                    p[i] = mu + sigma * Float(radius * (g % 2 == 0 ? Foundation.cos(angle) : Foundation.sin(angle)))
                }
            }
            return out
        }
        let n = out.scalarCount
        let pairs = (n + 1) / 2
        let base = rng.reserve(2 * pairs)
        let p = out.storage.pointer
        parallelFor(pairs, grain: parallelGrain / 2) { r in
            for j in r {
                // u1 in (0, 1] so that log(u1) is finite.
                let u1 = Double((SeededGenerator.draw(base, 2 * j) >> 11) + 1) * 0x1p-53
                let u2 = Double(SeededGenerator.draw(base, 2 * j + 1) >> 11) * 0x1p-53
                let radius = (-2 * Foundation.log(u1)).squareRoot()
                let angle = 2 * Double.pi * u2
                p[2 * j] = mu + sigma * Float(radius * Foundation.cos(angle))
                if 2 * j + 1 < n { p[2 * j + 1] = mu + sigma * Float(radius * Foundation.sin(angle)) }
            }
        }
        return out
    }

    /// Inverted dropout: in training, zeroes each element with `probability` and scales the rest
    /// by 1/(1 − probability); outside training, the identity. The keep decision for element i is
    /// a pure function of the generator's counter and i, so the pullback recomputes it instead of
    /// storing a mask (no activation memory).
    public func dropout(probability: Float, training: Bool, using rng: inout SeededGenerator) -> Tensor {
        precondition(probability >= 0 && probability < 1, "[dropout] probability must be in [0, 1), got \(probability)")
        guard training, probability > 0 else { return self }
        let keep = 1 - probability
        let scale = 1 / keep
        // Sharded: the masks of rows offset… of the global batch (each sample keeps its own mask).
        let (first, reserved) = rng.shard?.span(count: scalarCount, rows: shape.first ?? 1) ?? (0, scalarCount)
        let base = rng.reserve(reserved)
        func apply(_ t: Tensor) -> Tensor {
            let out = Tensor.uninitialized(t.shape)
            Kernels.dropout(
                t.storage.pointer, out.storage.pointer, count: t.scalarCount, base: base, first: first, keep: keep, scale: scale)
            return out
        }
        return .result(apply(self), inputs: [self]) { g, _ in [apply(g)] }
    }
}
