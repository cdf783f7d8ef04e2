import Tensors

/// A learned lookup table `[count, dimensions]` (torch `nn.Embedding`, checkpoint key `weight`),
/// initialised N(0, 1) as torch does, so a freshly made table has the scale diffusers' class
/// embeddings start from.
public final class Embedding: Layer {
    public let weight: Parameter

    public init(count: Int, dimensions: Int, using rng: inout SeededGenerator) {
        weight = Parameter(Tensor.randomNormal([count, dimensions], using: &rng))
    }

    public var ownParameters: [(key: String, parameter: Parameter)] { [("weight", weight)] }

    /// Row i of the table for each index: `[indices.count, dimensions]`.
    public func callAsFunction(_ indices: [Int]) -> Tensor { weight.value.gatheringRows(indices) }
}
