import NN
import Tensors

// Follows torchvision models/inception.py BasicConv2d (key names); weights are the FID Inception's.

/// A convolution weight `[Cout, Cin, kh, kw]` under the key `weight` (no bias: batch norm follows).
package final class ConvolutionWeight: Layer {
    package let weight: Parameter
    init(_ shape: [Int]) { weight = Parameter(.zeros(shape)) }
    package var ownParameters: [(key: String, parameter: Parameter)] { [("weight", weight)] }
}

/// Batch-norm parameters and running statistics, used in eval mode only:
/// y = (x − running_mean) / √(running_var + ε) · weight + bias.
package final class BatchNormStatistics: Layer {
    package let weight, bias, runningMean, runningVariance: Parameter
    init(channels: Int) {
        (weight, bias) = (Parameter(.ones([channels])), Parameter(.zeros([channels])))
        (runningMean, runningVariance) = (Parameter(.zeros([channels])), Parameter(.ones([channels])))
    }
    package var ownParameters: [(key: String, parameter: Parameter)] {
        [("weight", weight), ("bias", bias), ("running_mean", runningMean), ("running_var", runningVariance)]
    }
}

/// Convolution without bias → batch norm (eval mode, ε = 0.001) → ReLU, with keys `conv.weight` and
/// `bn.weight`, `bn.bias`, `bn.running_mean`, `bn.running_var`.
///
/// Batch norm is folded into the convolution: W' = W·s and b' = bias − running_mean·s with
/// s = weight/√(running_var + ε), per output channel, so a forward pass is one convolution with
/// bias and one ReLU. The folded pair is recomputed whenever a parameter tensor was replaced
/// (loading), so it never goes stale.
package final class BasicConv2d: Layer {
    package static let batchNormEpsilon: Float = 0.001  // torchvision BasicConv2d
    package let conv: ConvolutionWeight
    package let bn: BatchNormStatistics
    let stride: Int
    let padding: Padding2D
    private var folded: (sources: [ObjectIdentifier], weight: Tensor, bias: Tensor)?

    /// A `kernel.height`×`kernel.width` convolution with `padding` (rows, columns) on each side.
    init(
        _ inputChannels: Int, _ outputChannels: Int, kernel: (height: Int, width: Int), stride: Int = 1,
        padding: (rows: Int, columns: Int) = (0, 0)
    ) {
        conv = ConvolutionWeight([outputChannels, inputChannels, kernel.height, kernel.width])
        bn = BatchNormStatistics(channels: outputChannels)
        self.stride = stride
        self.padding = Padding2D(top: padding.rows, bottom: padding.rows, left: padding.columns, right: padding.columns)
    }

    /// A square `kernel`×`kernel` convolution with the same padding on every side.
    package convenience init(_ inputChannels: Int, _ outputChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.init(inputChannels, outputChannels, kernel: (kernel, kernel), stride: stride, padding: (padding, padding))
    }

    package var children: [(key: String, layer: any Layer)] { [("conv", conv), ("bn", bn)] }

    /// The convolution weight and bias with batch norm folded in.
    package func foldedParameters() -> (weight: Tensor, bias: Tensor) {
        let parameters = [conv.weight, bn.weight, bn.bias, bn.runningMean, bn.runningVariance]
        let sources = parameters.map { ObjectIdentifier($0.value.storage) }
        if let folded, folded.sources == sources { return (folded.weight, folded.bias) }
        let result = withoutGradients {
            let scale = bn.weight.value / (bn.runningVariance.value + Self.batchNormEpsilon).squareRoot()  // [Cout]
            let weight = conv.weight.value * scale.reshaped(to: [-1, 1, 1, 1])
            return (weight.detached(), (bn.bias.value - bn.runningMean.value * scale).detached())
        }
        folded = (sources, result.0, result.1)
        return result
    }

    /// `[N, Cin, H, W]` → `[N, Cout, Ho, Wo]`.
    package func callAsFunction(_ x: Tensor) -> Tensor {
        let (weight, bias) = foldedParameters()
        return conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding).relu()
    }
}
