import Datasets
import Foundation
import Metrics
import Pipelines
import Tensors
import TestSupport
import Testing

/// A stand-in for the FID Inception (no real weights exist here): fixed seeded projections of the
/// flattened RGB image, `tanh` for pool features, linear for logits. Deterministic, any image size.
final class ProjectionExtractor: FeatureExtractor {
    let featureDimension = 12, classCount = 10
    private(set) var calls: [[Int]] = []

    func poolAndLogits(_ images: Tensor) -> (pool: Tensor, logits: Tensor) {
        calls.append(images.shape)
        let n = images.shape[0]
        let d = images.scalarCount / n
        var rng = SeededGenerator(seed: UInt64(d))
        let w = Tensor.randomNormal([d, featureDimension], standardDeviation: Float(1 / Double(d).squareRoot()), using: &rng)
        let v = Tensor.randomNormal([featureDimension, classCount], using: &rng)
        let pool = matmul(images.reshaped(to: [n, d]), w).tanh()
        return (pool, matmul(pool, v))
    }
}

enum EvaluationFixtures {
    /// `count` images `[N, C, 8, 8]` on the 8-bit grid in [−1, 1], seeded.
    static func images(_ count: Int, channels: Int, seed: UInt64) -> Tensor {
        var rng = SeededGenerator(seed: seed)
        let levels = Tensor.randomUniform([count, channels, 8, 8], low: 0, high: 256, using: &rng)
        return Tensor(shape: levels.shape, scalars: levels.scalars.map { $0.rounded(.down) / 127.5 - 1 })
    }

    /// He-initialised weights in the FID Inception layout (the published ones are not available here).
    static func randomInceptionWeights() -> [String: Tensor] { FIDInceptionV3.heInitialisedWeights(seed: 1) }
}

@Suite("Evaluation: FID and IS through the pipeline (Heusel et al. 2017; Salimans et al. 2016)")
struct EvaluationTests {
    @Test("batched collection gives the FID and IS of FrechetDistance and InceptionScore on features computed at once")
    func pipelineEqualsDirect() throws {
        let extractor = ProjectionExtractor()
        let samples = EvaluationFixtures.images(40, channels: 3, seed: 1)
        let reference = EvaluationFixtures.images(30, channels: 3, seed: 2)
        var collection = FeatureCollection(extractor: extractor, batchSize: 7)
        var seen = 0
        try collection.add(samples) { seen += $0 }
        #expect(seen == 40 && collection.count == 40)
        #expect(extractor.calls.map { $0[0] } == [7, 7, 7, 7, 7, 5])
        var referenceCollection = FeatureCollection(extractor: extractor, batchSize: 16)
        try referenceCollection.add(reference)
        let report = try EvaluationReport(
            samples: collection, describedAs: "samples", reference: try referenceCollection.statistics(),
            describedAs: "reference")

        let direct = extractor.poolAndLogits(samples)
        let directReference = extractor.poolAndLogits(reference)
        let fid = try FrechetDistance(
            between: try FeatureStatistics(features: direct.pool),
            and: try FeatureStatistics(features: directReference.pool))
        let score = try InceptionScore(logits: direct.logits)
        let value = try #require(report.fid)
        // Float32 features from GEMMs of 7 rows and of 40 differ by rounding (OpenBLAS picks other edge
        // kernels; seen up to 3e-8 relative on an AVX2-only CPU); a batching bug is orders larger.
        #expect(abs(value - fid.value) <= 1e-6 * abs(fid.value), "pipeline FID \(value) vs direct \(fid.value)")
        #expect(abs(report.inceptionScore - score.mean) <= 1e-6 * score.mean)
        #expect(abs(report.inceptionScoreStandardDeviation - score.standardDeviation) <= 1e-6 * max(score.standardDeviation, 1e-12))
        #expect(report.inceptionScoreSplits.count == 10 && report.sampleCount == 40 && report.referenceSampleCount == 30)
        #expect(report.warnings.contains { $0.contains("FID from 30 samples (fewer than 2048)") })
        #expect(report.summary.contains { $0.hasPrefix("FID ") && $0.contains("against reference (30 images)") })
        let decoded = try JSONDecoder().decode(EvaluationReport.self, from: try report.json())
        #expect(decoded == report)
    }

