import ArgumentParser
import Datasets
import Diffusion
import Foundation
import Pipelines
import SafeTensors
import Tensors

/// `ddpm reconstruct`: the paper's §4.3 for one real image: samples that share x_t (Fig. 7) and
/// its progressive decompression with rates and distortions (Fig. 6, Table 4).
struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode an image to x_t and draw x0 from it for several t (Fig. 7); its progressive decompression (Fig. 6, Table 4).",
        discussion: """
            The source is an image file (PNG or JPEG, converted and resized to the model's size) or, with --dataset, an \
            index into that dataset's test split. For each t, x_t ~ q(x_t|x_0) is drawn once (one ε for every t) and \
            --samples images are drawn from p(x_0|x_t). Writes reconstruction.png (a row per t: x_t, the samples, x_0), \
            reconstruction.safetensors, and (unless --no-progressive; T network evaluations) progressive.png (x_t and the \
            predicted x_0 along one chain, with the rate sent so far and the RMSE), progressive-rd.png and progressive.csv.
            """)

    @Argument(help: "An image file, or an index into --dataset.")
    var source: String

    @Option(help: "Take the source from a dataset by index: fashion-mnist (test split), mnist, cifar10 (test batch) or folder.")
    var dataset: DatasetKind?

    @Option(help: "Dataset location (default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
    var data: String?

    @Option(name: [.customShort("t"), .long], help: "Comma-separated paper timesteps 0…T, a row each (default: T, 3T/4, T/2, T/4, 0).")
    var timesteps: String?

    @Option(help: "Samples drawn from each x_t.")
    var samples = 4

    @Option(help: "ddpm (Algorithm 2 from t, as the paper), ddim or another sampler of `ddpm sample`.")
    var sampler: SamplerKind = .ddpm

    @Option(help: "Sampling steps of the whole chain (default: T for ddpm, 50 for ddim); those below t run, after t itself.")
    var samplingSteps: Int?

    @Option(help: "DDIM stochasticity η (default 1: distinct samples; 0 is deterministic and repeats one image per row).")
    var eta: Double = 1

    @Option(help: "Random seed of ε (the encoding), of the sampling noise and of the progressive chain.")
    var seed: UInt64 = 0

    @Flag(inversion: .prefixedNo, help: "Also run the progressive decompression (T network evaluations on one image).")
    var progressive = true

    @Option(help: "Output directory.")
    var output = "reconstruction"

    @OptionGroup var options: ModelOptions

    func validate() throws {
        if dataset != nil, Int(source).map({ $0 < 0 }) ?? true {
            throw ValidationError("with --dataset the source is an image index (0, 1, …); got '\(source)'.")
        }
        if let dataset, dataset != .fashionMNIST, data == nil {
            throw ValidationError("--dataset \(dataset.rawValue) needs --data <directory>.")
        }
        _ = try parsedTimesteps(T: 1000)
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1 (got \(samples)).") }
        if let samplingSteps, samplingSteps < 1 { throw ValidationError("--sampling-steps must be at least 1 (got \(samplingSteps)).") }
        guard eta >= 0 else { throw ValidationError("--eta must be >= 0 (got \(eta)).") }
    }

    /// -t as integers; the default row set for a chain of T.
    func parsedTimesteps(T: Int) throws -> [Int] {
        guard let timesteps else { return Reconstruction.defaultTimesteps(timestepCount: T) }
        let parts = timesteps.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Int($0) }
        guard values.count == parts.count, !values.isEmpty else {
            throw ValidationError("-t/--timesteps must be comma-separated integers such as 1000,750,500,250,0 (got '\(timesteps)').")
        }
        return values
    }

    func run() throws {
        let loaded = try options.load()
        let (pipeline, scheduler, modelSource) = (try options.pipeline(for: loaded), loaded.scheduler, loaded.source)
        let T = pipeline.diffusion.schedule.timestepCount
        let rows = try parsedTimesteps(T: T)
        let method = try Sampler.decodingLatent(sampler, steps: samplingSteps, eta: eta, timestepCount: T)
        let size = pipeline.imageSize
        let channels = pipeline.unet.configuration.inChannels
        let image = try ImageSource.modelInput(source, dataset: dataset?.rawValue, data: data, size: size, channels: channels)
        print(
            "model: \(modelSource); t = \(rows.map(String.init).joined(separator: ", ")); \(samples) samples each; sampler: \(method); "
                + "\(scheduler.varianceType), clip_sample \(scheduler.clipSample)")
        print(ComputeSettings.convolutionBackend.description)
        if sampler == .ddim, eta == 0, samples > 1 { print("note: DDIM with η = 0 is deterministic: the samples of a row are identical.") }
        let work = rows.filter { (1...T).contains($0) }.map { pipeline.stepCount(method, startingAt: $0) }.reduce(0, +)
        let bar = ProgressBar(total: max(1, work), label: "sampling")
        var done = 0
        let result = try pipeline.reconstruct(image, at: rows, samples: samples, sampler: method, seed: seed) {
            done += 1
            bar.update(done)
        }
        let out = URL(fileURLWithPath: output)
        try createOutputDirectory(out)
        try ImageWriter.writePNG(try result.figure(), to: out.appendingPathComponent("reconstruction.png"))
        try SafeTensorsFile(
            tensors: [
                "source": result.source, "encoded": result.encoded, "samples": result.samples,
                "timesteps": Tensor(shape: [rows.count], scalars: rows.map(Float.init)),
            ],
            metadata: ["model": modelSource, "sampler": "\(method)", "seed": "\(seed)"]
        )
        .write(to: out.appendingPathComponent("reconstruction.safetensors"))
        print(
            "wrote \(out.path)/reconstruction.png (a row per t: x_t, \(samples) samples of x0, the source) and reconstruction.safetensors")
        print("  t      RMSE of the samples to the source (0-255): mean [each]")
        for (row, t) in rows.enumerated() {
            let d = result.distances(row: row)
            print(
                "  " + String(t).padding(toLength: 7, withPad: " ", startingAt: 0)
                    + String(format: "%-8.2f", d.reduce(0, +) / Double(d.count))
                    + "[" + d.map { String(format: "%.2f", $0) }.joined(separator: ", ") + "]")
        }
        guard progressive else { return }
        try runProgressive(pipeline, image: image, to: out)
    }

    /// Fig. 6 and Table 4 for the source: one chain x_T → x_0 as the receiver decodes it.
    private func runProgressive(_ pipeline: SamplingPipeline, image: Tensor, to out: URL) throws {
        let T = pipeline.diffusion.schedule.timestepCount
        let bar = ProgressBar(total: T, label: "progressive")
        var done = 0
        let code = try pipeline.progressiveDecompression(image, seed: Reconstruction.progressiveSeed(seed)) {
            done += 1
            bar.update(done)
        }
        try ImageWriter.writePNG(try code.figure(), to: out.appendingPathComponent("progressive.png"))
        try ImageWriter.writePNG(code.curve.image(), to: out.appendingPathComponent("progressive-rd.png"))
        try atomicWrite(Data(code.report.csv.utf8), to: out.appendingPathComponent("progressive.csv"))
        print(
            "progressive decompression (Table 4 for this image): \(String(format: "%.4f", code.report.total)) bits/dim in all, "
                + "decoder L_0 \(String(format: "%.4f", code.report.decoder))")
        print("  reverse steps  t      rate (bits/dim)  distortion (RMSE, 0-255)")
        for t in code.report.summaryTimesteps() {
            print(
                "  " + String(T - t + 1).padding(toLength: 15, withPad: " ", startingAt: 0)
                    + String(t).padding(toLength: 7, withPad: " ", startingAt: 0)
                    + String(format: "%-17.5f", code.report.rate(at: t)) + String(format: "%.3f", code.report.distortion[t - 1]))
        }
        print(
            "wrote \(out.path)/progressive.png (x_t and predicted x0 at t = \(code.frames.map { String($0.t) }.joined(separator: ", "))), "
                + "progressive-rd.png and progressive.csv (all \(T) rows)")
    }
}
