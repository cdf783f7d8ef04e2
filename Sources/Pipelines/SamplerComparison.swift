import Datasets
import Diffusion
import Foundation
import Tensors

/// Quality against cost of the samplers on one model (`ddpm bench samplers`): every sampler runs from
/// the same x_T, and its x₀ is compared with a converged solution of the probability-flow ODE
/// from that x_T (a third-order solver at many steps). All samplers use trailing spacing and no
/// clipping of x̂₀ here (the model's `clip_sample` would make DDIM and Heun converge to another
/// answer), so each starts at the last training timestep and solves the same ODE.
public struct SamplerComparison {
    public struct Row: Sendable {
        public let sampler: Sampler
        public let evaluations: Int
        /// RMS distance of x₀ to the reference, on the [−1, 1] scale.
        public let distance: Double
        public let secondsPerImage: Double
        /// Share of the wall time spent outside the network (the scheduler's own work).
        public let schedulerShare: Double
    }

    public let pipeline: SamplingPipeline
    public let noise: Tensor
    public let reference: Tensor

    /// The reference: DPM-Solver++ of order 3 with `referenceSteps` trailing steps.
    public init(pipeline: SamplingPipeline, noise: Tensor, referenceSteps: Int = 1000) throws(PipelineError) {
        var configuration = pipeline.configuration
        configuration.clipSample = false
        configuration.options["clip_sample"] = .bool(false)
        var unclipped = try SamplingPipeline(unet: pipeline.unet, configuration: configuration)
        unclipped.spacing = .trailing
        self.pipeline = unclipped
        self.noise = noise
        reference = try unclipped.sample(from: noise, sampler: Sampler(.dpmSolverPlusPlus, steps: referenceSteps, order: 3), seed: 0).sample
    }

    /// One sampler's x₀, its distance to the reference and its timing.
    public func measure(_ sampler: Sampler) throws(PipelineError) -> (row: Row, sample: Tensor) {
        let run = try pipeline.timedSample(from: noise, sampler: sampler)
        let difference = (run.sample - reference).scalars
        let rms = (difference.reduce(0) { $0 + Double($1) * Double($1) } / Double(difference.count)).squareRoot()
        let row = Row(
            sampler: sampler, evaluations: run.evaluations, distance: rms, secondsPerImage: run.seconds / Double(noise.shape[0]),
            schedulerShare: run.schedulerShare)
        return (row, run.sample)
    }
}

/// A sampling run with its wall time split into the network and everything else.
public struct TimedSample: Sendable {
    public let sample: Tensor
    public let evaluations: Int
    public let seconds: Double
    public let networkSeconds: Double
    /// The share of the wall time outside the network: the scheduler's own work and the loop.
    public var schedulerShare: Double { max(0, seconds - networkSeconds) / seconds }
}

extension SamplingPipeline {
    /// Samples from `noise` with `sampler`, timing the whole run and the network calls in it.
    public func timedSample(from noise: Tensor, sampler: Sampler, seed: UInt64 = 0) throws(PipelineError) -> TimedSample {
        let scheduler = try scheduler(for: sampler)
        try unet.configuration.checkUnconditionalPrediction()
        var networkSeconds = 0.0
        let network = unet.noisePredictor()
        let timed: NoisePredictor = { x, t in
            let start = DispatchTime.now().uptimeNanoseconds
            defer { networkSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
            return network(x, t)
        }
        var rng = SeededGenerator(seed: seed)
        let start = DispatchTime.now().uptimeNanoseconds
        let sample = scheduler.sample(from: noise, using: &rng, predictNoise: timed).sample
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return TimedSample(sample: sample, evaluations: scheduler.evaluationCount, seconds: seconds, networkSeconds: networkSeconds)
    }
}

extension SamplerComparison {
    /// The samples of several samplers from the same x_T as one labelled figure, a row each.
    public static func figure(_ rows: [(label: String, samples: Tensor)], scale: Int = 2) throws(PipelineError) -> RasterImage {
        let tiles = rows.map { row in (0..<row.samples.shape[0]).map { row.samples.sliced(alongAxis: 0, $0..<($0 + 1)) } }
        return try FigureGrid.image(tiles, rowLabels: rows.map { [$0.label] }, columnHeaders: [], scale: scale)
    }
}

extension SamplingPipeline {
    /// Seconds of one bare network evaluation on `noise` at the middle timestep (median of
    /// `repeats` after one warm-up): the denoising throughput a sampling loop at this batch
    /// should reach, measured in the same run (`ddpm bench sampling` prints the ratio).
    public func networkSeconds(on noise: Tensor, repeats: Int = 3) -> Double {
        let network = unet.noisePredictor()
        let t = [Double](repeating: Double(diffusion.schedule.timestepCount / 2), count: noise.shape[0])
        _ = network(noise, t)
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = network(noise, t)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }
}