    @Test("grey images are repeated to 3 channels and samples are put on the 8-bit grid before the network")
    func greyAndQuantisation() throws {
        let grey = EvaluationFixtures.images(12, channels: 1, seed: 3)
        let rgb = Tensor.concatenated([grey, grey, grey], alongAxis: 1)
        var a = FeatureCollection(extractor: ProjectionExtractor(), batchSize: 5)
        var b = a
        try a.add(grey)
        try b.add(rgb + 0.001)  // off-grid by a fraction of a level: rounds back
        let (sa, sb) = (try a.statistics(), try b.statistics())
        #expect(sa.mean == sb.mean && sa.covariance == sb.covariance)
        var c = FeatureCollection(extractor: ProjectionExtractor())
        #expect(throws: PipelineError.self) { try c.add(Tensor.zeros([2, 2, 8, 8])) }
    }

    @Test("reference statistics computed from a folder, saved as .npz and read back as --reference are identical")
    func npzReferenceRoundTrip() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("reference")
        try ImageWriter.writeImages(EvaluationFixtures.images(16, channels: 3, seed: 4), to: folder)
        let extractor = ProjectionExtractor()

        let source = try ImageSource.detect(folder.path)
        guard case .imageFolder(let detectedFolder) = source else {
            Issue.record("detected \(source)")
            return
        }
        #expect(detectedFolder.path == folder.path)
        var seen = 0
        let computed = try source.referenceStatistics(train: true, extractor: extractor, batchSize: 5) { total in
            #expect(total == 16)
            return { seen += $0 }
        }
        #expect(seen == 16 && computed.sampleCount == 16)
        let npz = directory.appendingPathComponent("reference.npz")
        try computed.write(to: npz)
        let detected = try ImageSource.detect(npz.path)
        #expect(detected == .statistics(npz))
        let loaded = try detected.referenceStatistics(train: true, extractor: extractor, batchSize: 5)
        #expect(loaded.mean == computed.mean && loaded.covariance == computed.covariance && loaded.sampleCount == nil)

        var samples = FeatureCollection(extractor: extractor, batchSize: 8)
        try samples.add(EvaluationFixtures.images(20, channels: 3, seed: 5))
        let viaNPZ = try EvaluationReport(samples: samples, describedAs: "s", reference: loaded, describedAs: "npz")
        let viaFolder = try EvaluationReport(samples: samples, describedAs: "s", reference: computed, describedAs: "npz")
        #expect(viaNPZ.fid == viaFolder.fid)
    }

    @Test("evaluation data is recognised by what the path holds; a missing one says what is accepted")
    func dataDetection() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = FileManager.default.createFile(atPath: directory.appendingPathComponent("test_batch.bin").path, contents: Data())
        guard case .cifar10(let cifar) = try ImageSource.detect(directory.path) else {
            Issue.record("not CIFAR-10")
            return
        }
        #expect(cifar.path == directory.path)
        #expect(try ImageSource.detect("fashion-mnist") == .fashionMNIST(directory: FashionMNIST.defaultDirectory))
        let missing = directory.appendingPathComponent("nope").path
        do {
            _ = try ImageSource.detect(missing)
            Issue.record("detected a missing path")
        } catch {
            #expect(
                error.description
                    == "\(missing): not found. Pass fashion-mnist, an .npz of FID statistics (mu, sigma), a CIFAR-10 binary directory (cifar-10-batches-bin), an IDX directory (t10k-images-idx3-ubyte.gz) or a folder of PNG/JPEG images."
            )
        }
        let stats = directory.appendingPathComponent("stats.npz")
        try FeatureStatistics(mean: [0, 0], covariance: [1, 0, 0, 1]).write(to: stats)
        #expect(throws: MetricsError.self) {
            _ = try ImageSource.statistics(stats).referenceStatistics(train: true, extractor: ProjectionExtractor(), batchSize: 4)
        }
    }
}
