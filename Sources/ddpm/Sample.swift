import ArgumentParser
import Datasets
import Diffusion
import Foundation
import Models
import Pipelines
import SafeTensors
import Tensors

/// `ddpm sample`: images from a model with Algorithm 2 or DDIM.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples: a PNG grid, individual PNGs and the raw samples as safetensors.")

    @Option(help: "ddpm (Algorithm 2, ancestral) or ddim.")
    var sampler: SamplerKind = .ddim

    @Option(help: "Sampling steps (default: T for ddpm, 50 for ddim). Fewer than T respaces the chain.")
    var steps: Int?

    @Option(help: "DDIM stochasticity η (0 = deterministic, 1 = DDPM-like).")
    var eta: Double = 0

    @Option(help: "Random seed of x_T and of the sampling noise.")
    var seed: UInt64 = 0

    @Option(help: "Number of images.")
    var numSamples = 16

    @Option(help: "Images per network call.")
    var batchSize = 16

    @Option(help: "A safetensors file whose tensor 'samples' or 'noise' (or its only tensor) is x_T, [N, C, H, W].")
    var initialNoise: String?

    @Option(help: "Output directory.")
    var output = "samples"

    @Flag(help: "Also write the generative process (x_t and predicted x0 at ~10 steps) as process.png and process.gif.")
    var showProcess = false

    @OptionGroup var options: ModelOptions

    enum SamplerKind: String, ExpressibleByArgument { case ddpm, ddim }

    func validate() throws {
        guard numSamples >= 1 else { throw ValidationError("--num-samples must be at least 1 (got \(numSamples)).") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1 (got \(batchSize)).") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1 (got \(steps)).") }
        guard eta >= 0 else { throw ValidationError("--eta must be >= 0 (got \(eta)).") }
    }

    func run() throws {
        let (pipeline, scheduler, source) = try options.pipeline()
        let unet = pipeline.unet
        let T = pipeline.diffusion.schedule.timestepCount
        let method: Sampler = sampler == .ddim ? .ddim(steps: steps ?? min(50, T), eta: eta) : .ddpm(steps: steps.flatMap { $0 == T ? nil : $0 })
        if let steps, steps > T { throw ValidationError("--steps \(steps) is more than the model's T = \(T).") }
        let size = unet.configuration.sampleSize ?? 32
        let xT = try initialNoise.map(readNoise) ?? pipeline.initialNoise(count: numSamples, imageSize: size, seed: seed)
        guard xT.rank == 4, xT.shape[1] == unet.configuration.inChannels else {
            throw ValidationError("initial noise has shape \(xT.shape); expected [N, \(unet.configuration.inChannels), H, W].")
        }
        print("model: \(source); sampler: \(method); \(scheduler.varianceType), clip_sample \(scheduler.clipSample)")
        let count = xT.shape[0], perBatch = pipeline.stepCount(method)
        let bar = ProgressBar(total: perBatch * ((count + batchSize - 1) / batchSize), label: "sampling")
        var done = 0
        var samples: [Tensor] = []
        var frames: [TrajectoryFrame] = []
        let recording = showProcess ? try pipeline.recordingTimesteps(method) : []
        for (b, start) in stride(from: 0, to: count, by: batchSize).enumerated() {
            let batch = xT.sliced(alongAxis: 0, start..<min(count, start + batchSize))
            let result = try pipeline.sample(from: batch, sampler: method, seed: seed &+ UInt64(b) &+ 1,
                                             recordingAt: b == 0 ? recording : []) {
                done += 1
                bar.update(done)
            }
            samples.append(result.sample)
            if b == 0 { frames = result.trajectory }
        }
        let all = Tensor.concatenated(samples, alongAxis: 0)
        let out = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try SafeTensorsFile(tensors: ["samples": all], metadata: ["model": source, "sampler": "\(method)", "seed": "\(seed)"])
            .write(to: out.appendingPathComponent("samples.safetensors"))
        try ImageWriter.writeGrid(all, to: out.appendingPathComponent("grid.png"))
        try ImageWriter.writeImages(all, to: out.appendingPathComponent("images"))
        print("wrote \(out.path)/grid.png, images/, samples.safetensors (raw, key 'samples')")
        if showProcess && !frames.isEmpty {
            try writeProcess(frames, to: out)
            print("wrote \(out.path)/process.png (rows: x_t, then predicted x0, for t = \(frames.map(\.t).map(String.init).joined(separator: ", "))) and process.gif")
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
        try ImageWriter.writeGrid(Tensor.concatenated(tiles, alongAxis: 0), to: out.appendingPathComponent("process.png"), columns: frames.count)
        let gifFrames = frames.map { $0.xt.sliced(alongAxis: 0, 0..<shown) } + [frames.last!.predictedX0.sliced(alongAxis: 0, 0..<shown)]
        let rasters = try gifFrames.map { try ImageWriter.grid($0, columns: shown) }
        try ImageWriter.writeAtomically(ImageWriter.gifData(rasters, delay: 30), to: out.appendingPathComponent("process.gif"))
    }

    private func readNoise(_ path: String) throws -> Tensor {
        let file = try SafeTensorsFile.read(contentsOf: URL(fileURLWithPath: path))
        if let t = file.tensors["samples"] ?? file.tensors["noise"] { return t }
        guard file.tensors.count == 1, let only = file.tensors.values.first else {
            throw ValidationError("\(path): expected a tensor named 'noise' or 'samples' (or a single tensor); found \(file.tensors.keys.sorted()).")
        }
        return only
    }
}

/// Where the shipped Fashion-MNIST model lives: $DDPM_PRETRAINED, else `pretrained/fashion-mnist`
/// in the working directory or beside the package that built this binary.
func shippedModelDirectory() -> URL? {
    var candidates: [URL] = []
    if let env = ProcessInfo.processInfo.environment["DDPM_PRETRAINED"] { candidates.append(URL(fileURLWithPath: env)) }
    candidates.append(URL(fileURLWithPath: "pretrained/fashion-mnist"))
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    candidates.append(exe.deletingLastPathComponent().appendingPathComponent("../../../pretrained/fashion-mnist").standardized)
    return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) }
}

/// A U-Net and its scheduler settings from a diffusers directory or a swift-ddpm checkpoint.
func loadModel(_ path: String?, raw: Bool) throws -> (UNet, SchedulerConfiguration, String) {
    guard let path else {
        guard let dir = shippedModelDirectory() else {
            throw ValidationError("no --model given and the shipped model (pretrained/fashion-mnist) was not found; pass --model <diffusers dir or checkpoint> or set DDPM_PRETRAINED.")
        }
        return (try ModelDirectory.loadUNet(from: dir), try ModelDirectory.scheduler(at: dir) ?? .paper, dir.path)
    }
    let url = URL(fileURLWithPath: path)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { throw ValidationError("\(path): not found.") }
    if isDirectory.boolValue {
        return (try ModelDirectory.loadUNet(from: url), try ModelDirectory.scheduler(at: url) ?? .paper, url.path)
    }
    let contents = try Checkpoint.load(url)
    var scheduler = SchedulerConfiguration.paper
    if contents.training.loss == .hybrid { scheduler.varianceType = "learned_range" }  // the network predicts its variance
    return (try contents.model(ema: !raw), scheduler, "\(url.path) (step \(contents.step), \(raw ? "raw" : "EMA") weights)")
}
