import Foundation
import Pipelines
import TestSupport
import Testing

@Suite("Training run directory")
struct TrainingRunTests {
    @Test("a run writes metrics, samples, checkpoints, the diffusers model and the loss plot; a resumed run logs each step once")
    func runAndResume() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func run(steps: Int, resume: Bool) throws {
            var config = Tiny.configuration(steps: steps)
            config.logEvery = 1
            config.checkpointEvery = 2
            let trainer = try Trainer(
                unet: try .init(Tiny.unet, seed: 3), diffusion: .init(schedule: try .init()),
                data: try .init(images: Tiny.images(), batchSize: 8, seed: config.seed), configuration: config)
            let run = TrainingRun(trainer: trainer, output: directory)
            if resume { try Checkpoint.restore(try Checkpoint.load(try #require(run.latestCheckpoint())), into: trainer) }
            try run.run()
        }
        try run(steps: 5, resume: false)
        for file in [
            "metrics.jsonl", "loss.png", "model/model_index.json", "model/unet/config.json",
            "model/unet/diffusion_pytorch_model.safetensors",
            "model/scheduler/scheduler_config.json", "checkpoints/step-5.safetensors", "samples/step-5.png",
        ] {
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path), "\(file) missing")
        }
        // As if interrupted after step 4 (its checkpoint is the newest left): resume; steps 1…5 are logged once each.
        try FileManager.default.removeItem(at: directory.appendingPathComponent("checkpoints/step-5.safetensors"))
        try run(steps: 5, resume: true)
        let steps = try String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try? JSONDecoder().decode(StepRecord.self, from: Data($0.utf8)).step }
        #expect(steps == [1, 2, 3, 4, 5])
    }
}
