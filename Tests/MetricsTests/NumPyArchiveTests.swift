import Foundation
import Metrics
import TestSupport
import Testing

/// `.npz` reading of numpy-written files and round trips (pytorch-fid/TTUR `mu`, `sigma`).
@Suite("NumPy .npz archives")
struct NumPyArchiveTests {
    static func temporaryURL(_ name: String) throws -> URL {
        let directory = try temporaryDirectory("npz-tests")
        return directory.appendingPathComponent(name)
    }

    @Test("reads numpy.savez_compressed with a Fortran-order sigma and a float32 array")
    func compressedFortran() throws {
        let url = try MetricsFixtures.url("stats_b_compressed", "npz")
        let arrays = try NumPyArchive.read(contentsOf: url)
        #expect(Set(arrays.keys) == ["mu", "sigma", "f32"])
        #expect(arrays["f32"] == NumPyArray(shape: [2, 3], values: [0, 1, 2, 3, 4, 5]))
        let stats = try FeatureStatistics(contentsOf: url)
        let fromFeatures = try FeatureStatistics(features: try MetricsFixtures.tensor("fid_full/b"))
        let scale = stats.covariance.map(abs).max()!
        #expect(
            zip(stats.covariance, fromFeatures.covariance).allSatisfy { abs($0 - $1) <= 1e-12 * scale },
            "Fortran order read as row-major")
        #expect(stats.sampleCount == nil)
    }

    @Test("statistics survive a write and read bit for bit")
    func roundTrip() throws {
        let stats = try FeatureStatistics(features: try MetricsFixtures.tensor("fid_full/a"))
        let url = try Self.temporaryURL("stats.npz")
        defer { try? FileManager.default.removeItem(at: url) }
        try stats.write(to: url)
        try stats.write(to: url)  // replaces
        let back = try FeatureStatistics(contentsOf: url)
        #expect(back.mean == stats.mean && back.covariance == stats.covariance)
        let arrays = try NumPyArchive.read(contentsOf: url)
        #expect(arrays["sigma"]?.shape == [64, 64] && arrays["mu"]?.shape == [64])
    }

    @Test("a missing 'sigma', a bad dtype and a non-zip file are reported with the path")
    func errors() throws {
        let url = try Self.temporaryURL("partial.npz")
        defer { try? FileManager.default.removeItem(at: url) }
        try NumPyArchive.write(["mu": NumPyArray(shape: [2], values: [1, 2])], to: url)
        #expect(throws: MetricsError.missingArray(path: url.path, key: "sigma", available: ["mu"])) {
            try FeatureStatistics(contentsOf: url)
        }
        try NumPyArchive.write(
            [
                "mu": NumPyArray(shape: [2], values: [1, 2]),
                "sigma": NumPyArray(shape: [3, 3], values: Array(repeating: 0, count: 9)),
            ], to: url)
        #expect(
            throws: MetricsError.invalidArray(path: url.path, key: "sigma", expected: "shape [2, 2] to match mu", actual: "shape [3, 3]")
        ) {
            try FeatureStatistics(contentsOf: url)
        }
        try Data("not a zip".utf8).write(to: url)
        #expect(throws: MetricsError.self) { try NumPyArchive.read(contentsOf: url) }
        let missing = URL(fileURLWithPath: "/nonexistent/fid_stats_cifar10_train.npz")
        #expect(throws: MetricsError.invalidArchive(path: missing.path, reason: "no such file")) {
            try FeatureStatistics(contentsOf: missing)
        }
    }
}
