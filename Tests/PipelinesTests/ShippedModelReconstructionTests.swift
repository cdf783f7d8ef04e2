import Datasets
import Diffusion
import Foundation
import Pipelines
import Tensors
import TestSupport
import Testing

/// The shipped Fashion-MNIST model and test set, when both are present (skipped otherwise).
enum ShippedModel {
    static let directory = CommandLineTool.packageRoot.appendingPathComponent("pretrained/fashion-mnist")
    static let isAvailable =
        ModelDirectory.isModelDirectory(directory)
        && FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory.appendingPathComponent("t10k-images-idx3-ubyte.gz").path)

    static func pipeline() throws -> SamplingPipeline {
        let scheduler = try ModelDirectory.scheduler(at: directory) ?? .paper
        var pipeline = SamplingPipeline(unet: try ModelDirectory.loadUNet(from: directory), diffusion: try scheduler.diffusion())
        pipeline.setAlphaToOne = scheduler.setAlphaToOne
        return pipeline
    }
}

/// Fig. 7 on the shipped model, checked statistically: samples from a small t stay near the image,
/// samples from t = T do not depend on it. DDIM with 20 steps and η = 1 keeps it cheap.
@Suite(
    "Samples sharing x_t on the shipped Fashion-MNIST model (Ho et al. Fig. 7)",
    .enabled(if: ShippedModel.isAvailable, "needs pretrained/fashion-mnist and /usr/share/datasets/fashion-mnist"))
struct ShippedModelReconstructionTests {
    /// Mean grey level (0–255) of each image of `batch`.
    static func brightness(_ batch: Tensor) -> [Double] {
        let n = batch.shape[0]
        let d = batch.scalarCount / n
        let v = batch.scalars
        return (0..<n).map { i in Double(v[(i * d)..<((i + 1) * d)].reduce(0, +)) / Double(d) * 127.5 + 127.5 }
    }

    static func rmse(_ a: Tensor, _ b: Tensor) -> Double {
        (Double((a - b).squared().mean().scalar)).squareRoot() * 127.5
    }

    @Test(
        "at t = 50 every sample stays close to its image; at t = T the samples do not depend on it (same draws from a boot and a pullover agree)"
    )
    func smallAndLargeTimesteps() throws {
        let pipeline = try ShippedModel.pipeline()
        let set = try ImageSource.named("fashion-mnist", path: nil).images(train: false, size: 32, channels: 1)
        let boot = try Interpolation.image(set, at: 0, size: 32, channels: 1)
        let pullover = try Interpolation.image(set, at: 1, size: 32, channels: 1)
        let apart = Self.rmse(boot, pullover)
        let T = pipeline.diffusion.schedule.timestepCount
        let sampler = Sampler.ddim(steps: 20, eta: 1)
        let a = try pipeline.reconstruct(boot, at: [50, T], samples: 8, sampler: sampler, seed: 3)
        let b = try pipeline.reconstruct(pullover, at: [50, T], samples: 8, sampler: sampler, seed: 3)
        let (nearA, nearB) = (a.distances(row: 0), b.distances(row: 0))
        let farA = a.distances(row: 1)
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
        // t = 50: √(1 − ᾱ_50) ≈ 0.17 of noise (22 grey levels); the samples come back within a few.
        #expect(
            nearA.allSatisfy { $0 < 15 } && nearB.allSatisfy { $0 < 15 },
            "RMSE at t = 50: \(nearA), \(nearB); the two images are \(apart) apart")
        #expect(mean(nearA) < 0.2 * apart && mean(nearB) < 0.2 * apart)
        let (brightA, brightB) = (Self.brightness(a.samples(row: 0)), Self.brightness(b.samples(row: 0)))
        let (sourceA, sourceB) = (Self.brightness(boot)[0], Self.brightness(pullover)[0])
        #expect(
            brightA.allSatisfy { abs($0 - sourceA) < 4 } && brightB.allSatisfy { abs($0 - sourceB) < 4 },
            "mean grey levels \(brightA) vs \(sourceA), \(brightB) vs \(sourceB)")
        #expect(abs(sourceA - sourceB) > 20)
        // t = T: x_T keeps √ᾱ_T ≈ 0.006 of the image, so with the same draws both images give the same samples ...
        let gap = Self.rmse(a.samples(row: 1), b.samples(row: 1))
        #expect(gap < 3, "samples from x_T of a boot and of a pullover differ by \(gap) (RMSE, 0-255)")
        let (farBrightA, farBrightB) = (Self.brightness(a.samples(row: 1)), Self.brightness(b.samples(row: 1)))
        #expect(abs(mean(farBrightA) - mean(farBrightB)) < 1, "\(farBrightA) vs \(farBrightB)")
        // ... which are as far from the boot as unrelated images are, several times farther than at t = 50.
        #expect(mean(farA) > 5 * mean(nearA) && mean(farA) > 0.3 * apart, "RMSE at T: \(farA); at t = 50: \(nearA)")
        // The samples at T differ from one another: they are draws, not one image.
        let first = a.samples(row: 1).sliced(alongAxis: 0, 0..<1)
        #expect((1..<8).map { Self.rmse(first, a.samples(row: 1).sliced(alongAxis: 0, $0..<($0 + 1))) }.allSatisfy { $0 > 20 })
    }
}
