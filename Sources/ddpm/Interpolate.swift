import ArgumentParser
import Datasets
import Diffusion
import Foundation
import Pipelines
import SafeTensors
import Tensors

/// `ddpm interpolate`: the paper's Figure 8 (Ho et al. §4.3, App. D). Two images are diffused to
/// x_t with the same noise, mixed linearly, and decoded with the reverse process from t.
struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Interpolate between two images through x_t (encode with q(x_t|x_0), mix, decode; the paper's Figure 8).",
        discussion: """
            The sources are two image files (PNG or JPEG, resized and centre-cropped to the model's size), or, with \
            --dataset, two image indices of that dataset. Writes interpolation.png (first row: source 1, the decoded \
            image for each λ, source 2; second row: x_t, the mixed x_t for each λ, x'_t) and interpolation.safetensors \
            (raw tensors: sources, encoded, mixed, decoded, lambdas).
            """)

    @Argument(help: "Two image files, or two indices into --dataset.")
    var sources: [String]

    @Option(help: "Take the sources from a dataset by index: fashion-mnist (test split), mnist, cifar10 (test batch) or folder.")
    var dataset: DatasetKind?

    @Option(help: "Dataset location (default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
    var data: String?

    @Option(name: [.customShort("t"), .long], help: "Paper timestep the images are diffused to (the paper uses 500 of 1000).")
    var timestep = 500

    @Option(help: "Number of interpolation weights λ, evenly spaced from 0 to 1 (the paper's figure: 11).")
    var steps = 11

    @Option(help: "ddpm (Algorithm 2 from t, as the paper) or ddim.")
    var sampler: SamplerKind = .ddpm

    @Option(help: "Sampling steps of the whole chain (default: T for ddpm, 50 for ddim); only those below t run, after t itself.")
    var samplingSteps: Int?

    @Option(help: "DDIM stochasticity η (0 = deterministic).")
    var eta: Double = 0

    @Option(help: "Random seed of the encoding noise and of the reverse-process noise (shared by every λ).")
    var seed: UInt64 = 0

    @Option(help: "Output directory.")
    var output = "interpolation"

    @Option(name: .customLong("class"), help: "Class-conditional models: the class (name or index) every λ is decoded as.")
    var classes: [String] = []

    @Option(help: "Class-conditional models: classifier-free guidance w (default 2, or 1 without a null label).")
    var guidanceScale: Double?

    @OptionGroup var options: ModelOptions

    func validate() throws {
        guard sources.count == 2 else {
            throw ValidationError("give exactly two sources (image files, or indices with --dataset); got \(sources.count).")
        }
        if dataset != nil {
            for s in sources where Int(s) == nil || Int(s)! < 0 {
                throw ValidationError("with --dataset the sources are image indices (0, 1, …); got '\(s)'.")
            }
        }
        if let dataset, dataset != .fashionMNIST, data == nil {
            throw ValidationError("--dataset \(dataset.rawValue) needs --data <directory>.")
        }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1 (got \(steps)).") }
        guard timestep >= 1 else { throw ValidationError("-t/--timestep must be at least 1 (got \(timestep)).") }
        if let samplingSteps, samplingSteps < 1 { throw ValidationError("--sampling-steps must be at least 1 (got \(samplingSteps)).") }
        guard eta >= 0 else { throw ValidationError("--eta must be >= 0 (got \(eta)).") }
    }

    func run() throws {
        let loaded = try options.load()
        let (pipeline, scheduler, source) = (try options.pipeline(for: loaded), loaded.scheduler, loaded.source)
        let unet = pipeline.unet
        let T = pipeline.diffusion.schedule.timestepCount
        let method = try Sampler.decodingLatent(sampler, steps: samplingSteps, eta: eta, startingAt: timestep, timestepCount: T)
        let conditioning = try ClassRequest(classes: classes, guidanceScale: guidanceScale).single(for: unet.configuration)

        let size = pipeline.imageSize
        let channels = unet.configuration.inChannels
        let images = try sourceImages(size: size, channels: channels)
        let lambdas = Interpolation.evenlySpacedLambdas(steps)
        print(
            "model: \(source); t = \(timestep); \(lambdas.count) values of λ; sampler: \(method); \(scheduler.varianceType), clip_sample \(scheduler.clipSample)"
        )
        print(ComputeSettings.convolutionBackend.description)
        let bar = ProgressBar(total: lambdas.count * pipeline.stepCount(method, startingAt: timestep), label: "decoding")
        var done = 0
        if let conditioning {
            print(
                "class \(conditioning.label) \(unet.configuration.className(conditioning.label)); guidance scale \(conditioning.guidanceScale)"
            )
        }
        let result = try pipeline.interpolate(
            images[0], images[1], at: timestep, lambdas: lambdas, sampler: method, seed: seed,
            label: conditioning?.label, guidanceScale: conditioning?.guidanceScale ?? 1
        ) {
            done += 1
            bar.update(done)
        }
        let out = URL(fileURLWithPath: output)
        try createOutputDirectory(out)
        try ImageWriter.writeGrid(result.strip, to: out.appendingPathComponent("interpolation.png"), columns: lambdas.count + 2)
        let tensors: [String: Tensor] = [
            "sources": result.sources, "encoded": result.encoded, "mixed": result.mixed, "decoded": result.decoded,
            "lambdas": Tensor(shape: [lambdas.count], scalars: lambdas.map { Float($0) }),
        ]
        try SafeTensorsFile(tensors: tensors, metadata: ["model": source, "t": "\(timestep)", "sampler": "\(method)", "seed": "\(seed)"])
            .write(to: out.appendingPathComponent("interpolation.safetensors"))
        print(
            "wrote \(out.path)/interpolation.png (row 1: source 1, decoded λ = \(lambdas.map { String(format: "%.2g", $0) }.joined(separator: ", ")), source 2; row 2: x_t, mixed, x'_t) and interpolation.safetensors"
        )
    }

    /// The two sources as `[1, C, H, W]` model inputs.
    private func sourceImages(size: Int, channels: Int) throws -> [Tensor] {
        try sources.map { try ImageSource.modelInput($0, dataset: dataset?.rawValue, data: data, size: size, channels: channels) }
    }
}
