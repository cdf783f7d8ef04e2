import Datasets
import Foundation
import Pipelines
import SafeTensors
import TestSupport
import Testing

// Issue 14: empty and non-finite option values, negative numbers after a space, weights files
// that are devices, and `ddpm inspect` of weights that do not load.
@Suite("ddpm command line: hostile option values")
struct HostileCommandLineTests {
    static let cases = [
        CommandLineTests.Case(
            arguments: ["train", "--output", ""], expected: "--output is empty; give a run directory (e.g. --output runs/mnist)."),
        CommandLineTests.Case(
            arguments: ["train", "--max-minutes", "nan"], expected: "--max-minutes must be a positive finite number of minutes (got nan)."),
        CommandLineTests.Case(
            arguments: ["train", "--max-minutes", "inf"], expected: "--max-minutes must be a positive finite number of minutes (got inf)."),
        CommandLineTests.Case(arguments: ["train", "--steps", "-5"], expected: "--steps must be at least 1 (got -5)."),
        CommandLineTests.Case(
            arguments: ["train", "--learning-rate", "nan"], expected: "--learning-rate must be a finite number (got nan)."),
        CommandLineTests.Case(arguments: ["train", "--grad-clip", "-inf"], expected: "--grad-clip must be a finite number (got -inf)."),
        CommandLineTests.Case(
            arguments: ["train", "--data", "", "--dataset", "mnist"], expected: "--data is empty; give the dataset directory."),
        CommandLineTests.Case(arguments: ["evaluate", "--images", ""], expected: "--images is empty; give a path."),
        CommandLineTests.Case(arguments: ["evaluate", "--batch-size", "-3"], expected: "--batch-size must be at least 1 (got -3)."),
        CommandLineTests.Case(
            arguments: ["inspect", ""], expected: "the path is empty; give a model directory, checkpoint or weights file."),
        CommandLineTests.Case(
            arguments: ["inspect", "/dev/zero"],
            expected: "/dev/zero: is a character device, not a regular file; pass a .bin checkpoint file."),
    ]

    @Test("each is refused with a message naming the option and the value", arguments: cases)
    func refused(_ c: CommandLineTests.Case) throws {
        let (status, output) = try runDDPM(c.arguments)
        #expect(status != 0)
        #expect(output.contains(c.expected), "output was: \(output)")
        #expect(!output.contains("Missing value"), "output was: \(output)")
    }

    @Test("negative values after a space are joined to their option; other arguments are untouched")
    func joiningNegativeValues() throws {
        // Checked through the binary: `--steps=-5` and `--steps -5` give the same message.
        let (_, a) = try runDDPM(["train", "--steps=-5"])
        let (_, b) = try runDDPM(["train", "--steps", "-5"])
        #expect(a == b && a.contains("--steps must be at least 1 (got -5)."))
    }

    @Test("train says how many images of a folder it skipped and names the first ones")
    func skippedImages() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try ImageWriter.writePNG(
            RasterImage(width: 32, height: 32, channels: 1, pixels: [UInt8](repeating: 128, count: 1024)),
            to: data.appendingPathComponent("good.png"))
        try Data("not an image".utf8).write(to: data.appendingPathComponent("bad.png"))
        try Data([0xFF, 0xD8, 0xFF]).write(to: data.appendingPathComponent("cut.jpg"))
        // --resume into an empty directory stops right after the images are loaded.
        let (status, output) = try runDDPM([
            "train", "--dataset", "folder", "--data", data.path, "--preset", "small32-grey",
            "--resume", "--output", directory.appendingPathComponent("run").path,
        ])
        #expect(status != 0)
        #expect(
            output.contains("skipped 2 unreadable image(s) (--strict stops on them instead): \(data.path)/bad.png, \(data.path)/cut.jpg"),
            "\(output)")
    }

    @Test("inspect exits non-zero when the weights do not load strictly, or hold NaN, and 0 with --allow-nonfinite for NaN")
    func inspectExitStatus() throws {
        let directory = try Tiny.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["config.json", "diffusion_pytorch_model.safetensors", "scheduler_config.json"] {
            try FileManager.default.copyItem(
                at: ParityFixtures.modelDirectory.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        let weights = directory.appendingPathComponent("diffusion_pytorch_model.safetensors")
        var file = try SafeTensorsFile.read(contentsOf: weights)
        let original = file
        let key = file.tensors.keys.sorted()[0]
        file.tensors[key] = nil
        try file.write(to: weights)
        var (status, output) = try runDDPM(["inspect", directory.path])
        #expect(status != 0 && output.contains("weights load strictly: NO") && output.contains(key), "\(output)")

        file = original
        let t = file.tensors[key]!
        file.tensors[key] = .init(shape: t.shape, scalars: [.nan] + t.scalars.dropFirst())
        try file.write(to: weights)
        (status, output) = try runDDPM(["inspect", directory.path])
        #expect(
            status != 0 && output.contains("non-finite weights: 1 tensor(s)") && output.contains("  \(key): 1 of \(t.scalarCount) values"),
            "\(output)")
        (status, output) = try runDDPM(["inspect", "--allow-nonfinite", directory.path])
        #expect(
            status == 0 && output.contains("(allowed by --allow-nonfinite)") && output.contains("weights load strictly: yes"), "\(output)")
    }
}
