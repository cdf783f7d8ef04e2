import Foundation
import NN
import SafeTensors
import Tensors
import TorchCheckpoint

// Follows pytorch-fid src/pytorch_fid/inception.py (fid_inception_v3 and its FIDInception* blocks)
// for structure and key names; the layers are torchvision's Inception3 (Szegedy et al. 2016).

/// The Inception-v3 network of FID and IS: pytorch-fid's port of the TensorFlow graph
/// `inception-2015-12-05` used by TTUR and OpenAI's Inception Score code.
///
/// Differs from torchvision's ImageNet Inception-v3 as that graph does: 1008 logits, average
/// pools in Mixed_5*, 6b–6e and 7b that ignore padding, a max pool in Mixed_7c's pool branch.
/// Parameter keys are exactly those of `pt_inception-2015-12-05-6726825d.pth`, so that file's
/// state dict loads strictly. Batch norm is folded into each convolution (`BasicConv2d`).
///
/// [1]: Heusel et al. 2017, arXiv:1706.08500 (FID). [2]: Salimans et al. 2016, arXiv:1606.03498 (IS).
public final class FIDInceptionV3: Layer {
    /// The weights file the user must supply.
    public static let weightsFileName = "pt_inception-2015-12-05-6726825d.pth"
    /// Where pytorch-fid publishes it (its GitHub release `fid_weights`).
    public static let weightsURL =
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
    /// Images are resized to this size before the network, as pytorch-fid does.
    public static let inputSize = 299
    public static let featureDimension = 2048
    public static let classCount = 1008

    let conv1a, conv2a, conv2b, conv3b, conv4a: BasicConv2d
    let mixed5b, mixed5c, mixed5d: FIDInceptionA
    let mixed6a: InceptionB
    let mixed6b, mixed6c, mixed6d, mixed6e: FIDInceptionC
    let mixed7a: InceptionD
    let mixed7b, mixed7c: FIDInceptionE
    let fc: Dense

    /// The network with placeholder weights (zero convolutions); `load` the real ones.
    public init() {
        conv1a = BasicConv2d(3, 32, kernel: 3, stride: 2)
        conv2a = BasicConv2d(32, 32, kernel: 3)
        conv2b = BasicConv2d(32, 64, kernel: 3, padding: 1)
        conv3b = BasicConv2d(64, 80, kernel: 1)
        conv4a = BasicConv2d(80, 192, kernel: 3)
        mixed5b = FIDInceptionA(inputChannels: 192, poolFeatures: 32)
        mixed5c = FIDInceptionA(inputChannels: 256, poolFeatures: 64)
        mixed5d = FIDInceptionA(inputChannels: 288, poolFeatures: 64)
        mixed6a = InceptionB(inputChannels: 288)
        mixed6b = FIDInceptionC(inputChannels: 768, channels7x7: 128)
        mixed6c = FIDInceptionC(inputChannels: 768, channels7x7: 160)
        mixed6d = FIDInceptionC(inputChannels: 768, channels7x7: 160)
        mixed6e = FIDInceptionC(inputChannels: 768, channels7x7: 192)
        mixed7a = InceptionD(inputChannels: 768)
        mixed7b = FIDInceptionE(inputChannels: 1280, pooling: .average)
        mixed7c = FIDInceptionE(inputChannels: 2048, pooling: .max)
        fc = Dense(inputs: Self.featureDimension, outputs: Self.classCount)
    }

    /// The network with the weights in `url` (see `stateDictionary(contentsOf:)`).
    public convenience init(contentsOf url: URL) throws(MetricsError) {
        self.init()
        try load(Self.stateDictionary(contentsOf: url), source: url.path)
    }

    public var children: [(key: String, layer: any Layer)] {
        [
            ("Conv2d_1a_3x3", conv1a), ("Conv2d_2a_3x3", conv2a), ("Conv2d_2b_3x3", conv2b), ("Conv2d_3b_1x1", conv3b),
            ("Conv2d_4a_3x3", conv4a), ("Mixed_5b", mixed5b), ("Mixed_5c", mixed5c), ("Mixed_5d", mixed5d),
            ("Mixed_6a", mixed6a), ("Mixed_6b", mixed6b), ("Mixed_6c", mixed6c), ("Mixed_6d", mixed6d),
            ("Mixed_6e", mixed6e), ("Mixed_7a", mixed7a), ("Mixed_7b", mixed7b), ("Mixed_7c", mixed7c), ("fc", fc),
        ]
    }

