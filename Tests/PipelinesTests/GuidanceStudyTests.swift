import Datasets
import Foundation
import Models
import NN
import Pipelines
import Tensors
import TestSupport
import Testing

/// The label classifier that judges guided samples, and the study built on it.
@Suite("Label classifier and guidance study")
struct GuidanceStudyTests {
    /// 8×8 grey images of three classes a CNN must tell apart by where the bright bar is: a row
    /// in the top half, a row in the bottom half, or a column; plus noise.
    static func bars(count: Int, seed: UInt64) -> ImageSet {
        var rng = SeededGenerator(seed: seed)
        var pixels: [UInt8] = []
        var labels: [Int] = []
        for i in 0..<count {
            let label = i % 3
            let position = Int(rng.next() % 4)
            for y in 0..<8 {
                for x in 0..<8 {
                    let lit = label == 0 ? y == position : label == 1 ? y == 4 + position : x == 2 * position
                    let noise = Int(rng.next() % 60)
                    pixels.append(UInt8(lit ? 255 - noise : noise))
                }
            }
            labels.append(label)
        }
        return ImageSet(channels: 1, height: 8, width: 8, pixels: pixels, labels: labels)
    }

    @Test("cross-entropy equals log Σ exp(z) − z_label, and its gradient softmax − one-hot, over N")
    func crossEntropy() {
        let z = Tensor(shape: [2, 3], scalars: [1, 2, 3, 100, -50, 99]).requiringGradient()
        let loss = LabelClassifier.crossEntropy(z, labels: [2, 0])
        func lse(_ v: [Double]) -> Double {
            let m = v.max()!
            return m + log(v.map { exp($0 - m) }.reduce(0, +))
        }
        let (a, b): (Double, Double) = (lse([1, 2, 3]) - 3, lse([100, -50, 99]) - 100)
        let expected = (a + b) / 2
        #expect(abs(Double(loss.scalar) - expected) < 1e-5, "\(loss.scalar) vs \(expected)")
        let g = gradients(of: loss, withRespectTo: [z])[0].scalars
        let e1 = [1.0, 2, 3].map { exp($0 - lse([1, 2, 3])) }
        let e2 = [100.0, -50, 99].map { exp($0 - lse([100, -50, 99])) }
        let oneHot: [Double] = [0, 0, 1, 1, 0, 0]
        let expectedGradient: [Double] = zip(e1 + e2, oneHot).map { ($0 - $1) / 2 }
        for (a, b) in zip(g, expectedGradient) { #expect(abs(Double(a) - b) < 1e-6, "\(g) vs \(expectedGradient)") }
    }

    @Test("the classifier learns a separable three-class task and classifies held-out images")
    func learns() throws {
        let classifier = LabelClassifier(channels: 1, imageSize: 8, classCount: 3, seed: 1)
        let before = classifier.accuracy(on: Self.bars(count: 300, seed: 2))
        var losses: [Float] = []
        try classifier.train(on: Self.bars(count: 600, seed: 1), steps: 120, batchSize: 32, learningRate: 2e-3, seed: 3) {
            losses.append($1)
        }
        let after = classifier.accuracy(on: Self.bars(count: 300, seed: 2))
        #expect(losses.count == 120)
        #expect(after >= 0.95, "held-out accuracy \(after) (before training \(before))")
        let (first, last): (Float, Float) = (losses.prefix(10).reduce(0, +) / 10, losses.suffix(10).reduce(0, +) / 10)
        #expect(last < first / 4, "mean loss of the first 10 steps \(first), of the last 10 \(last)")
        let judged = classifier.classify(Self.bars(count: 6, seed: 9).batch(indices: Array(0..<6)), batchSize: 4)
        #expect(judged.labels.count == 6)
        #expect(judged.features.allSatisfy { $0.count == LabelClassifier.featureWidth })
    }

    @Test("training refuses unlabelled images and labels outside the classes")
    func refusesBadLabels() {
        let classifier = LabelClassifier(channels: 1, imageSize: 8, classCount: 2, seed: 1)
        let unlabelled = ImageSet(channels: 1, height: 8, width: 8, pixels: [UInt8](repeating: 0, count: 64))
        #expect(throws: PipelineError.self) { try classifier.train(on: unlabelled, steps: 1, seed: 0) }
        #expect(throws: PipelineError.self) { try classifier.train(on: Self.bars(count: 3, seed: 0), steps: 1, seed: 0) }
    }

    @Test("mean pairwise distance of known vectors")
    func pairwiseDistance() {
        // Distances 5, 10 and 5.
        #expect(abs(GuidanceStudy.meanPairwiseDistance([[0, 0], [3, 4], [6, 8]]) - 20.0 / 3) < 1e-9)
        #expect(GuidanceStudy.meanPairwiseDistance([[1, 2]]) == 0)
    }

    @Test("a study row samples every class at the scale, judges it and lays out one class per grid row")
    func studyRow() throws {
        let unet = try ClassGuidanceTests.conditionalUNet()
        let pipeline = try SamplingPipeline(unet: unet, configuration: .paper)
        let classifier = LabelClassifier(channels: 1, imageSize: 8, classCount: 3, seed: 2)
        var study = try GuidanceStudy(pipeline: pipeline, classifier: classifier, sampler: .ddim(steps: 3, eta: 0), perClass: 4)
        (study.batchSize, study.gridColumns) = (5, 3)
        var finished: [Int] = []
        let row = try study.row(guidanceScale: 2) { finished.append($0) }
        #expect(finished == [5, 5, 2])
        #expect(row.grid.shape == [9, 1, 8, 8])
        #expect(row.classAccuracy.count == 3)
        #expect((0...1).contains(row.accuracy))
        let meanOfClasses: Double = row.classAccuracy.reduce(0, +) / 3
        #expect(abs(meanOfClasses - row.accuracy) < 1e-12)
        #expect(row.diversity > 0, "distinct noise must give distinct features")
        // The same seed gives the same samples; the scale changes them.
        let again = try study.row(guidanceScale: 2)
        let other = try study.row(guidanceScale: 0)
        #expect(again.grid.maxAbsoluteDifference(row.grid) == 0)
        #expect(other.grid.maxAbsoluteDifference(row.grid) > 1e-4)
    }

    @Test("the study refuses an unconditional model, a classifier of another class count, and fewer than two per class")
    func refusals() throws {
        let conditional = try SamplingPipeline(unet: try ClassGuidanceTests.conditionalUNet(), configuration: .paper)
        let plain = try SamplingPipeline(unet: try UNet(Tiny.unet, seed: 1), configuration: .paper)
        let three = LabelClassifier(channels: 1, imageSize: 8, classCount: 3, seed: 2)
        let five = LabelClassifier(channels: 1, imageSize: 8, classCount: 5, seed: 2)
        let sampler = Sampler.ddim(steps: 2, eta: 0)
        #expect(throws: PipelineError.self) { try GuidanceStudy(pipeline: plain, classifier: three, sampler: sampler, perClass: 4) }
        #expect(throws: PipelineError.self) { try GuidanceStudy(pipeline: conditional, classifier: five, sampler: sampler, perClass: 4) }
        #expect(throws: PipelineError.self) { try GuidanceStudy(pipeline: conditional, classifier: three, sampler: sampler, perClass: 1) }
    }
}
