import Datasets
import Diffusion
import Foundation
import Metrics
import Models
import Pipelines
import Tensors
import TestSupport
import Testing

/// The calls of the Pipelines DocC article "Getting Started" (Sources/Pipelines/Pipelines.docc),
/// at test size, so the article cannot drift from the API. Differences: synthetic 8×8 images, the
/// tiny preset, a few steps, and `ProjectionExtractor` for the Inception weights that are not here.
@Suite("Getting Started article")
struct GettingStartedTests {
    @Test("train, resume, sample, load the shipped diffusers directory with another solver, evaluate")
    func article() throws {
        let root = try temporaryDirectory("ddpm-getting-started")
        defer { try? FileManager.default.removeItem(at: root) }
        let noise = EvaluationFixtures.images(16, channels: 1, seed: 4)
        let images = ImageSet(channels: 1, height: 8, width: 8, pixels: noise.scalars.map { UInt8(($0 + 1) * 127.5) })

        // Train
        var configuration = TrainingConfiguration()
        configuration.batchSize = 8
        configuration.steps = 2
        configuration.warmupSteps = 1
        configuration.emaDecay = 0.999
        configuration.emaWarmup = true
        configuration.randomFlip = false
        configuration.checkpointEvery = 1
        configuration.sampleEvery = 0

        let unet = try UNet(.tiny8Grey, seed: configuration.seed)
        let diffusion = DDPM(schedule: try NoiseSchedule())
        let data = try DataLoader(
            images: images, batchSize: configuration.batchSize, seed: configuration.seed,
            horizontalFlips: configuration.randomFlip)
        let trainer = try Trainer(unet: unet, diffusion: diffusion, data: data, configuration: configuration)
        let run = TrainingRun(trainer: trainer, output: root.appendingPathComponent("run"))
        try run.run()
        if let latest = run.latestCheckpoint() {
            try Checkpoint.restore(try Checkpoint.load(latest), into: trainer)
        }
        #expect(trainer.step == 2)

        // Sample
        let model = try LoadedModel(root.appendingPathComponent("run/model").path)
        let pipeline = try model.pipeline()
        let sampler = Sampler.ddim(steps: 2, eta: 0)
        let samples = root.appendingPathComponent("samples")
        try pipeline.sampleBatches(count: 20, batchSize: 8, sampler: sampler, seed: 0) { b, result in
            try ImageWriter.writeImages(result.sample, to: samples, firstIndex: b * 8)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: samples.path).count == 20)

        // Load a diffusers model (the shipped one is a diffusers directory)
        let directory = try #require(LoadedModel.shippedModelDirectory())
        let fashion = try LoadedModel(directory.path)
        let published = try SamplerKind(configuration: fashion.scheduler, ddpmSchedulerMeans: .ddpm)
        let solver = Sampler(.dpmSolverPlusPlus, steps: 2)
        try solver.validate()
        let grid = root.appendingPathComponent("grid-\(published.rawValue).png")
        try fashion.pipeline().sampleBatches(count: 1, batchSize: 1, sampler: solver, seed: 1) { batch in
            try ImageWriter.writeGrid(batch, to: grid)
        }
        #expect(FileManager.default.fileExists(atPath: grid.path))

        // Evaluate
        let extractor = ProjectionExtractor()
        var features = FeatureCollection(extractor: extractor)
        try pipeline.sampleBatches(count: 30, batchSize: 8, sampler: sampler, seed: 1) { batch in
            try features.add(batch)
        }
        let reference = ImageSource.imageFolder(samples)
        let statistics = try reference.referenceStatistics(train: true, extractor: extractor, batchSize: 25)
        let report = try EvaluationReport(
            samples: features, describedAs: "DDIM-2", reference: statistics,
            describedAs: reference.describe(train: true))
        #expect(report.sampleCount == 30 && report.referenceSampleCount == 20)
        #expect(report.fid.map { $0.isFinite && $0 >= 0 } == true)
        #expect(!(try report.json()).isEmpty)
    }
}