    /// Reads a state dict of the FID Inception weights: `pt_inception-2015-12-05-6726825d.pth` itself
    /// (`.pth`/`.pt`/`.bin`, by the restricted torch.save reader, which executes nothing) or a
    /// safetensors conversion of it. A missing file names the file needed and where pytorch-fid
    /// publishes it.
    public static func stateDictionary(contentsOf url: URL) throws(MetricsError) -> [String: Tensor] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .weightsNotFound(path: url.path) }
        switch url.pathExtension.lowercased() {
        case "safetensors":
            do { return try SafeTensorsFile.read(contentsOf: url).tensors } catch {
                throw .cannotReadWeights(path: url.path, reason: error.description)
            }
        case "pth", "pt", "bin":
            do { return try TorchCheckpointFile.read(contentsOf: url) } catch {
                throw .cannotReadWeights(path: url.path, reason: error.description)
            }
        default:
            throw .unsupportedWeightsFormat(path: url.path)
        }
    }

    /// Loads a state dict strictly; BatchNorm's `num_batches_tracked` counters are ignored
    /// (they play no part in eval mode, and PyTorch versions differ in writing them).
    public func load(_ state: [String: Tensor], source: String) throws(MetricsError) {
        let relevant = state.filter { !$0.key.hasSuffix(".num_batches_tracked") }
        do { try load(relevant) } catch { throw .weightsDoNotMatch(path: source, reason: error.description) }
        for case let layer as BasicConv2d in allLayers() { _ = layer.foldedParameters() }
    }

    /// Every layer below this one, depth first.
    func allLayers() -> [any Layer] {
        var result: [any Layer] = []
        var stack: [any Layer] = [self]
        while let layer = stack.popLast() {
            result.append(layer)
            stack.append(contentsOf: layer.children.map(\.layer))
        }
        return result
    }

    /// The value range of input pixels.
    public enum InputRange: Sendable {
        /// [−1, 1], the range DDPM samples and its datasets use.
        case minusOneToOne
        /// [0, 1], pytorch-fid's input convention.
        case zeroToOne
    }

    /// Pool features and logits of images `[N, 3, H, W]`.
    ///
    /// Images of any size are first resized to 299×299 bilinearly (align_corners = false) and
    /// brought to [−1, 1], as pytorch-fid does (for `.zeroToOne`, resize then 2x − 1, its order;
    /// resizing is linear, so `.minusOneToOne` input gives the same result up to rounding).
    /// Runs without recording gradients; memory grows with N (about 30 MB per image), so feed
    /// batches of tens of images.
    /// - Returns: `pool`, the 2048-d pool3 features `[N, 2048]` that FID uses, and `logits`,
    ///   the 1008 class logits `[N, 1008]` that IS uses.
    public func features(_ images: Tensor, range: InputRange = .minusOneToOne) -> (pool: Tensor, logits: Tensor) {
        precondition(
            images.rank == 4 && images.shape[1] == 3,
            "[FIDInceptionV3.features] expected RGB images [N, 3, H, W], got \(images.shape)")
        return withoutGradients {
            var x = images
            if x.shape[2] != Self.inputSize || x.shape[3] != Self.inputSize {
                x = x.resizedBilinearly(height: Self.inputSize, width: Self.inputSize)
            }
            if range == .zeroToOne { x = x * 2 - 1 }
            // [N, 3, 299, 299] → [N, 64, 73, 73] → [N, 192, 35, 35]
            x = conv2b(conv2a(conv1a(x))).maxPooled(kernelSize: 3, stride: 2)
            x = conv4a(conv3b(x)).maxPooled(kernelSize: 3, stride: 2)
            // → [N, 288, 35, 35] → [N, 768, 17, 17] → [N, 2048, 8, 8]
            x = mixed5d(mixed5c(mixed5b(x)))
            x = mixed6e(mixed6d(mixed6c(mixed6b(mixed6a(x)))))
            x = mixed7c(mixed7b(mixed7a(x)))
            let pool = x.mean(alongAxes: [2, 3])  // global average pool → [N, 2048]
            return (pool, fc(pool))
        }
    }
}

/// A dense layer `[out, in]` under keys `weight` and `bias` (the 2048 → 1008 classifier).
final class Dense: Layer {
    let weight, bias: Parameter
    init(inputs: Int, outputs: Int) {
        (weight, bias) = (Parameter(.zeros([outputs, inputs])), Parameter(.zeros([outputs])))
    }
    var ownParameters: [(key: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }
    func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight.value, bias: bias.value) }
}
