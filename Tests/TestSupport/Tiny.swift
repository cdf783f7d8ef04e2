import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import Tensors

/// The tiny model and data every suite trains or samples with, so that whole runs take well under
/// a second and all suites agree on what "the tiny model" is.
public enum Tiny {
    /// The tiny8-grey preset: 8×8 grey, channels (8, 16), attention at 4×4, dropout 0.1.
    public static let unet = UNetConfiguration.tiny8Grey

    /// The same network without dropout, for tests whose outputs must not depend on masks.
    public static let deterministicUNet: UNetConfiguration = {
        var c = UNetConfiguration.tiny8Grey
        c.dropout = 0
        return c
    }()

    /// `count` images of 8×8: horizontal and vertical bars, a structure the model learns quickly.
    public static func images(count: Int = 32) -> ImageSet {
        var pixels: [UInt8] = []
        for i in 0..<count {
            for y in 0..<8 { for x in 0..<8 { pixels.append((i % 2 == 0 ? y : x) % 4 < 2 ? 230 : 20) } }
        }
        return ImageSet(channels: 1, height: 8, width: 8, pixels: pixels)
    }

    /// Batch 8, lr 1e-3 with 2 warm-up steps, EMA 0.99 with warm-up, clip 1, seed 11.
    public static func configuration(steps: Int) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.batchSize = 8
        c.steps = steps
        c.learningRate = 1e-3
        c.warmupSteps = 2
        c.emaDecay = 0.99
        c.emaWarmup = true
        c.checkpointEvery = 1000
        c.sampleEvery = 0
        c.seed = 11
        return c
    }

    /// A trainer of `unet` (seed 3) on `images()` with `configuration(steps:)` and flips.
    public static func trainer(steps: Int) throws -> Trainer {
        let config = configuration(steps: steps)
        let loader = try DataLoader(images: images(), batchSize: config.batchSize, seed: config.seed, horizontalFlips: true)
        return try Trainer(
            unet: try UNet(unet, seed: 3), diffusion: DDPM(schedule: try NoiseSchedule()), data: loader,
            configuration: config)
    }

    /// A fresh directory for one test.
    public static func temporaryDirectory() throws -> URL { try TestSupport.temporaryDirectory("ddpm-tests") }

    /// The dropout-free tiny network (seed `seed`) with a `timesteps`-step paper schedule, saved as
    /// a model directory `name` under `directory`: small enough for a whole likelihood bound or
    /// sampling run through the binary in seconds.
    @discardableResult
    public static func saveModel(in directory: URL, name: String = "model", timesteps: Int = 8, seed: UInt64 = 5) throws -> URL {
        var scheduler = SchedulerConfiguration.paper
        scheduler.numTrainTimesteps = timesteps
        let model = directory.appendingPathComponent(name)
        try ModelDirectory.save(try UNet(deterministicUNet, seed: seed), scheduler: scheduler, to: model)
        return model
    }
}
