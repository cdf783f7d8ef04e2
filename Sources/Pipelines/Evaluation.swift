import Datasets
import Diffusion
import Foundation
import Metrics
import Tensors

// FID (Heusel et al. 2017) and IS (Salimans et al. 2016) as the DDPM paper reports them (Table 1:
// 50,000 samples against the CIFAR-10 training set). What the CLI does, as library calls.

/// Pool features and logits of a stream of image batches: the Float64 FID statistics and the
/// logits Inception Score needs, without keeping the images.
public struct FeatureCollection {
    public let extractor: any FeatureExtractor
    /// Images per network call (the FID Inception needs about 30 MB per image).
    public let batchSize: Int
    private var accumulator: FeatureStatistics.Accumulator
    private var logits: [Float] = []
    private var classCount = 0

    public init(extractor: any FeatureExtractor, batchSize: Int = 25) {
        precondition(batchSize >= 1, "[FeatureCollection] batchSize must be >= 1, got \(batchSize)")
        self.extractor = extractor
        self.batchSize = batchSize
        accumulator = .init(dimension: extractor.featureDimension)
    }

    /// Images added so far.
    public var count: Int { accumulator.count }

    /// Adds images `[N, C, H, W]` in [−1, 1]. They are first put on the 8-bit grid (as PNG files
    /// and the paper's TF code hold them); grey images (C = 1) are repeated to 3 channels, as
    /// pytorch-fid's `convert('RGB')` does. `onBatch(n)` runs after each network call of n images.
    public mutating func add(_ images: Tensor, onBatch: (Int) -> Void = { _ in }) throws {
        guard images.rank == 4, images.shape[1] == 1 || images.shape[1] == 3 else {
            throw PipelineError.invalid("images for FID/IS have shape \(images.shape); expected [N, 1 or 3, H, W] in [-1, 1].")
        }
        let n = images.shape[0]
        for start in stride(from: 0, to: n, by: batchSize) {
            let batch = Self.prepared(images.sliced(alongAxis: 0, start..<min(n, start + batchSize)))
            let (pool, batchLogits) = extractor.poolAndLogits(batch)
            try accumulator.add(pool)
            classCount = batchLogits.shape[1]
            logits.append(contentsOf: batchLogits.scalars)
            onBatch(batch.shape[0])
        }
    }

    /// Adds every image of `set` (8-bit already), `batchSize` at a time.
    public mutating func add(_ set: ImageSet, onBatch: (Int) -> Void = { _ in }) throws {
        for start in stride(from: 0, to: set.count, by: batchSize) {
            try add(set.batch(indices: Array(start..<min(set.count, start + batchSize))), onBatch: onBatch)
        }
    }

    /// `[N, C, H, W]` → `[N, 3, H, W]` on the 8-bit grid: clamp to [−1, 1], round (x + 1)·127.5.
    static func prepared(_ images: Tensor) -> Tensor {
        let quantized = Tensor(
            shape: images.shape,
            scalars: images.scalars.map { x in
                (max(-1, min(1, x)) * 127.5 + 127.5).rounded() / 127.5 - 1
            })
        return quantized.shape[1] == 3 ? quantized : Tensor.concatenated([quantized, quantized, quantized], alongAxis: 1)
    }

    /// μ and Σ of the pool features (needs 2 images).
    public func statistics() throws -> FeatureStatistics { try accumulator.statistics() }

    /// IS over `splits` splits of the logits, in the order the images were added.
    public func inceptionScore(splits: Int = 10) throws -> InceptionScore {
        try InceptionScore(logits: Tensor(shape: [count, classCount], scalars: logits), splits: splits)
    }
}

/// Everything `ddpm evaluate` reports about FID and IS; encoded as the `--json` file.
public struct EvaluationReport: Codable, Equatable, Sendable {
    /// FID against the reference; nil without one.
    public var fid: Double?
    public var inceptionScore: Double
    /// Population standard deviation over the splits (OpenAI's code).
    public var inceptionScoreStandardDeviation: Double
    public var inceptionScoreSplits: [Double]
    public var sampleCount: Int
    /// Images behind the reference statistics; nil when an .npz does not say.
    public var referenceSampleCount: Int?
    public var reference: String?
    public var samples: String
    /// ε added to the covariance diagonals when the product was singular.
    public var fidDiagonalOffset: Double?
    public var warnings: [String]

    /// FID of `samples` against `reference` (if any) and IS of `samples` (10 splits).
    public init(
        samples: FeatureCollection, describedAs source: String, reference: FeatureStatistics?,
        describedAs referenceSource: String?
    ) throws {
        let statistics = try samples.statistics()
        let score = try samples.inceptionScore()
        var warnings = statistics.warnings
        if let reference {
            let distance = try FrechetDistance(between: statistics, and: reference)
            (fid, fidDiagonalOffset) = (distance.value, distance.diagonalOffset)
            warnings += distance.warnings.filter { !warnings.contains($0) }
        } else {
            (fid, fidDiagonalOffset) = (nil, nil)
        }
        (inceptionScore, inceptionScoreStandardDeviation, inceptionScoreSplits) = (score.mean, score.standardDeviation, score.splitScores)
        (sampleCount, referenceSampleCount) = (samples.count, reference?.sampleCount)
        (self.samples, self.reference, self.warnings) = (source, referenceSource, warnings)
    }

