import Foundation
import NN
import TensorKernels
import Tensors

/// Global-norm gradient clipping (`tf.clip_by_global_norm`; DDPM clips at 1.0): returns the norm
/// ‖g‖ over all gradients and the factor min(1, maxNorm/‖g‖) to scale them by.
public func clipFactor(forGlobalNormOf gradients: [Tensor], maxNorm: Float) -> (norm: Float, factor: Float) {
    var sumSquares: Double = 0
    for g in gradients { g.withBuffer { b in sumSquares += Double(Kernels.dot(b.baseAddress!, b.baseAddress!, count: b.count)) } }
    let norm = Float(sumSquares.squareRoot())
    return (norm, norm > maxNorm ? maxNorm / norm : 1)
}

/// Linear warm-up from 0 to the base rate over `warmupSteps`, then constant
/// (`diffusion_tf/utils.py: get_warmed_up_lr`; DDPM uses 5000 steps).
public struct LearningRateSchedule: Sendable, Equatable {
    public var baseRate: Float
    public var warmupSteps: Int
    public init(baseRate: Float = 2e-4, warmupSteps: Int = 5000) { (self.baseRate, self.warmupSteps) = (baseRate, warmupSteps) }
    /// The rate for step `step` (1-based: the first update uses step 1).
    public func rate(atStep step: Int) -> Float {
        warmupSteps <= 0 ? baseRate : baseRate * min(1, Float(step) / Float(warmupSteps))
    }
}

/// An exponential moving average of the parameters, started as a copy (DDPM decay 0.9999).
///
/// With `warmup`, the decay at update t is min(decay, (1 + t)/(10 + t)), so short runs are not
/// dominated by the initial network (improved implementations do this; the paper does not).
public final class ExponentialMovingAverage {
    public let decay: Float
    public let warmup: Bool
    public private(set) var updates = 0
    public private(set) var averages: [Tensor]

    public init(of parameters: [Parameter], decay: Float = 0.9999, warmup: Bool = false) {
        self.decay = decay
        self.warmup = warmup
        averages = parameters.map { Tensor(shape: $0.shape, scalars: $0.value.scalars) }
    }

    /// The decay used for the next update.
    public var currentDecay: Float { warmup ? min(decay, Float(1 + updates) / Float(10 + updates)) : decay }

    public func update(_ parameters: [Parameter]) {
        precondition(parameters.count == averages.count, "[EMA] \(parameters.count) parameters, \(averages.count) averages")
        let d = currentDecay
        for i in averages.indices {
            parameters[i].value.withBuffer { pb in
                averages[i].withMutableBuffer { ab in Kernels.exponentialMovingAverage(ab.baseAddress!, pb.baseAddress!, count: ab.count, decay: d) }
            }
        }
        updates += 1
    }

    /// Restores the averages and the update count from a checkpoint.
    public func restore(averages: [Tensor], updates: Int) {
        precondition(averages.map(\.shape) == self.averages.map(\.shape), "[EMA] restored shapes differ")
        self.averages = averages
        self.updates = updates
    }
}
