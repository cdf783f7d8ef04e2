import Datasets
import Foundation
import NN
import Optimizers
import Tensors

/// A small CNN that names the class of a 1- or 3-channel image: the judge of how well a
/// class-conditional model obeys its label (`GuidanceStudy`). It is a measuring instrument, not a
/// shipped model: trained in about a minute with this project's own engine, so that the label
/// accuracy of guided samples is measured without Python or downloaded weights.
///
/// Four 3×3 convolutions with ReLU (the last three of stride 2: 32² → 16² → 8² → 4²), a 128-wide
/// dense layer whose activations are the features the diversity measure uses, and the logits.
public final class LabelClassifier: Layer {
    public let classCount: Int
    public let imageSize: Int
    let convolutions: [Conv2d]
    let hidden: Linear
    let output: Linear

    /// Widths of the four convolutions and of the feature layer.
    static let widths = [32, 64, 64, 128]
    public static let featureWidth = 128

    public init(channels: Int, imageSize: Int, classCount: Int, seed: UInt64) {
        precondition(imageSize % 8 == 0 && imageSize >= 8, "[LabelClassifier] image size \(imageSize) must be a multiple of 8")
        var rng = SeededGenerator(seed: seed)
        var inputs = channels
        var convolutions: [Conv2d] = []
        for (i, width) in Self.widths.enumerated() {
            convolutions.append(
                Conv2d(
                    inputChannels: inputs, outputChannels: width, kernelSize: 3, stride: i == 0 ? 1 : 2, padding: .uniform(1),
                    initScale: 2, using: &rng))
            inputs = width
        }
        self.convolutions = convolutions
        let flat = inputs * (imageSize / 8) * (imageSize / 8)
        hidden = Linear(inputDimensions: flat, outputDimensions: Self.featureWidth, initScale: 2, using: &rng)
        output = Linear(inputDimensions: Self.featureWidth, outputDimensions: classCount, using: &rng)
        self.classCount = classCount
        self.imageSize = imageSize
    }

    public var children: [(key: String, layer: any Layer)] {
        convolutions.enumerated().map { ("conv\($0.offset)", $0.element as any Layer) } + [("hidden", hidden), ("output", output)]
    }

    /// Features `[N, 128]` and logits `[N, classes]` of images `[N, C, H, W]` in [-1, 1].
    public func callAsFunction(_ x: Tensor) -> (features: Tensor, logits: Tensor) {
        precondition(
            x.rank == 4 && x.shape[2] == imageSize && x.shape[3] == imageSize,
            "[LabelClassifier] expects [N, C, \(imageSize), \(imageSize)] images, got \(x.shape)")
        var h = x
        for convolution in convolutions { h = convolution(h).relu() }
        let features = hidden(h.reshaped(to: [x.shape[0], h.scalarCount / x.shape[0]])).relu()
        return (features, output(features))
    }

    /// Mean cross-entropy of `logits` `[N, K]` against `labels`: log Σ exp(z) − z_label, with each
    /// row's maximum (a constant) taken out of the exponent for range.
    package static func crossEntropy(_ logits: Tensor, labels: [Int]) -> Tensor {
        let (n, k) = (logits.shape[0], logits.shape[1])
        let values = logits.scalars
        let rowMax = (0..<n).map { i in values[(i * k)..<((i + 1) * k)].max()! }
        var oneHot = [Float](repeating: 0, count: n * k)
        for (i, label) in labels.enumerated() { oneHot[i * k + label] = 1 }
        let shift = Tensor(shape: [n, 1], scalars: rowMax)
        let logSumExp = (logits - shift).exp().sum(alongAxes: [1], keepingDimensions: true).log() + shift
        let picked = (logits * Tensor(shape: [n, k], scalars: oneHot)).sum(alongAxes: [1], keepingDimensions: true)
        return (logSumExp - picked).mean()
    }

    /// Trains on a labelled image set with Adam (minibatches drawn with replacement, seeded);
    /// `onStep(step, loss)` reports progress. Returns the last step's loss.
    @discardableResult
    public func train(
        on images: ImageSet, steps: Int, batchSize: Int = 128, learningRate: Float = 1e-3, seed: UInt64,
        onStep: (Int, Float) -> Void = { _, _ in }
    ) throws(PipelineError) -> Float {
        guard images.labels.count == images.count, images.count > 0 else {
            throw .invalid("the classifier needs labelled images; got \(images.count) images and \(images.labels.count) labels")
        }
        if let bad = images.labels.first(where: { $0 < 0 || $0 >= classCount }) {
            throw .invalid("label \(bad) is outside the classifier's 0..<\(classCount)")
        }
        let parameters = namedParameters().map(\.parameter)
        let adam = Adam(learningRate: learningRate)
        var rng = SeededGenerator(seed: seed)
        var loss: Float = .nan
        for step in 1...max(steps, 1) {
            let indices = rng.integers(batchSize, in: 0...(images.count - 1))
            let value = Self.crossEntropy(self(images.batch(indices: indices)).logits, labels: indices.map { images.labels[$0] })
            adam.update(parameters, gradients: gradients(of: value, withRespectTo: parameters.map(\.value)))
            loss = value.scalar
            onStep(step, loss)
        }
        return loss
    }

    /// Predicted classes and features of images `[N, C, H, W]`, in batches of `batchSize`.
    public func classify(_ images: Tensor, batchSize: Int = 500) -> (labels: [Int], features: [[Float]]) {
        var labels: [Int] = []
        var features: [[Float]] = []
        let n = images.shape[0]
        withoutGradients {
            for start in stride(from: 0, to: n, by: batchSize) {
                let (f, z) = self(images.sliced(alongAxis: 0, start..<min(start + batchSize, n)))
                let (logits, feats) = (z.scalars, f.scalars)
                for i in 0..<z.shape[0] {
                    let row = logits[(i * classCount)..<((i + 1) * classCount)]
                    labels.append(row.indices.max { row[$0] < row[$1] }! - i * classCount)
                    features.append(Array(feats[(i * Self.featureWidth)..<((i + 1) * Self.featureWidth)]))
                }
            }
        }
        return (labels, features)
    }

    /// Fraction of `images` whose predicted class is `labels`' (the classifier's test accuracy).
    public func accuracy(on images: ImageSet, batchSize: Int = 500) -> Double {
        var correct = 0
        for start in stride(from: 0, to: images.count, by: batchSize) {
            let indices = Array(start..<min(start + batchSize, images.count))
            let predicted = classify(images.batch(indices: indices), batchSize: batchSize).labels
            correct += zip(predicted, indices).filter { $0 == images.labels[$1] }.count
        }
        return Double(correct) / Double(max(images.count, 1))
    }
}
