import Tensors

/// Seeded N(0, scale²) values: every suite's reproducible inputs and x_T come from this one helper,
/// so the same seed means the same tensor in every suite.
public func standardNormal(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return Tensor.randomNormal(shape, standardDeviation: scale, using: &rng)
}
