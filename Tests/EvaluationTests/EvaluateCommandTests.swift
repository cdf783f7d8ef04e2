import Datasets
import Foundation
import Metrics
import Models
import Pipelines
import SafeTensors
import Tensors
import TestSupport
import Testing

@Suite("ddpm evaluate: validation messages and the --nll path, through the built binary", .serialized)
struct EvaluateCommandTests {
    struct ErrorCase: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(
            arguments: ["--inception", "w.pth"],
            message:
                "nothing to score: pass one of --images <folder>, --samples <samples.safetensors> or --model <dir or checkpoint> (or --nll)."
        ),
        ErrorCase(
            arguments: ["--images", "imgs", "--model", "m", "--inception", "w.pth"],
            message: "pass only one of --images, --samples and --model (got --images and --model)."),
        ErrorCase(
            arguments: ["--images", "imgs"],
            message:
                "FID and IS need --inception <path to pt_inception-2015-12-05-6726825d.pth>, published at https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth."
        ),
        ErrorCase(arguments: ["--nll"], message: "--nll needs --model <diffusers dir or checkpoint> (the bound is of a model)."),
        ErrorCase(
            arguments: ["--nll", "--model", "m", "--images", "imgs"],
            message: "--nll scores a model on --data; --images, --samples and --reference are for FID/IS."),
        ErrorCase(
            arguments: ["--samples", "s.safetensors", "--inception", "w.pth", "--save-reference-stats", "r.npz"],
            message: "--save-reference-stats needs --reference."),
        ErrorCase(
            arguments: ["--model", "m", "--inception", "w.pth", "--num-samples", "5"],
            message: "--num-samples must be at least 10 for 10 Inception Score splits (got 5)."),
    ]

    @Test("invalid combinations stop before any work with a message saying what to pass", arguments: errorCases)
    func validation(_ c: ErrorCase) throws {
        let result = try CommandLineTool.runSeparately(["evaluate"] + c.arguments)
        #expect(result.status == 64, "exit status \(result.status); stderr: \(result.stderr)")
        #expect(result.stderr.contains("Error: \(c.message)"), "stderr: \(result.stderr)")
    }

    @Test("missing Inception weights name the exact file and where pytorch-fid publishes it")
    func missingWeights() throws {
        let result = try CommandLineTool.runSeparately(["evaluate", "--images", "nowhere", "--inception", "/nonexistent/w.pth"])
        #expect(result.status != 0)
        #expect(
            result.stderr.contains(
                "/nonexistent/w.pth: no such file. FID and IS need the FID Inception weights pt_inception-2015-12-05-6726825d.pth, published with pytorch-fid's GitHub release 'fid_weights' at https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
            ),
            "stderr: \(result.stderr)")
    }

    @Test("--nll on a tiny saved model prints the bound and its terms and writes the full table and JSON")
    func likelihoodEndToEnd() throws {
        let directory = try temporaryDirectory("ddpm-eval-cli")
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try Tiny.saveModel(in: directory)
        let data = directory.appendingPathComponent("test")
        let set = Tiny.images(count: 6)
        try ImageWriter.writeImages(set.batch(indices: Array(0..<set.count)), to: data)
        let csv = directory.appendingPathComponent("table.csv")
        let json = directory.appendingPathComponent("nll.json")
        let result = try CommandLineTool.runSeparately([
            "evaluate", "--nll", "--model", model.path, "--data", data.path, "--count", "3",
            "--batch-size", "2", "--nll-table", csv.path, "--json", json.path,
        ])
        try #require(result.status == 0, "exit \(result.status); stderr: \(result.stderr)")
        #expect(result.stdout.contains("3 images; T = 8: 8 network evaluations per batch, 16 in all"), "\(result.stdout)")
        #expect(
            result.stdout.contains("NLL ≤ ") && result.stdout.contains("decoder L_0") && result.stdout.contains("distortion (RMSE, 0-255)"))
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 9 && rows[1].hasPrefix("8,"))
        let report = try JSONDecoder().decode(LikelihoodReport.self, from: Data(contentsOf: json))
        #expect(report.imageCount == 3 && report.total.isFinite)
        #expect(abs(report.prior + report.terms.reduce(0, +) - report.total) <= 1e-9 * report.total)
    }

    @Test(
        "FID/IS of --model through the binary: a folder reference saved with --save-reference-stats and read back as .npz gives the same numbers"
    )
    func fidReferenceRoundTrip() throws {
        let directory = try temporaryDirectory("ddpm-eval-cli")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = directory.appendingPathComponent("inception.safetensors")
        try SafeTensorsFile(tensors: EvaluationFixtures.randomInceptionWeights()).write(to: weights)
        // A tiny grey model (8 timesteps) sampled by DDIM in 2 steps; a 3-image RGB reference folder.
        let model = try Tiny.saveModel(in: directory)
        let folder = directory.appendingPathComponent("reference")
        try ImageWriter.writeImages(EvaluationFixtures.images(3, channels: 3, seed: 7), to: folder)
        let npz = directory.appendingPathComponent("reference.npz")
        let first = directory.appendingPathComponent("first.json")
        let second = directory.appendingPathComponent("second.json")
        let common = [
            "evaluate", "--model", model.path, "--num-samples", "10", "--sampler", "ddim", "--steps", "2",
            "--batch-size", "10", "--seed", "3", "--inception", weights.path,
        ]
        let run1 = try CommandLineTool.runSeparately(
            common + ["--reference", folder.path, "--save-reference-stats", npz.path, "--json", first.path])
        try #require(run1.status == 0, "exit \(run1.status); stderr: \(run1.stderr)")
        let run2 = try CommandLineTool.runSeparately(common + ["--reference", npz.path, "--json", second.path])
        try #require(run2.status == 0, "exit \(run2.status); stderr: \(run2.stderr)")
        let (a, b) = (
            try JSONDecoder().decode(EvaluationReport.self, from: Data(contentsOf: first)),
            try JSONDecoder().decode(EvaluationReport.self, from: Data(contentsOf: second))
        )
        let fid = try #require(a.fid)
        #expect(fid.isFinite && fid >= 0 && b.fid == fid, "FID \(fid) from the folder, \(String(describing: b.fid)) from the .npz")
        #expect(a.inceptionScore == b.inceptionScore && a.sampleCount == 10 && a.referenceSampleCount == 3 && b.referenceSampleCount == nil)
        #expect(try FeatureStatistics(contentsOf: npz).dimension == 2048)
        #expect(
            run1.stdout.contains("10 samples in 1 batches of 10") && run1.stderr.contains("sampling 2/2"), "\(run1.stdout)\n\(run1.stderr)")
        #expect(run1.stdout.contains("IS ") && run1.stdout.contains("(mean ± std over 10 splits)"))
        #expect(run1.stdout.contains("warning: FID from 10 samples (fewer than 2048)"), "\(run1.stdout)")
    }
}
