import Foundation
import Pipelines
import SafeTensors
import Tensors
import Testing

/// The diffusers fixtures of scripts/reference/make_pipeline_fixtures.py: a tiny random-init
/// UNet2DModel as a diffusers directory (safetensors and .bin twins) and reference tensors.
enum ParityFixtures {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let modelDirectory = root.appendingPathComponent("tiny-ddpm")
    static let binDirectory = root.appendingPathComponent("tiny-ddpm-bin")
    static let tensors: SafeTensorsFile = {
        do { return try SafeTensorsFile.read(contentsOf: root.appendingPathComponent("pipeline.safetensors")) } catch {
            preconditionFailure("\(error)")
        }
    }()

    static func tensor(_ key: String) -> Tensor {
        do { return try tensors.tensor(key, in: "pipeline.safetensors") } catch { preconditionFailure("\(error)") }
    }

    /// Entry `index` of a stacked fixture `[K, …]`.
    static func entry(_ key: String, _ index: Int) -> Tensor {
        let stacked = tensor(key)
        return stacked.sliced(alongAxis: 0, index..<(index + 1)).reshaped(to: Array(stacked.shape.dropFirst()))
    }

    static func integers(_ key: String) -> [Int] { tensor(key).scalars.map { Int($0) } }

    /// The tiny model with its scheduler settings, as `ddpm sample --model` would load them.
    static func pipeline() throws -> SamplingPipeline {
        let scheduler = try #require(try ModelDirectory.scheduler(at: modelDirectory))
        var pipeline = SamplingPipeline(unet: try ModelDirectory.loadUNet(from: modelDirectory), diffusion: try scheduler.diffusion())
        pipeline.setAlphaToOne = scheduler.setAlphaToOne
        return pipeline
    }
}
