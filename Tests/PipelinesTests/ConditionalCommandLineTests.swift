import Datasets
import Foundation
import Models
import Pipelines
import Tensors
import TestSupport
import Testing

/// `ddpm sample/interpolate/evaluate --class`, `--guidance-scale` and `train --conditional`
/// the bad inputs, each with a clear message, and the good paths.
@Suite("ddpm command line: class conditioning")
struct ConditionalCommandLineTests {
    /// A conditional tiny model directory (classes bar, stripe, dot + the null label), written once.
    static let model: URL = {
        let directory = (try! Tiny.temporaryDirectory()).appendingPathComponent("conditional")
        try! ModelDirectory.save(try! ClassGuidanceTests.conditionalUNet(), scheduler: .paper, to: directory)
        return directory
    }()

    static func sample(_ extra: [String]) throws -> (status: Int32, output: String) {
        let out = (try Tiny.temporaryDirectory())
        defer { try? FileManager.default.removeItem(at: out) }
        return try runDDPM(
            [
                "sample", "--model", model.path, "--sampler", "ddim", "--steps", "2", "--num-samples", "2",
                "--output", out.path,
            ] + extra)
    }

    /// A folder of 8×8 grey images, in class subfolders or loose.
    static func folder(subfolders: Bool) throws -> URL {
        let root = (try Tiny.temporaryDirectory())
        let images = Tensor(repeating: 0.2, shape: [4, 1, 8, 8])
        if subfolders {
            for name in ["a", "b"] { _ = try ImageWriter.writeImages(images, to: root.appendingPathComponent(name)) }
        } else {
            _ = try ImageWriter.writeImages(images, to: root)
        }
        return root
    }

    /// An IDX directory with `images` 8×8 images and, if given, a labels file of `labels` entries.
    static func idx(images: Int, labels: Int?) throws -> URL {
        let root = (try Tiny.temporaryDirectory())
        func header(_ magic: UInt8, _ dims: [Int]) -> [UInt8] {
            [0, 0, 8, magic] + dims.flatMap { d in (0..<4).reversed().map { UInt8((d >> (8 * $0)) & 0xFF) } }
        }
        try Data(header(3, [images, 8, 8]) + [UInt8](repeating: 90, count: images * 64)).write(
            to: root.appendingPathComponent("train-images-idx3-ubyte"))
        if let labels {
            try Data(header(1, [labels]) + (0..<labels).map { UInt8($0 % 2) }).write(
                to: root.appendingPathComponent("train-labels-idx1-ubyte"))
        }
        return root
    }

    static func train(_ dataset: String, _ data: URL, _ extra: [String] = ["--conditional"]) throws -> (status: Int32, output: String) {
        let out = (try Tiny.temporaryDirectory())
        defer { try? FileManager.default.removeItem(at: out) }
        return try runDDPM(
            [
                "train", "--dataset", dataset, "--data", data.path, "--preset", "tiny8-grey", "--steps", "1",
                "--batch-size", "2", "--sample-every", "0", "--output", out.path,
            ] + extra)
    }

