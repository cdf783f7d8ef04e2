import ArgumentParser
import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import SafeTensors
import Tensors

/// `ddpm sample`: images from a model with any of the samplers (Algorithm 2, DDIM, the fast solvers).
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples: a PNG grid, individual PNGs and the raw samples as safetensors.")

    @OptionGroup var sampling: SamplerOptions

    @Option(help: "Random seed of x_T and of the sampling noise (the same images as ddpm evaluate --model with this seed).")
    var seed: UInt64 = 0

    @Option(help: "Number of images (streamed to disk batch by batch); per class with a class-conditional model.")
    var numSamples = 16

    @Option(
        name: .customLong("class"),
        help: "Class-conditional models: a class name or index (repeatable), or 'all' for one row per class (the default).")
    var classes: [String] = []

    @Option(
        help:
            "Classifier-free guidance w: ε = ε(∅) + w(ε(c) − ε(∅)); 1 is plain conditional, 0 unconditional (default: 2, or 1 for a model without a null label)."
    )
    var guidanceScale: Double?

    @Option(help: "Images per network call.")
    var batchSize = 16

    @Option(help: "A safetensors file whose tensor 'samples' or 'noise' (or its only tensor) is x_T, [N, C, H, W], standard normal.")
    var initialNoise: String?

    @Option(help: "Output directory.")
    var output = "samples"

    @Flag(help: "Also write the generative process (x_t and predicted x0 at ~10 steps) as process.png and process.gif.")
    var showProcess = false

    @OptionGroup var options: ModelOptions

    /// The raw samples are kept for samples.safetensors only up to this size.
    static let maximumRawBytes = 1 << 30
    /// Images in grid.png.
    static let gridImages = 64

    func validate() throws {
        guard numSamples >= 1 else { throw ValidationError("--num-samples must be at least 1 (got \(numSamples)).") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1 (got \(batchSize)).") }
    }

    func run() throws {
        let model = try options.load(sampling)
        let pipeline = try options.pipeline(for: model)
        let method = try sampling.sampler(for: model, purpose: .preview)
        let unet = pipeline.unet
        let size = pipeline.imageSize
        let channels = unet.configuration.inChannels
        let given = try initialNoise.map { path throws(PipelineError) in
            try pipeline.readInitialNoise(contentsOf: URL(fileURLWithPath: path))
        }
        let request = ClassRequest(classes: classes, guidanceScale: guidanceScale)
        let conditioning =
            try given.map { try request.rows(for: unet.configuration, total: $0.shape[0]) }
            ?? request.rows(for: unet.configuration, perClass: numSamples)
        let count = conditioning?.labels.count ?? given?.shape[0] ?? numSamples
        // One class per grid row when each class has a row's worth of images.
        let columns = conditioning != nil && given == nil && numSamples <= 32 ? numSamples : nil
        let gridLimit = columns.map { $0 * 20 } ?? Self.gridImages
        if let conditioning {
            var seen = Set<Int>()
            let shown = conditioning.labels.filter { seen.insert($0).inserted }.map { "\($0) \(unet.configuration.className($0))" }
            print("classes: \(shown.joined(separator: ", ")); guidance scale \(conditioning.guidanceScale)")
        }
        let perBatch = pipeline.stepCount(method)
        let batches = (count + batchSize - 1) / batchSize
        print("model: \(model.source); sampler: \(method); \(perBatch) network evaluations per batch")
        print("scheduler config: \(model.scheduler.className), \(model.scheduler.varianceType), clip_sample \(model.scheduler.clipSample)")
        print(ComputeSettings.convolutionBackend.description)
        let imageBytes = channels * size * size * MemoryLayout<Float>.size
        let keepRaw = count * imageBytes <= Self.maximumRawBytes
        if !keepRaw { print("note: \(count) samples are more than 1 GiB raw; samples.safetensors is skipped, the PNGs are streamed") }
        let out = URL(fileURLWithPath: output)
        try createOutputDirectory(out)
        let bar = ProgressBar(total: perBatch * batches, label: "sampling")
        var done = 0
        var raw: [Tensor] = []
        var grid: [Tensor] = []
        var frames: [TrajectoryFrame] = []
        var written = 0
        let recording = showProcess ? try pipeline.recordingTimesteps(method) : []
        let advance = {
            done += 1
            bar.update(done)
        }
        try pipeline.sampleBatches(
            count: count, batchSize: batchSize, sampler: method, seed: seed, initialNoise: given,
            recordingAt: recording, classes: conditioning, onStep: advance
        ) { b, result in
            if b == 0 { frames = result.trajectory }
            if keepRaw { raw.append(result.sample) }
            let shown = grid.reduce(0) { $0 + $1.shape[0] }
            if shown < gridLimit { grid.append(result.sample.sliced(alongAxis: 0, 0..<min(result.sample.shape[0], gridLimit - shown))) }
            _ = try ImageWriter.writeImages(result.sample, to: out.appendingPathComponent("images"), firstIndex: written)
            written += result.sample.shape[0]
        }
        if keepRaw {
            var metadata = ["model": model.source, "sampler": "\(method)", "seed": "\(seed)"]
            if let conditioning {
                metadata["class_labels"] = conditioning.labels.map(String.init).joined(separator: ",")
                metadata["guidance_scale"] = "\(conditioning.guidanceScale)"
            }
            try SafeTensorsFile(tensors: ["samples": Tensor.concatenated(raw, alongAxis: 0)], metadata: metadata)
                .write(to: out.appendingPathComponent("samples.safetensors"))
        }
        try ImageWriter.writeGrid(Tensor.concatenated(grid, alongAxis: 0), to: out.appendingPathComponent("grid.png"), columns: columns)
        print(
            "wrote \(out.path)/grid.png (first \(min(count, gridLimit))\(columns == nil ? "" : ", one row per class")), images/ (\(written))\(keepRaw ? ", samples.safetensors (raw, key 'samples')" : "")"
        )
        if showProcess && !frames.isEmpty {
            try writeProcess(frames, to: out)
            print(
                "wrote \(out.path)/process.png (rows: x_t, then predicted x0, for t = \(frames.map(\.t).map(String.init).joined(separator: ", "))) and process.gif"
            )
        }
    }

    /// The paper's Figure 6 layout for the first few images: for each image a row of x_t and a row of x̂₀.
    private func writeProcess(_ frames: [TrajectoryFrame], to out: URL) throws {
        let shown = min(4, frames[0].xt.shape[0])
        var tiles: [Tensor] = []
        for i in 0..<shown {
            for f in frames { tiles.append(f.xt.sliced(alongAxis: 0, i..<(i + 1))) }
            for f in frames { tiles.append(f.predictedX0.sliced(alongAxis: 0, i..<(i + 1))) }
        }
        try ImageWriter.writeGrid(
            Tensor.concatenated(tiles, alongAxis: 0), to: out.appendingPathComponent("process.png"), columns: frames.count)
        let gifFrames = frames.map { $0.xt.sliced(alongAxis: 0, 0..<shown) } + [frames.last!.predictedX0.sliced(alongAxis: 0, 0..<shown)]
        let rasters = try gifFrames.map { try ImageWriter.grid($0, columns: shown) }
        try ImageWriter.writeAtomically(ImageWriter.gifData(rasters, delay: 30), to: out.appendingPathComponent("process.gif"))
    }
}
