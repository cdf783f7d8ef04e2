import Foundation
import Tensors
import Testing

// Tensor+Embedding.swift: the sinusoidal timestep embedding, diffusers get_timestep_embedding.

@Suite("Timestep embedding (diffusers get_timestep_embedding)")
struct EmbeddingTests {
    /// The fixture stores timesteps [0, 1, 17, 500, 999] as I64; dimension 32.
    static let cases: [OpCase] = [(1, "sinfirst", false), (1, "cosfirst", true), (0, "sinfirst", false), (0, "cosfirst", true)]
        .map { shift, tag, flip in
            // Both sides form t·f in float32 the same way, so even t = 999 agrees to float rounding.
            OpCase("timestep_embedding_shift\(shift)_\(tag)") {
                Tensor.timestepEmbedding(
                    $0[0].scalars.map { Int($0) }, dimension: 32,
                    frequencyShift: Float(shift), cosineFirst: flip)
            }
        }

    @Test("matches diffusers for t ∈ {0, 1, 17, 500, 999}, freq_shift 0 and 1, flip_sin_to_cos both ways", arguments: cases)
    func matchesPyTorch(_ c: OpCase) throws { try expectMatchesPyTorch(c) }

    @Test("t = 0 embeds as sin 0 = 0 then cos 0 = 1 (or cos first when flipped)")
    func zeroTimestep() {
        let e = Tensor.timestepEmbedding([0], dimension: 8)
        #expect(e.shape == [1, 8])
        #expect(e.scalars == [0, 0, 0, 0, 1, 1, 1, 1])
        #expect(Tensor.timestepEmbedding([0], dimension: 8, cosineFirst: true).scalars == [1, 1, 1, 1, 0, 0, 0, 0])
    }

    @Test("with frequency shift 1 the last frequency is 1/maxPeriod; the first is always 1")
    func frequencies() {
        let t = 1000
        let e = Tensor.timestepEmbedding([t], dimension: 6, frequencyShift: 1, maxPeriod: 10_000).scalars
        // half = 3, frequencies exp(−ln(10⁴)·i/2) = 1, 10⁻², 10⁻⁴.
        let expected = [1.0, 1e-2, 1e-4].map { Double(t) * $0 }
        for (i, angle) in expected.enumerated() {
            #expect(abs(Double(e[i]) - sin(angle)) < 1e-5)
            #expect(abs(Double(e[3 + i]) - cos(angle)) < 1e-5)
        }
    }

    @Test("an odd dimension is zero-padded in the last column")
    func oddDimension() {
        let e = Tensor.timestepEmbedding([3, 7], dimension: 7)
        #expect(e.shape == [2, 7])
        #expect(e.scalars[6] == 0 && e.scalars[13] == 0)
    }
}