    @Test("an unknown class name is refused, listing the known ones")
    func unknownName() throws {
        let (status, output) = try Self.sample(["--class", "sneaker"])
        #expect(status != 0)
        #expect(
            output.contains("unknown class 'sneaker'; the known classes are 'bar', 'stripe', 'dot' (or their indices 0 to 2)"), "\(output)")
    }

    @Test("an index out of range is refused, naming the range and the classes")
    func indexOutOfRange() throws {
        let (status, output) = try Self.sample(["--class", "3"])
        #expect(status != 0)
        #expect(output.contains("class index 3 is out of range; this model has classes 0 to 2: 0 bar, 1 stripe, 2 dot"), "\(output)")
    }

    @Test(
        "--class and --guidance-scale are refused for an unconditional model", arguments: [["--class", "1"], ["--guidance-scale", "3"]])
    func unconditionalModel(_ extra: [String]) throws {
        let out = (try Tiny.temporaryDirectory())
        defer { try? FileManager.default.removeItem(at: out) }
        let (status, output) = try runDDPM(
            [
                "sample", "--model", ParityFixtures.modelDirectory.path, "--steps", "2", "--num-samples", "1",
                "--output", out.path,
            ] + extra)
        #expect(status != 0)
        #expect(
            output.contains("\(extra[0]) \(extra[1] == "3" ? "3.0" : extra[1]) was given, but this model is unconditional"), "\(output)")
    }

    @Test("--class all draws one row per class; a name and a guidance scale sample that class")
    func goodSampling() throws {
        let (status, output) = try Self.sample(["--class", "all"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("classes: 0 bar, 1 stripe, 2 dot; guidance scale 2.0") && output.contains("one row per class"), "\(output)")
        let (status2, output2) = try Self.sample(["--class", "Stripe", "--class", "0", "--guidance-scale", "0"])
        #expect(status2 == 0 && output2.contains("classes: 1 stripe, 0 bar; guidance scale 0.0"), "\(output2)")
    }

    @Test("interpolate needs one --class for a conditional model")
    func interpolate() throws {
        let image = (try Tiny.temporaryDirectory())
        defer { try? FileManager.default.removeItem(at: image) }
        let files = try ImageWriter.writeImages(Tensor(repeating: 0.1, shape: [2, 1, 8, 8]), to: image)
        let base = [
            "interpolate", files[0].path, files[1].path, "--model", Self.model.path, "--sampler", "ddim", "--sampling-steps", "2",
            "-t", "500", "--steps", "2", "--output", image.appendingPathComponent("out").path,
        ]
        let (status, output) = try runDDPM(base)
        #expect(status != 0 && output.contains("give exactly one --class"), "\(output)")
        let (status2, output2) = try runDDPM(base + ["--class", "dot"])
        #expect(status2 == 0 && output2.contains("class 2 dot"), "\(output2)")
    }

    @Test("--conditional on an image folder without class subfolders says how to label it")
    func unlabelledFolder() throws {
        let data = try Self.folder(subfolders: false)
        defer { try? FileManager.default.removeItem(at: data) }
        let (status, output) = try Self.train("folder", data)
        #expect(status != 0)
        #expect(
            output.contains("the data has no class labels")
                && output.contains("Put each class's images in a subfolder named after the class"), "\(output)")
    }

    @Test("--conditional on IDX images without a labels file names the file to add")
    func unlabelledIDX() throws {
        let data = try Self.idx(images: 4, labels: nil)
        defer { try? FileManager.default.removeItem(at: data) }
        let (status, output) = try Self.train("mnist", data)
        #expect(status != 0 && output.contains("Put its labels file, train-labels-idx1-ubyte.gz"), "\(output)")
    }

    @Test("a labels file whose count differs from the images' is refused with both counts")
    func labelCountMismatch() throws {
        let data = try Self.idx(images: 4, labels: 3)
        defer { try? FileManager.default.removeItem(at: data) }
        let (status, output) = try Self.train("mnist", data)
        #expect(status != 0 && output.contains("3 labels, but") && output.contains("holds 4 images"), "\(output)")
    }

    @Test("--conditional trains on class subfolders and on IDX labels; --class-dropout needs --conditional")
    func goodTraining() throws {
        let folder = try Self.folder(subfolders: true)
        let idx = try Self.idx(images: 4, labels: 4)
        defer { for u in [folder, idx] { try? FileManager.default.removeItem(at: u) } }
        let (status, output) = try Self.train("folder", folder, ["--conditional", "--class-dropout", "0.2"])
        #expect(status == 0 && output.contains("conditional on 2 classes (a, b) + the null label 2; class dropout 0.2"), "\(output)")
        let (status2, output2) = try Self.train("mnist", idx)
        #expect(status2 == 0 && output2.contains("conditional on 2 classes (class 0, class 1)"), "\(output2)")
        let (status3, output3) = try Self.train("folder", folder, ["--class-dropout", "0.2"])
        #expect(status3 != 0 && output3.contains("--class-dropout applies to --conditional training only"), "\(output3)")
    }
}

/// The data-parallel rule with class dropout: `mpirun -np N ddpm train --conditional` trains the
/// single-process model (the data-parallel check, on labelled data with dropout 0.3).
@Suite(
    "conditional data-parallel training with mpirun", .serialized,
    .enabled(if: MPIRun.available, "mpirun not installed (apt-get install openmpi-bin libopenmpi-dev)"))
struct ConditionalDataParallelTests {
    /// MPIRun's 32 striped images in two class folders (even: horizontal, odd: vertical).
    static let data: URL = {
        let root = (try! Tiny.temporaryDirectory()).appendingPathComponent("labelled")
        let files =
            (try? FileManager.default.contentsOfDirectory(at: MPIRun.data, includingPropertiesForKeys: nil))?.sorted { $0.path < $1.path }
            ?? []
        for (i, file) in files.enumerated() {
            let folder = root.appendingPathComponent(i % 2 == 0 ? "horizontal" : "vertical")
            try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try? FileManager.default.copyItem(at: file, to: folder.appendingPathComponent(file.lastPathComponent))
        }
        return root
    }()

    /// MPIRun's recipe (20 steps: fewer leave the near-zero-initialised conv2 weights so small
    /// that float rounding alone reaches 1e-5 relative) with --conditional.
    static func arguments(_ output: URL) -> [String] {
        [
            "train", "--dataset", "folder", "--data", data.path, "--preset", "tiny8-grey", "--output", output.path, "--steps", "20",
            "--batch-size", "12", "--checkpoint-every", "10", "--sample-every", "0", "--seed", "5", "--learning-rate", "2e-4",
            "--warmup", "3", "--flip", "--conditional", "--class-dropout", "0.3",
        ]
    }

    @Test("mpirun -np 2 and -np 3 with --conditional train the single-process model (≤ 1e-5 relative)", arguments: [2, 3])
    func sameModelForAnyN(_ n: Int) throws {
        let (single, parallel) = ((try Tiny.temporaryDirectory()), (try Tiny.temporaryDirectory()))
        defer { for d in [single, parallel] { try? FileManager.default.removeItem(at: d) } }
        let one = try CommandLineTool.run(Self.arguments(single))
        try #require(one.status == 0, "single run failed: \(one.output)")
        let many = try MPIRun.run(processes: n, Self.arguments(parallel))
        try #require(many.status == 0, "mpirun -np \(n) failed: \(many.output)")
        let a = try MPIRun.weights(MPIRun.checkpoint(parallel, step: 20))
        let b = try MPIRun.weights(MPIRun.checkpoint(single, step: 20))
        #expect(a.keys.contains { $0.contains("class_embedding.weight") })
        let difference = MPIRun.maxRelativeDifference(a, b)
        print("conditional: max relative weight difference, N = 1 vs \(n): \(difference)")
        #expect(difference <= 1e-5)
    }
}
