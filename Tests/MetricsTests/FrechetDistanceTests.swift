import Foundation
import Metrics
import Tensors
import Testing

/// Statistics and FID against numpy and pytorch-fid's `calculate_frechet_distance` (scipy sqrtm).
@Suite("Fréchet distance equals pytorch-fid")
struct FrechetDistanceTests {
    static func statistics(_ name: String, _ side: String) throws -> FeatureStatistics {
        try FeatureStatistics(features: try MetricsFixtures.tensor("fid_\(name)/\(side)"))
    }

    @Test(
        "FID from features equals pytorch-fid's to 1e-6 relative",
        arguments: ["full", "rank_deficient", "large_mean"])
    func fid(_ name: String) throws {
        let expected = try #require(Double(try MetricsFixtures.metadata("fid_\(name)")))
        let fid = try FrechetDistance(between: try Self.statistics(name, "a"), and: try Self.statistics(name, "b"))
        expectRelative(fid.value, expected, 1e-6, "FID \(name)")
        #expect(fid.diagonalOffset == nil)
        print("FID \(name): ours \(fid.value), pytorch-fid \(expected), relative difference \(abs(fid.value - expected) / expected)")
    }

    @Test("FID of a set with itself is 0")
    func identical() throws {
        let s = try Self.statistics("identical", "a")
        #expect(abs(try FrechetDistance(between: s, and: s).value) < 1e-9)
    }

    @Test("mean and covariance equal numpy's (np.mean, np.cov) in the numpy-written stats_a.npz to 1e-12")
    func statisticsEqualNumPy() throws {
        let ours = try Self.statistics("full", "a")
        let numpy = try FeatureStatistics(contentsOf: try MetricsFixtures.url("stats_a", "npz"))
        #expect(ours.sampleCount == 500 && numpy.dimension == 64)
        let scale = numpy.covariance.map(abs).max()!
        #expect(zip(ours.mean, numpy.mean).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) })
        #expect(zip(ours.covariance, numpy.covariance).allSatisfy { abs($0 - $1) <= 1e-12 * scale })
    }

    @Test("batches accumulate to the statistics of all rows")
    func accumulator() throws {
        let features = try MetricsFixtures.tensor("fid_large_mean/a")  // mean ≈ 100: checks the shift
        var accumulator = FeatureStatistics.Accumulator(dimension: 16)
        for start in stride(from: 0, to: 300, by: 64) {
            try accumulator.add(features.sliced(alongAxis: 0, start..<min(start + 64, 300)))
        }
        let batched = try accumulator.statistics()
        let whole = try FeatureStatistics(features: features)
        #expect(zip(batched.covariance, whole.covariance).allSatisfy { abs($0 - $1) < 1e-10 })
        #expect(zip(batched.mean, whole.mean).allSatisfy { abs($0 - $1) < 1e-10 })
    }

    @Test("fewer than 2048 samples warn that FID is biased and the covariance rank-deficient")
    func fewSamplesWarning() throws {
        let s = try Self.statistics("rank_deficient", "a")
        #expect(
            s.warnings == [
                """
                FID from 40 samples (fewer than 2048) is biased upward and the 64×64 covariance has rank at most 39; \
                compare FIDs only at equal sample counts, and report the paper's protocol of 50,000 samples.
                """
            ])
        #expect(try FrechetDistance(between: s, and: s).warnings == s.warnings)
        #expect(try FeatureStatistics(contentsOf: try MetricsFixtures.url("stats_a", "npz")).warnings.isEmpty)
    }

    @Test("non-finite covariances fail with a typed error after the ε·I retry")
    func nonFinite() throws {
        let a = try FeatureStatistics(mean: [0, 0], covariance: [1, .nan, .nan, 1])
        let b = try FeatureStatistics(mean: [0, 0], covariance: [1, 0, 0, 1])
        #expect(throws: MetricsError.self) { try FrechetDistance(between: a, and: b) }
        #expect(throws: MetricsError.mismatch(what: "feature dimension of the second statistics", expected: "2", actual: "1")) {
            try FrechetDistance(between: a, and: try FeatureStatistics(mean: [0], covariance: [1]))
        }
    }
}
