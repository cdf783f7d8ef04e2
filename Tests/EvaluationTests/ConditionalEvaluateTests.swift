import Datasets
import Foundation
import Metrics
import Models
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// `ddpm evaluate` on a class-conditional model: FID/IS from class-balanced samples at
/// a guidance scale, and --nll of the unconditional ε̂(x_t, ∅).
@Suite("ddpm evaluate: class-conditional models", .serialized)
struct ConditionalEvaluateTests {
    /// A tiny conditional model (2 classes + the null label, 8 timesteps) in `directory/model`.
    static func model(in directory: URL) throws -> URL {
        var scheduler = SchedulerConfiguration.paper
        scheduler.numTrainTimesteps = 8
        let model = directory.appendingPathComponent("model")
        try ModelDirectory.save(
            try UNet(Tiny.deterministicUNet.withClasses(2, names: ["h", "v"]), seed: 5), scheduler: scheduler, to: model)
        return model
    }

    /// Random weights in the FID Inception layout (the real ones are not available here).
    static func inception(in directory: URL) throws -> URL {
        let weights = directory.appendingPathComponent("inception.safetensors")
        try SafeTensorsFile(tensors: EvaluationFixtures.randomInceptionWeights()).write(to: weights)
        return weights
    }

    @Test("FID/IS of a conditional --model samples every class in turn, at the given guidance scale")
    func classBalanced() throws {
        let directory = try temporaryDirectory("ddpm-cond-eval")
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = try Self.inception(in: directory)
        let folder = directory.appendingPathComponent("reference")
        try ImageWriter.writeImages(EvaluationFixtures.images(3, channels: 3, seed: 7), to: folder)
        let run = try CommandLineTool.runSeparately([
            "evaluate", "--model", try Self.model(in: directory).path, "--num-samples", "10", "--sampler", "ddim",
            "--steps", "2", "--batch-size", "10", "--inception", weights.path, "--reference", folder.path,
            "--guidance-scale", "3",
        ])
        try #require(run.status == 0, "exit \(run.status); stderr: \(run.stderr)")
        #expect(run.stdout.contains("class-balanced over 2 classes, guidance scale 3.0"), "\(run.stdout)")
    }

    @Test("--nll of a conditional model bounds p(x | ∅); --class on an unconditional --model is refused")
    func likelihoodAndRefusal() throws {
        let directory = try temporaryDirectory("ddpm-cond-eval")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("test")
        let set = Tiny.images(count: 6)
        try ImageWriter.writeImages(set.batch(indices: Array(0..<set.count)), to: data)
        let nll = try CommandLineTool.runSeparately([
            "evaluate", "--nll", "--model", try Self.model(in: directory).path, "--data", data.path, "--count", "2",
        ])
        #expect(nll.status == 0 && nll.stdout.contains("NLL ≤ "), "exit \(nll.status); \(nll.stdout) \(nll.stderr)")
        let plain = directory.appendingPathComponent("plain")
        try ModelDirectory.save(try UNet(Tiny.deterministicUNet, seed: 5), scheduler: .paper, to: plain)
        let refused = try CommandLineTool.runSeparately([
            "evaluate", "--model", plain.path, "--num-samples", "10", "--class", "1", "--inception", try Self.inception(in: directory).path,
            "--reference", data.path,
        ])
        #expect(refused.status != 0)
        #expect(
            (refused.stdout + refused.stderr).contains("--class 1 was given, but this model is unconditional"),
            "\(refused.stdout) \(refused.stderr)")
    }
}
