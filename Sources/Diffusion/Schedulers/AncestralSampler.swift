import Tensors

/// Algorithm 2 (ancestral sampling, Ho et al. 2020) as a `Scheduler`: all T steps of the chain, or a
/// respaced chain (`DDPM.respaced`), stepping with `DDPM.reverseStep` (diffusers' DDPMScheduler).
/// The mathematics stays in `DDPM.swift`; this only walks the chain's steps in order.
public struct AncestralSampler: Scheduler, Sendable {
    /// The chain being sampled (respaced or not).
    public let chain: DDPM
    /// The paper timestep of `chain` the walk starts at (x is x_start, e.g. an encoded image, §4.3).
    public let start: Int

    /// Algorithm 2 on `chain` from its T, or from paper timestep `start` of it.
    public init(_ chain: DDPM, startingAt start: Int? = nil) {
        let T = chain.schedule.timestepCount
        precondition(
            start.map { (1...T).contains($0) } ?? true, "[AncestralSampler] cannot start at t = \(start!); the chain has t = 1…\(T)")
        self.chain = chain
        self.start = start ?? T
    }

    /// Algorithm 2 on `steps` timesteps of `model` chosen by `spacing` (all T when `steps` is nil or T).
    public init(_ model: DDPM, steps: Int?, spacing: TimestepSpacing = .leading) throws(DiffusionError) {
        let T = model.schedule.timestepCount
        guard let steps, steps != T else {
            self.init(model)
            return
        }
        self.init(try model.respaced(steps: steps, spacing: spacing))
    }

    /// Step i of the walk is paper timestep start − i of `chain`.
    private func paperTimestep(_ index: Int) -> Int { start - index }

    public var modelTimesteps: [Double] { chain.modelTimesteps(Array((1...start).reversed())) }

    public var usesVarianceChannels: Bool { chain.variance == .learnedRange }

    public mutating func step(_ modelOutput: Tensor, index: Int, sample: Tensor, noise: () -> Tensor) -> SchedulerStep {
        let t = paperTimestep(index)
        let z = t > 1 ? noise() : Tensor.zeros(sample.shape)  // Algorithm 2, line 3
        let step = chain.reverseStep(sample, at: t, modelOutput: modelOutput, noise: z)
        return SchedulerStep(previous: step.previous, predictedX0: step.predictedX0)
    }
}
