import Foundation
import Tensors

/// How well a class-conditional model obeys its label at each classifier-free guidance scale
/// (Ho & Salimans 2022): `perClass` samples of every class, judged by a `LabelClassifier`.
///
/// Accuracy is the fraction of samples the classifier assigns to the requested class. Diversity is
/// the mean pairwise Euclidean distance of the classifier's features between samples of the same
/// class, averaged over classes: guidance buys accuracy with diversity, and this shows the price.
/// Every scale starts from the same x_T (seeded), so grids are comparable cell by cell.
public struct GuidanceStudy {
    public struct Row: Sendable {
        public let guidanceScale: Double
        public let accuracy: Double
        /// Accuracy per class, in class order.
        public let classAccuracy: [Double]
        public let diversity: Double
        /// The first `gridColumns` samples of each class, class-major (one class per grid row).
        public let grid: Tensor
        public let seconds: Double
    }

    public let pipeline: SamplingPipeline
    public let classifier: LabelClassifier
    public var sampler: Sampler
    public var perClass: Int
    public var batchSize = 200
    public var gridColumns = 10
    public var seed: UInt64 = 0

    public init(pipeline: SamplingPipeline, classifier: LabelClassifier, sampler: Sampler, perClass: Int) throws(PipelineError) {
        let c = pipeline.unet.configuration
        guard c.isClassConditional, let classes = c.classCount else {
            throw .classCondition("the guidance study needs a class-conditional model; this one has no class embedding")
        }
        guard classes == classifier.classCount else {
            throw .invalid(
                "the model has \(classes) classes but the classifier \(classifier.classCount); train the classifier on the model's data")
        }
        guard perClass >= 2 else { throw .invalid("--per-class must be at least 2 (diversity needs pairs), got \(perClass)") }
        (self.pipeline, self.classifier, self.sampler, self.perClass) = (pipeline, classifier, sampler, perClass)
    }

    var classCount: Int { classifier.classCount }

    /// The study at `scale`; `onImages(n)` is called as each batch of n images is finished.
    public func row(guidanceScale scale: Double, onImages: (Int) -> Void = { _ in }) throws(PipelineError) -> Row {
        let start = Date()
        let labels = (0..<classCount).flatMap { Array(repeating: $0, count: perClass) }
        let size = pipeline.unet.configuration.sampleSize ?? 32
        var samples: [Tensor] = []
        for (b, first) in stride(from: 0, to: labels.count, by: batchSize).enumerated() {
            let batch = Array(labels[first..<min(first + batchSize, labels.count)])
            let noise = pipeline.initialNoise(count: batch.count, imageSize: size, seed: seed &+ UInt64(b))
            let classes = ClassConditioning(labels: batch, guidanceScale: scale)
            samples.append(try pipeline.sample(from: noise, sampler: sampler, seed: seed &+ 1000 &+ UInt64(b), classes: classes).sample)
            onImages(batch.count)
        }
        let images = Tensor.concatenated(samples, alongAxis: 0).clamped(lower: -1, upper: 1)
        let judged = classifier.classify(images)
        var classAccuracy: [Double] = []
        var diversity = 0.0
        var gridRows: [Tensor] = []
        for c in 0..<classCount {
            let range = (c * perClass)..<((c + 1) * perClass)
            classAccuracy.append(Double(range.filter { judged.labels[$0] == c }.count) / Double(perClass))
            diversity += Self.meanPairwiseDistance(range.map { judged.features[$0] }) / Double(classCount)
            gridRows.append(images.sliced(alongAxis: 0, range.lowerBound..<(range.lowerBound + min(gridColumns, perClass))))
        }
        let accuracy = Double(zip(judged.labels, labels).filter { $0 == $1 }.count) / Double(labels.count)
        return Row(
            guidanceScale: scale, accuracy: accuracy, classAccuracy: classAccuracy, diversity: diversity,
            grid: Tensor.concatenated(gridRows, alongAxis: 0), seconds: Date().timeIntervalSince(start))
    }

    /// Mean Euclidean distance over all pairs of `vectors` (0 for fewer than two).
    package static func meanPairwiseDistance(_ vectors: [[Float]]) -> Double {
        guard vectors.count >= 2 else { return 0 }
        var total = 0.0
        for i in 0..<vectors.count {
            for j in (i + 1)..<vectors.count {
                var d = 0.0
                for (a, b) in zip(vectors[i], vectors[j]) { d += Double(a - b) * Double(a - b) }
                total += d.squareRoot()
            }
        }
        return total / Double(vectors.count * (vectors.count - 1) / 2)
    }
}
