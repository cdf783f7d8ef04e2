import Tensors

/// A dense layer, y = x·Wᵀ + b, with PyTorch's weight layout `[out, in]`.
public final class Linear: Layer {
    public let weight: Parameter
    public let bias: Parameter?

    public init(
        inputDimensions: Int, outputDimensions: Int, bias: Bool = true, initScale: Float = 1,
        using rng: inout SeededGenerator
    ) {
        weight = Parameter(
            Initializer.varianceScaling(
                [outputDimensions, inputDimensions], fanIn: inputDimensions,
                fanOut: outputDimensions, scale: initScale, using: &rng))
        self.bias = bias ? Parameter(.zeros([outputDimensions])) : nil
    }

    public var ownParameters: [(key: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight.value, bias: bias?.value) }
}
