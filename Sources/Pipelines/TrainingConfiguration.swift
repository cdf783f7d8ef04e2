/// Everything that defines a training run. Defaults are the paper's CIFAR-10 recipe
/// (Ho et al. App. B; `hojonathanho/diffusion scripts/run_cifar.py`), each with its source.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    /// Images per optimiser step (run_cifar.py: 128).
    public var batchSize = 128
    /// Micro-batches per step; their gradients are averaged (for batches that do not fit).
    public var gradientAccumulation = 1
    /// Optimiser steps (the paper trains CIFAR-10 for 800k).
    public var steps = 800_000
    /// Adam learning rate (2e-4; 2e-5 for the 256×256 models).
    public var learningRate: Float = 2e-4
    /// Linear warm-up steps (utils.get_warmed_up_lr: 5000).
    public var warmupSteps = 5000
    /// Global gradient-norm clip (tf.clip_by_global_norm: 1.0); 0 disables.
    public var gradientClip: Float = 1.0
    /// EMA decay (tpu_utils.run_training: 0.9999).
    public var emaDecay: Float = 0.9999
    /// EMA decay warm-up min(decay, (1+t)/(10+t)); off in the paper, on for short runs.
    public var emaWarmup = false
    /// Random horizontal flips (randflip=1).
    public var randomFlip = true
    /// L_simple (eq. 14) or the hybrid loss with learned variance (Nichol & Dhariwal 2021).
    public var loss = Loss.simple
    /// Seed of every random stream of the run (data order, t, ε, dropout).
    public var seed: UInt64 = 0
    /// Steps between checkpoints, and how many to keep.
    public var checkpointEvery = 5000
    public var keepCheckpoints = 2
    /// Steps between sample grids from the EMA model (fixed noise); 0 disables.
    public var sampleEvery = 5000
    /// Steps between log lines / metrics records.
    public var logEvery = 100
    /// Class-conditional runs: the probability that a sample's label is replaced by the null
    /// label, so one network also learns ε̂(x_t, ∅) for classifier-free guidance (Ho & Salimans
    /// 2022 train with 0.1 or 0.2); nil for unconditional runs (and older checkpoints).
    public var classDropout: Float? = nil

    public enum Loss: String, Codable, Sendable, CaseIterable { case simple, hybrid }

    public init() {}

    /// The largest batch accepted (a batch of 65,536 32×32 RGB images is already 800 MB of input).
    public static let maximumBatchSize = 65_536

    /// Checks values a user can get wrong, with a message saying how to fix them.
    public func validate() throws(PipelineError) {
        func bad(_ m: String) -> PipelineError { .invalid(m) }
        guard (1...Self.maximumBatchSize).contains(batchSize) else {
            throw bad("batch size must be 1 to \(Self.maximumBatchSize) (got \(batchSize))")
        }
        guard gradientAccumulation >= 1, batchSize % gradientAccumulation == 0 else {
            throw bad("gradient accumulation \(gradientAccumulation) must be >= 1 and divide the batch size \(batchSize)")
        }
        guard steps >= 1 else { throw bad("steps must be at least 1 (got \(steps))") }
        guard learningRate > 0, learningRate.isFinite else { throw bad("learning rate must be positive (got \(learningRate))") }
        guard warmupSteps >= 0 else { throw bad("warm-up steps must be >= 0 (got \(warmupSteps))") }
        guard gradientClip >= 0, gradientClip.isFinite else { throw bad("gradient clip must be >= 0 (got \(gradientClip))") }
        guard emaDecay >= 0, emaDecay < 1 else { throw bad("EMA decay must be in [0, 1) (got \(emaDecay))") }
        guard checkpointEvery >= 1, keepCheckpoints >= 1 else { throw bad("checkpoint interval and count must be at least 1") }
        guard sampleEvery >= 0, logEvery >= 1 else { throw bad("sample interval must be >= 0 and log interval >= 1") }
        if let p = classDropout, !(p >= 0 && p < 1) { throw bad("class dropout must be in [0, 1) (got \(p))") }
    }
}
