import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

/// Runs the built `ddpm` binary (see `CommandLineTool`) and returns its exit status and output.
func runDDPM(_ arguments: [String]) throws -> (status: Int32, output: String) { try CommandLineTool.run(arguments) }

@Suite("ddpm command line: validation messages")
struct CommandLineTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let arguments: [String], expected: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let cases = [
        Case(arguments: ["train", "--steps", "0"], expected: "--steps must be at least 1 (got 0)."),
        Case(arguments: ["train", "--preset", "huge"], expected: "unknown --preset 'huge'; choose one of"),
        Case(arguments: ["train", "--dataset", "cifar10"], expected: "--dataset cifar10 needs --data <directory>."),
        Case(arguments: ["train", "--dataset", "folder", "--data", "/nonexistent-ddpm-data"], expected: "/nonexistent-ddpm-data"),
        Case(arguments: ["sample", "--num-samples", "0"], expected: "--num-samples must be at least 1 (got 0)."),
        Case(
            arguments: ["sample", "--spacing", "sideways"],
            expected:
                "The value 'sideways' is invalid for '--spacing <spacing>'. Please provide one of 'leading', 'linspace' or 'trailing'."),
        Case(arguments: ["sample", "--model", "/nonexistent-ddpm-model"], expected: "/nonexistent-ddpm-model: not found."),
        Case(
            arguments: ["sample", "--sampler", "euler", "--order", "2"],
            expected:
                "--order does not apply to the euler sampler; it is taken by deis, dpm-solver++, dpm-solver++-sde, dpm-solver++-singlestep, unipc."
        ),
        Case(arguments: ["sample", "--sampler", "ddim", "--karras"], expected: "--karras does not apply to the ddim sampler;"),
        Case(arguments: ["sample", "--sampler", "heun", "--steps", "1001"], expected: "--steps 1001 is more than the model's T = 1000"),
        Case(arguments: ["sample", "--sampler", "unipc", "--order", "4"], expected: "--order must be 1, 2 or 3 (got 4)."),
        Case(arguments: ["sample", "--sampler", "lms"], expected: "The value 'lms' is invalid for '--sampler"),
        Case(
            arguments: ["sample", "--scheduler-config", "/nonexistent-scheduler.json"], expected: "/nonexistent-scheduler.json: not found."),
        Case(arguments: ["inspect", "/nonexistent-ddpm-model"], expected: "/nonexistent-ddpm-model: not found."),
        Case(arguments: ["bench", "unet", "--case", "huge"], expected: "unknown --case 'huge'"),
    ]

    @Test("bad input stops with a message that says what to fix", arguments: cases)
    func validation(_ c: Case) throws {
        let (status, output) = try runDDPM(c.arguments)
        #expect(status != 0)
        #expect(output.contains(c.expected), "output was: \(output)")
    }

    @Test("x_T with a NaN is refused naming the file and the tensor; an output path under a file is a clear error")
    func badInitialNoiseAndOutput() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var values = [Float](repeating: 0.5, count: 32 * 32)
        values[7] = .nan
        let noise = directory.appendingPathComponent("xT.safetensors")
        try SafeTensorsFile(tensors: ["noise": Tensor(shape: [1, 1, 32, 32], scalars: values)]).write(to: noise)
        let (status, output) = try runDDPM([
            "sample", "--initial-noise", noise.path, "--output", directory.appendingPathComponent("out").path,
        ])
        #expect(status != 0)
        #expect(
            output.contains(
                "\(noise.path): tensor 'noise' has 1 NaN or infinite values (the first at flat index 7); x_T must be finite standard-normal noise."
            ), "\(output)")
        let blocker = directory.appendingPathComponent("a-file")
        try Data([1]).write(to: blocker)
        let (status2, output2) = try runDDPM([
            "sample", "--steps", "1", "--num-samples", "1", "--output", blocker.appendingPathComponent("out").path,
        ])
        #expect(status2 != 0)
        #expect(output2.contains("\(blocker.path)/out: cannot create the output directory"), "\(output2)")
    }

    @Test("a run directory with checkpoints is not overwritten without --resume")
    func refusesToOverwrite() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoints = directory.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        try Checkpoint.save(try Tiny.trainer(steps: 1), to: checkpoints.appendingPathComponent("step-1.safetensors"))
        let before = try Data(contentsOf: checkpoints.appendingPathComponent("step-1.safetensors"))
        // A data set that is always there, so the only reason left to stop is the existing run.
        let data = directory.appendingPathComponent("images")
        let images = Tiny.images(count: 8)
        try ImageWriter.writeImages(images.batch(indices: Array(0..<images.count)), to: data, prefix: "bar")
        let (status, output) = try runDDPM([
            "train", "--dataset", "folder", "--data", data.path, "--preset", "tiny8-grey",
            "--batch-size", "4", "--output", directory.path, "--steps", "1",
        ])
        #expect(status != 0)
        #expect(output.contains("already holds checkpoints; pass --resume"), "output was: \(output)")
        #expect(try Data(contentsOf: checkpoints.appendingPathComponent("step-1.safetensors")) == before)
    }
}

@Suite("ddpm inspect")
struct InspectCommandTests {
    @Test("a diffusers directory: configuration, parameter count, keys, strict load; .bin the same")
    func directory() throws {
        for name in ["tiny-ddpm", "tiny-ddpm-bin"] {
            let (status, output) = try runDDPM(["inspect", ParityFixtures.root.appendingPathComponent(name).path])
            #expect(status == 0, "\(output)")
            #expect(output.contains("parameters: 103,875"), "\(output)")
            #expect(output.contains("weights load strictly: yes"), "\(output)")
            #expect(output.contains("down_blocks.1: "), "\(output)")
        }
    }

    @Test("a directory holding only config.json is enough: the count comes from the configuration")
    func configOnly() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            at: ParityFixtures.modelDirectory.appendingPathComponent("config.json"),
            to: directory.appendingPathComponent("config.json"))
        let (status, output) = try runDDPM(["inspect", directory.path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("parameters: 103,875 (from the configuration)") && output.contains("weights: none"), "\(output)")
    }
}

@Suite("ddpm sample from checkpoints")
struct SampleCheckpointTests {
    @Test("a checkpoint trained with the hybrid loss samples with its learned variance")
    func hybridCheckpoint() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var unet = Tiny.unet
        unet.outChannels = 2
        var config = Tiny.configuration(steps: 1)
        config.loss = .hybrid
        var diffusion = DDPM(schedule: try NoiseSchedule())
        diffusion.variance = .learnedRange
        let trainer = try Trainer(
            unet: try UNet(unet), diffusion: diffusion,
            data: try DataLoader(images: Tiny.images(), batchSize: 8, seed: 0), configuration: config)
        try trainer.trainStep()
        let checkpoint = directory.appendingPathComponent("step-1.safetensors")
        try Checkpoint.save(trainer, to: checkpoint)
        let out = directory.appendingPathComponent("out")
        let (status, output) = try runDDPM([
            "sample", "--model", checkpoint.path, "--sampler", "ddim", "--steps", "3",
            "--num-samples", "2", "--output", out.path,
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("learned_range"), "\(output)")
        #expect(
            try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("samples.safetensors")).tensor("samples").shape == [2, 1, 8, 8])
    }
}
