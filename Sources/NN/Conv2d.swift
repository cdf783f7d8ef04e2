import Tensors

/// A 2-D convolution layer over NCHW input, weight `[Cout, Cin, kh, kw]`.
public final class Conv2d: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int
    public let padding: Padding2D

    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Padding2D,
        bias: Bool = true, initScale: Float = 1, using rng: inout SeededGenerator
    ) {
        let receptive = kernelSize * kernelSize
        weight = Parameter(
            Initializer.varianceScaling(
                [outputChannels, inputChannels, kernelSize, kernelSize], fanIn: inputChannels * receptive,
                fanOut: outputChannels * receptive, scale: initScale, using: &rng))
        self.bias = bias ? Parameter(.zeros([outputChannels])) : nil
        self.stride = stride
        self.padding = padding
    }

    public var ownParameters: [(key: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// conv(x) + bias, plus `imageShift` `[N, Cout]` per plane and `residual` (shaped as the
    /// output), added in the convolution's output pass (see `conv2d`).
    public func callAsFunction(_ x: Tensor, imageShift: Tensor? = nil, residual: Tensor? = nil) -> Tensor {
        conv2d(x, weight: weight.value, bias: bias?.value, stride: stride, padding: padding, imageShift: imageShift, residual: residual)
    }
}
