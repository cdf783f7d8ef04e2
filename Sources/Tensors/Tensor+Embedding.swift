import Foundation
import TensorKernels

extension Tensor {
    /// Sinusoidal timestep embedding (Vaswani et al. 2017, as used by Ho et al. App. B), `[N, dimension]`.
    ///
    /// With half = dimension/2 and frequencies fᵢ = exp(−ln(maxPeriod)·i / (half − frequencyShift)),
    /// the row for t is [sin(t·f₀), …, sin(t·f_{half−1}), cos(t·f₀), …] (cosine first when
    /// `cosineFirst`), zero-padded when `dimension` is odd. The original DDPM code is
    /// `frequencyShift: 1, cosineFirst: false` (diffusers `freq_shift=1, flip_sin_to_cos=False`).
    /// Computed in Float32 like diffusers, so that checkpoints see the same inputs. Timesteps may be
    /// fractional (σ-interpolating samplers such as Euler pass them, as diffusers does); there is no
    /// gradient with respect to them.
    public static func timestepEmbedding(
        _ timesteps: [Int], dimension: Int, frequencyShift: Float = 1,
        cosineFirst: Bool = false, maxPeriod: Float = 10_000
    ) -> Tensor {
        timestepEmbedding(
            timesteps.map(Double.init), dimension: dimension, frequencyShift: frequencyShift,
            cosineFirst: cosineFirst, maxPeriod: maxPeriod)
    }

    /// The embedding of fractional timesteps (rounded to Float32 first, as diffusers' `timesteps.float()`).
    public static func timestepEmbedding(
        _ timesteps: [Double], dimension: Int, frequencyShift: Float = 1,
        cosineFirst: Bool = false, maxPeriod: Float = 10_000
    ) -> Tensor {
        precondition(dimension >= 2, "[timestepEmbedding] dimension must be >= 2, got \(dimension)")
        let half = dimension / 2
        precondition(Float(half) != frequencyShift, "[timestepEmbedding] half dimension \(half) equals the frequency shift")
        let logPeriod = Float(Foundation.log(Double(maxPeriod)))
        let frequencies = (0..<half).map { i -> Float in
            let exponent = -logPeriod * Float(i) / (Float(half) - frequencyShift)
            return Float(Foundation.exp(Double(exponent)))
        }
        var values = [Float](repeating: 0, count: timesteps.count * dimension)
        for (n, t) in timesteps.enumerated() {
            for i in 0..<half {
                let angle = Double(Float(t) * frequencies[i])
                let (s, c) = (Float(Foundation.sin(angle)), Float(Foundation.cos(angle)))
                values[n * dimension + i] = cosineFirst ? c : s
                values[n * dimension + half + i] = cosineFirst ? s : c
            }
        }
        return Tensor(shape: [timesteps.count, dimension], scalars: values)
    }
}

extension Tensor {
    /// Rows `indices` of a `[K, D]` table, `[indices.count, D]` (torch's `nn.Embedding` lookup, used
    /// for class labels). The pullback scatter-adds each output row's gradient back into its table
    /// row, so a label that appears twice in a batch receives both gradients.
    public func gatheringRows(_ indices: [Int]) -> Tensor {
        precondition(rank == 2, "[gatheringRows] table must be [K, D], got \(shape)")
        let (rows, width) = (shape[0], shape[1])
        for i in indices { precondition(i >= 0 && i < rows, "[gatheringRows] index \(i) outside the table's \(rows) rows") }
        let out = Tensor.uninitialized([indices.count, width])
        let (src, dst) = (storage.pointer, out.storage.pointer)
        for (n, i) in indices.enumerated() { (dst + n * width).update(from: src + i * width, count: width) }
        return .result(out, inputs: [self]) { g, _ in
            let grad = Tensor.zeros([rows, width])
            let (gp, tp) = (g.storage.pointer, grad.storage.pointer)
            for (n, i) in indices.enumerated() {
                for j in 0..<width { tp[i * width + j] += gp[n * width + j] }
            }
            return [grad]
        }
    }
}
