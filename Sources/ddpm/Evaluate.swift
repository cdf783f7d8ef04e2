import ArgumentParser
import Datasets
import Diffusion
import Foundation
import Metrics
import Pipelines
import SafeTensors
import Tensors

/// `ddpm evaluate`: FID and IS of images, samples or a model against a reference (Table 1), or
/// the bits/dim bound on a test set (`--nll`, Table 2 and §4.3).
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "FID and Inception Score (Table 1), or bits/dim with --nll (Table 2, §4.3).",
        discussion: """
            FID/IS: score exactly one of --images, --samples or --model against --reference, with the FID \
            Inception weights from --inception (\(FIDInceptionV3.weightsFileName), never downloaded). The paper \
            uses 50,000 samples against the CIFAR-10 training set. Images are put on the 8-bit grid and fed \
            in [-1, 1]; grey images are repeated to 3 channels.
            NLL: --nll --model M [--data fashion-mnist|DIR] [--count N] [--nll-table t.csv] [--plot rd.png]: T network \
            evaluations per batch; --plot draws the rate-distortion curve (Fig. 5) and writes its numbers beside it.
            """)

    @Option(help: "A folder of PNG/JPEG images to score.")
    var images: String?

    @Option(help: "A safetensors file with tensor 'samples' [N, C, H, W] in [-1, 1] (as ddpm sample writes) to score.")
    var samples: String?

    /// `--model` (sample from it for FID/IS, or bound its likelihood with --nll) and the overrides
    /// `ddpm sample` takes, so both commands draw the same images from the same options.
    @OptionGroup var options: ModelOptions
    private var model: String? { options.model }

    @Option(help: "Samples to draw from --model (the paper: 50000).")
    var numSamples = 50_000

    @Option(
        name: .customLong("class"),
        help: "Class-conditional --model: sample only these classes (names or indices, repeatable); default: all classes, balanced.")
    var classes: [String] = []

    @Option(
        help:
            "Class-conditional --model: classifier-free guidance w (1 plain conditional, 0 unconditional; default 2, or 1 without a null label)."
    )
    var guidanceScale: Double?

    @OptionGroup var sampling: SamplerOptions

    @Option(help: "Images per network call (sampling, Inception and --nll).")
    var batchSize = 25

    @Option(help: "Random seed (x_T of sampling batch b is seed + b; the x_t draws of --nll).")
    var seed: UInt64 = 0

    @Option(help: "FID reference: an .npz (mu, sigma), a CIFAR-10 binary directory, an IDX directory, fashion-mnist or an image folder.")
    var reference: String?

    @Flag(help: "Use the test split of a CIFAR-10/IDX reference (default: train, as the paper).")
    var referenceTest = false

    @Option(help: "Write the reference statistics to this .npz (pytorch-fid/TTUR format) for reuse.")
    var saveReferenceStats: String?

    @Option(help: "The FID Inception weights: \(FIDInceptionV3.weightsFileName) or a safetensors conversion.")
    var inception: String?

    @Option(help: "Write all numbers to this JSON file.")
    var json: String?

    @Flag(help: "Compute the bits/dim bound of --model on test images instead of FID/IS.")
    var nll = false

    @Option(help: "Test images for --nll: fashion-mnist (test split), a CIFAR-10 or IDX directory (test split) or an image folder.")
    var data = "fashion-mnist"

    @Option(help: "Evaluate --nll on the first N test images (default: all).")
    var count: Int?

    @Option(help: "Write the full per-timestep table of --nll (t, term, rate, distortion) to this CSV.")
    var nllTable: String?

    @Option(help: "With --nll, draw the rate-distortion curve (Fig. 5) to this PNG, its numbers beside it as .csv.")
    var plot: String?

    func validate() throws {
        for (name, value) in [
            ("--images", images), ("--samples", samples), ("--model", model), ("--reference", reference),
            ("--save-reference-stats", saveReferenceStats), ("--inception", inception), ("--json", json),
            ("--data", data), ("--nll-table", nllTable),
        ] {
            if let value, value.isEmpty { throw ValidationError("\(name) is empty; give a path.") }
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1 (got \(batchSize)).") }
        if nll {
            guard model != nil else {
                throw ValidationError("--nll needs --model <diffusers dir or checkpoint> (the bound is of a model).")
            }
            guard images == nil, samples == nil, reference == nil else {
                throw ValidationError("--nll scores a model on --data; --images, --samples and --reference are for FID/IS.")
            }
            if let count, count < 1 { throw ValidationError("--count must be at least 1 (got \(count)).") }
            if let plot, let nllTable,
                RateDistortionCurve.csvURL(beside: URL(fileURLWithPath: plot)).standardized == URL(fileURLWithPath: nllTable).standardized
            {
                throw ValidationError(
                    "--plot \(plot) writes its numbers to \(nllTable), the --nll-table file; give one of them another name.")
            }
            return
        }
        if plot != nil { throw ValidationError("--plot draws the rate-distortion curve of --nll; add --nll --model <dir or checkpoint>.") }
        let inputs = [("--images", images), ("--samples", samples), ("--model", model)].filter { $0.1 != nil }.map(\.0)
        guard inputs.count == 1 else {
            throw ValidationError(
                inputs.isEmpty
                    ? "nothing to score: pass one of --images <folder>, --samples <samples.safetensors> or --model <dir or checkpoint> (or --nll)."
                    : "pass only one of --images, --samples and --model (got \(inputs.joined(separator: " and "))).")
        }
        guard inception != nil else {
            throw ValidationError(
                "FID and IS need --inception <path to \(FIDInceptionV3.weightsFileName)>, published at \(FIDInceptionV3.weightsURL).")
        }
        if model != nil, numSamples < 10 {
            throw ValidationError("--num-samples must be at least 10 for 10 Inception Score splits (got \(numSamples)).")
        }
        if saveReferenceStats != nil, reference == nil { throw ValidationError("--save-reference-stats needs --reference.") }
        if let reference, let out = saveReferenceStats,
            URL(fileURLWithPath: reference).standardized == URL(fileURLWithPath: out).standardized
        {
            throw ValidationError("--save-reference-stats would overwrite the --reference file \(reference).")
        }
    }

    func run() throws {
        print(ComputeSettings.convolutionBackend.description)  // Inception features and --nll are convolutions
        if nll { return try runLikelihood() }
        let network = try FIDInceptionV3(contentsOf: URL(fileURLWithPath: inception!))
        let referenceStatistics = try reference.map { try statistics(of: $0, extractor: network) }
        var collection = FeatureCollection(extractor: network, batchSize: batchSize)
        let source: String
        if let images {
            let set = try ImageSource.imageFolder(URL(fileURLWithPath: images)).images(train: true)
            if let note = Train.skippedNote(set.skippedFiles) { print(note) }
            let bar = ProgressBar(total: set.count, label: "inception")
            var done = 0
            try collection.add(set) {
                done += $0
                bar.update(done)
            }
            source = "folder \(images)"
        } else if let samples {
            let tensor = try SamplesFile.read(contentsOf: URL(fileURLWithPath: samples))
            let bar = ProgressBar(total: tensor.shape[0], label: "inception")
            var done = 0
            try collection.add(tensor) {
                done += $0
                bar.update(done)
            }
            source = "\(samples) (key 'samples')"
        } else {
            source = try sampleAndCollect(into: &collection)
        }
        let report = try EvaluationReport(
            samples: collection, describedAs: source, reference: referenceStatistics,
            describedAs: try reference.map { try ImageSource.detect($0).describe(train: !referenceTest) })
        for line in report.summary { print(line) }
        if let json {
            try atomicWrite(report.json(), to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
    }

    /// Reference statistics from an .npz or computed from images (then optionally saved).
    private func statistics(of spec: String, extractor: FIDInceptionV3) throws -> FeatureStatistics {
        let data = try ImageSource.detect(spec)
        print("reference: \(data.describe(train: !referenceTest))")
        var bar: ProgressBar?
        var done = 0
        let result = try data.referenceStatistics(train: !referenceTest, extractor: extractor, batchSize: batchSize) { total in
            bar = ProgressBar(total: total, label: "reference")
            return {
                done += $0
                bar?.update(done)
            }
        }
        if let out = saveReferenceStats {
            try result.write(to: URL(fileURLWithPath: out))
            print("wrote reference statistics (mu, sigma) to \(out)")
        }
        return result
    }

    /// Draws --num-samples from --model in batches, feeding each batch to Inception.
    private func sampleAndCollect(into collection: inout FeatureCollection) throws -> String {
        let loaded = try options.load(sampling)
        let pipeline = try options.pipeline(for: loaded)
        let source = loaded.source
        let method = try sampling.sampler(for: loaded, purpose: .evaluation)
        let batches = (numSamples + batchSize - 1) / batchSize
        let conditioning = try ClassRequest(classes: classes, guidanceScale: guidanceScale).balanced(
            for: pipeline.unet.configuration, count: numSamples)
        print(
            "model: \(source); sampler: \(method); \(numSamples) samples in \(batches) batches of \(batchSize)"
                + (conditioning.map { "; class-balanced over \(Set($0.labels).count) classes, guidance scale \($0.guidanceScale)" } ?? ""))
        let bar = ProgressBar(total: pipeline.stepCount(method) * batches, label: "sampling")
        var done = 0
        var local = collection
        let advance = {
            done += 1
            bar.update(done)
        }
        try pipeline.sampleBatches(
            count: numSamples, batchSize: batchSize, sampler: method, seed: seed, classes: conditioning, onStep: advance
        ) { try local.add($0) }
        collection = local
        return "\(numSamples) samples of \(source), \(method), seed \(seed)"
            + (conditioning.map { ", class-balanced, guidance scale \($0.guidanceScale)" } ?? "")
    }

    /// --nll: the bound on test images, its terms and the §4.3 table.
    private func runLikelihood() throws {
        let loaded = try options.load()
        let (unet, source, diffusion) = (loaded.unet, loaded.source, try loaded.scheduler.diffusion())
        try unet.configuration.checkUnconditionalPrediction()  // a conditional model is scored as p(x | ∅)
        let dataset = try ImageSource.detect(data)
        let set = try dataset.modelImages(train: false, size: unet.configuration.sampleSize ?? 32, channels: unet.configuration.inChannels)
        let n = min(count ?? set.count, set.count)
        let T = diffusion.schedule.timestepCount
        let batches = (n + batchSize - 1) / batchSize
        print("model: \(source)")
        print("data: \(dataset.describe(train: false)), \(n) images; T = \(T): \(T) network evaluations per batch, \(T * batches) in all")
        let bar = ProgressBar(total: T * batches, label: "bound")
        var done = 0
        let report = try diffusion.likelihood(
            of: set, count: n, batchSize: batchSize, seed: seed,
            predictNoise: unet.noisePredictor()
        ) {
            done += 1
            bar.update(done)
        }
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        print("NLL ≤ \(f(report.total)) ± \(f(report.standardError)) bits/dim (s.e., \(report.imageCount) images)")
        print(
            "  prior L_T \(String(format: "%.2e", report.prior)), decoder L_0 \(f(report.decoder)), "
                + "Σ L_{t-1} (t = 2…T) \(f(report.terms.dropFirst().reduce(0, +)))")
        print("  t      term (bits/dim)  rate (bits/dim)  distortion (RMSE, 0-255)")
        for t in report.summaryTimesteps() {
            print(
                "  "
                    + [
                        String(t).padding(toLength: 7, withPad: " ", startingAt: 0),
                        String(format: "%-17.5f", report.terms[t - 1]), String(format: "%-17.5f", report.rate(at: t)),
                        String(format: "%.3f", report.distortion[t - 1]),
                    ].joined())
        }
        if let nllTable {
            try atomicWrite(Data(report.csv.utf8), to: URL(fileURLWithPath: nllTable))
            print("wrote the full table (\(T) rows) to \(nllTable)")
        }
        if let plot {
            let csv = try RateDistortionCurve(report).write(to: URL(fileURLWithPath: plot))
            print("wrote the rate-distortion curve (Fig. 5) to \(plot) and its \(T) points to \(csv.path)")
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try atomicWrite(encoder.encode(report), to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
    }
}
