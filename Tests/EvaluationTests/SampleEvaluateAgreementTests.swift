import Datasets
import Foundation
import Metrics
import Models
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// `ddpm sample` and `ddpm evaluate --model` share the model options and the library's batch
/// seeding, so with one seed and sampler they draw the same images: scoring the file `sample`
/// wrote gives exactly the FID of sampling inside `evaluate` (the Inception Score of random
/// Inception weights is 1 for any images, so FID's 2048 pool3 features are what is compared).
@Suite("ddpm sample and ddpm evaluate --model draw the same images", .serialized)
struct SampleEvaluateAgreementTests {
    @Test("the FID of sample's samples.safetensors equals evaluate --model's with the same seed and sampler, and differs for another seed")
    func sameImages() throws {
        let directory = try temporaryDirectory("ddpm-agree")
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = directory.appendingPathComponent("inception.safetensors")
        try SafeTensorsFile(tensors: EvaluationFixtures.randomInceptionWeights()).write(to: weights)
        let model = try Tiny.saveModel(in: directory, timesteps: 8, seed: 5)
        let reference = directory.appendingPathComponent("reference")
        try ImageWriter.writeImages(EvaluationFixtures.images(3, channels: 3, seed: 7), to: reference)
        // η > 0: the sampling noise is drawn too, so its per-batch seeding is compared as well as x_T's.
        let sampler = ["--sampler", "ddim", "--steps", "3", "--eta", "1", "--batch-size", "4", "--num-samples", "10"]
        let out = directory.appendingPathComponent("out")
        let sampled = try CommandLineTool.runSeparately(["sample", "--model", model.path, "--seed", "3", "--output", out.path] + sampler)
        try #require(sampled.status == 0, "exit \(sampled.status); stderr: \(sampled.stderr)")

        func score(_ arguments: [String], _ name: String) throws -> Double {
            let json = directory.appendingPathComponent(name)
            let result = try CommandLineTool.runSeparately(
                ["evaluate", "--inception", weights.path, "--reference", reference.path, "--json", json.path] + arguments)
            try #require(result.status == 0, "exit \(result.status); stderr: \(result.stderr)")
            return try #require(try JSONDecoder().decode(EvaluationReport.self, from: Data(contentsOf: json)).fid)
        }
        // The same batches of 4 reach Inception both ways (its GEMM blocking depends on the batch).
        let fromFile = try score(["--samples", out.appendingPathComponent("samples.safetensors").path, "--batch-size", "4"], "file.json")
        let inside = try score(["--model", model.path, "--seed", "3"] + sampler, "inside.json")
        let otherSeed = try score(["--model", model.path, "--seed", "4"] + sampler, "other.json")
        #expect(fromFile == inside && inside.isFinite, "FID of sample's images \(fromFile), of evaluate's \(inside)")
        #expect(otherSeed != inside, "another seed gave the same FID \(otherSeed): the comparison would not notice different images")
    }

}
