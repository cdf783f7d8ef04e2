import TensorKernels
import Foundation

/// A seeded, counter-based random number generator (SplitMix64, Steele et al. 2014).
///
/// Element i of a tensor fill is a pure function of (state, i), so fills can run on any number
/// of threads and still give the same numbers. `state` is public so checkpoints can save and
/// restore the stream exactly.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    public var state: UInt64

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

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    static func unit(_ bits: UInt64) -> Float { Float(bits >> 40) * 0x1p-24 }
}

extension Tensor {
    /// Independent uniform samples in [low, high).
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                                     using rng: inout SeededGenerator) -> Tensor {
        let out = Tensor.uninitialized(shape)
        let n = out.scalarCount, base = rng.reserve(n), p = out.storage.pointer
        parallelFor(n, grain: parallelGrain) { r in
            for i in r { p[i] = low + (high - low) * SeededGenerator.unit(SeededGenerator.draw(base, i)) }
        }
        return out
    }

    /// Independent standard normal samples (Box–Muller on pairs of uniform draws).
    public static func randomNormal(_ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                                    using rng: inout SeededGenerator) -> Tensor {
        let (mu, sigma) = (mean, standardDeviation)
        let out = Tensor.uninitialized(shape)
        let n = out.scalarCount, pairs = (n + 1) / 2, base = rng.reserve(2 * pairs), p = out.storage.pointer
        parallelFor(pairs, grain: parallelGrain / 2) { r in
            for j in r {
                // u1 in (0, 1] so that log(u1) is finite.
                let u1 = Double((SeededGenerator.draw(base, 2 * j) >> 11) + 1) * 0x1p-53
                let u2 = Double(SeededGenerator.draw(base, 2 * j + 1) >> 11) * 0x1p-53
                let radius = (-2 * Foundation.log(u1)).squareRoot(), angle = 2 * Double.pi * u2
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
        let keep = 1 - probability, scale = 1 / keep, base = rng.reserve(scalarCount)
        func apply(_ t: Tensor) -> Tensor {
            let out = Tensor.uninitialized(t.shape)
            Kernels.mapIndexed(t.storage.pointer, out.storage.pointer, count: t.scalarCount) { i, v in
                SeededGenerator.unit(SeededGenerator.draw(base, i)) < keep ? v * scale : 0
            }
            return out
        }
        return .result(apply(self), inputs: [self]) { g, _ in [apply(g)] }
    }
}
