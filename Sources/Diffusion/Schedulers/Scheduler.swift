import Tensors

/// A reverse-process sampler in the shape of diffusers' schedulers (`set_timesteps`,
/// `init_noise_sigma`, `scale_model_input`, `step`): the list of network evaluations, the scale of
/// x_T, the network's input at each evaluation and one update per evaluation. The network stays
/// outside (diffusers' design), so each solver is tested on stored model outputs; a solver's
/// history (multistep buffers) lives in the value, so a copy restarts nothing and shares nothing.
/// Not required to be `Sendable`, but every conformer here is (its history is tensors and numbers).
///
/// Conformers: `AncestralSampler` (Algorithm 2, respaced), `DDIM`, and one file per solver in this
/// folder, each numerically equal to the diffusers class it names.
public protocol Scheduler {
    /// The model timestep of each network evaluation, in order: diffusers' `scheduler.timesteps`
    /// (0-based, in `0..<T`; fractional for schedulers that interpolate σ, e.g. Euler with linspace).
    var modelTimesteps: [Double] { get }
    /// x_T = `initNoiseSigma` · z for standard-normal z (diffusers' `init_noise_sigma`).
    var initNoiseSigma: Double { get }
    /// Whether `step` wants all 2C output channels of a learned-variance network; otherwise the
    /// sampling loop passes the first C, as diffusers' schedulers do.
    var usesVarianceChannels: Bool { get }
    /// The network's input at evaluation `index` (diffusers' `scale_model_input`).
    func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor
    /// The sample after evaluation `index` from the network's output there. `noise` draws standard
    /// normal z shaped like `sample`; only stochastic solvers call it.
    mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep
}

extension Scheduler {
    public var initNoiseSigma: Double { 1 }
    public var usesVarianceChannels: Bool { false }
    public func scaleModelInput(_ sample: Tensor, index: Int) -> Tensor { sample }
    /// Network evaluations per sampling run.
    public var evaluationCount: Int { modelTimesteps.count }
}

/// One scheduler update: the next sample and the x̂₀ that the update used.
public struct SchedulerStep: Sendable {
    public let previous: Tensor
    public let predictedX0: Tensor

    public init(previous: Tensor, predictedX0: Tensor) {
        self.previous = previous
        self.predictedX0 = predictedX0
    }
}

extension Scheduler {
    /// The denoising loop of diffusers' pipelines: x = `initNoiseSigma` · z, then for each
    /// evaluation i: ε̂ = network(`scaleModelInput`(x, i), modelTimesteps[i]); x = step(ε̂, i, x).
    ///
    /// - Parameters:
    ///   - z: standard-normal noise `[N, C, H, W]` (scaled here by `initNoiseSigma`).
    ///   - rng: the stream of stochastic solvers' noise.
    ///   - recordingAt: evaluation indices whose x and x̂₀ are kept (Ho et al. Fig. 6).
    ///   - predictNoise: the network.
    public func sample(
        from z: Tensor, using rng: inout SeededGenerator, recordingAt: Set<Int> = [], predictNoise: NoisePredictor
    ) -> SamplingResult {
        var scheduler = self
        var x = initNoiseSigma == 1 ? z : Float(initNoiseSigma) * z
        var trajectory: [TrajectoryFrame] = []
        let (count, channels) = (z.shape[0], z.shape[1])
        for (index, t) in modelTimesteps.enumerated() {
            let input = scheduler.scaleModelInput(x, index: index)
            var output = withoutGradients { predictNoise(input, Array(repeating: t, count: count)) }
            precondition(
                output.shape[0] == count && Array(output.shape.dropFirst(2)) == Array(x.shape.dropFirst(2))
                    && (output.shape[1] == channels || output.shape[1] == 2 * channels),
                "[Scheduler] the network returned \(output.shape) for a sample of \(x.shape)")
            if output.shape[1] == 2 * channels && !usesVarianceChannels { output = output.sliced(alongAxis: 1, 0..<channels) }
            let step = withoutGradients {
                scheduler.step(output, index: index, sample: x) { Tensor.randomNormal(x.shape, using: &rng) }
            }
            if recordingAt.contains(index) {
                trajectory.append(TrajectoryFrame(t: Int(t.rounded()) + 1, xt: x, predictedX0: step.predictedX0))
            }
            x = step.previous
        }
        return SamplingResult(sample: x, trajectory: trajectory)
    }
}