    /// Pretty, key-sorted JSON.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The lines `ddpm evaluate` prints.
    public var summary: [String] {
        var lines = ["samples: \(samples) (\(sampleCount) images)"]
        if let fid, let reference {
            let n = referenceSampleCount.map { "\($0) images" } ?? "count not recorded"
            lines.append("FID \(String(format: "%.4f", fid)) against \(reference) (\(n))")
        } else {
            lines.append("FID: no --reference given")
        }
        lines.append(
            "IS \(String(format: "%.4f", inceptionScore)) ± \(String(format: "%.4f", inceptionScoreStandardDeviation)) (mean ± std over \(inceptionScoreSplits.count) splits)"
        )
        return lines + warnings.map { "warning: \($0)" }
    }
}

extension ImageSource {
    /// FID statistics of this reference: read from an `.npz`, or computed from its images
    /// (`train` picks the split of CIFAR-10/IDX data; the paper uses the CIFAR-10 training set).
    public func referenceStatistics(
        train: Bool, extractor: any FeatureExtractor, batchSize: Int,
        onImages: (_ total: Int) -> (Int) -> Void = { _ in { _ in } }
    ) throws -> FeatureStatistics {
        if case .statistics(let url) = self {
            let statistics = try FeatureStatistics(contentsOf: url)
            guard statistics.dimension == extractor.featureDimension else {
                throw MetricsError.mismatch(
                    what: "\(url.path): feature dimension of the reference statistics",
                    expected: "\(extractor.featureDimension) (pool3 features; pytorch-fid --dims 2048)",
                    actual: "\(statistics.dimension)")
            }
            return statistics
        }
        let set = try images(train: train)
        var collection = FeatureCollection(extractor: extractor, batchSize: batchSize)
        try collection.add(set, onBatch: onImages(set.count))
        return try collection.statistics()
    }
}

/// Samples from a model in batches: x_T of batch b from `seed + b` and its sampling noise from
/// `seed + 0x9E3779B9 + b`, so `ddpm sample` and `ddpm evaluate --model` with one seed draw the
/// same images, and any batch can be recomputed alone.
extension SamplingPipeline {
    /// Draws `count` samples `batchSize` at a time and hands each batch's result to `body` as it is
    /// made (nothing accumulates here, so any count streams). With `initialNoise` (`[count, C, H, W]`)
    /// the batches are its slices instead of seeded draws; `recordingAt` applies to batch 0.
    /// `onStep` runs after every network evaluation (`stepCount(sampler)` per batch).
    public func sampleBatches(
        count: Int, batchSize: Int, sampler: Sampler, seed: UInt64, initialNoise: Tensor? = nil,
        recordingAt: Set<Int> = [], classes: ClassConditioning? = nil, onStep: @escaping () -> Void = {},
        _ body: (_ batch: Int, _ result: SamplingResult) throws -> Void
    ) throws {
        guard count >= 1, batchSize >= 1 else {
            throw PipelineError.invalid("sampling needs count and batch size ≥ 1 (got \(count), \(batchSize))")
        }
        if let classes {  // one label per image of the whole run, checked before the first batch
            try classes.validate(for: unet.configuration)
            guard classes.labels.count == count else {
                throw PipelineError.classCondition("\(classes.labels.count) class labels for \(count) images")
            }
        }
        let size = unet.configuration.sampleSize ?? 32
        for (b, start) in stride(from: 0, to: count, by: batchSize).enumerated() {
            let n = min(batchSize, count - start)
            let xT =
                initialNoise?.sliced(alongAxis: 0, start..<(start + n))
                ?? self.initialNoise(count: n, imageSize: size, seed: seed &+ UInt64(b))
            let batchClasses = classes.map {
                ClassConditioning(labels: Array($0.labels[start..<(start + n)]), guidanceScale: $0.guidanceScale)
            }
            try body(
                b,
                try sample(
                    from: xT, sampler: sampler, seed: seed &+ 0x9E37_79B9 &+ UInt64(b),
                    recordingAt: b == 0 ? recordingAt : [], classes: batchClasses, onStep: onStep))
        }
    }

    /// `sampleBatches` handing `body` only each batch's samples `[B, C, H, W]`.
    public func sampleBatches(
        count: Int, batchSize: Int, sampler: Sampler, seed: UInt64, classes: ClassConditioning? = nil,
        onStep: @escaping () -> Void = {}, _ body: (Tensor) throws -> Void
    ) throws {
        try sampleBatches(
            count: count, batchSize: batchSize, sampler: sampler, seed: seed, initialNoise: nil, classes: classes,
            onStep: onStep
        ) { _, result in try body(result.sample) }
    }
}
