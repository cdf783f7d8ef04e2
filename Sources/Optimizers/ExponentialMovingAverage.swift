import NN
import TensorKernels
import Tensors

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
                averages[i].withMutableBuffer { ab in
                    Kernels.exponentialMovingAverage(ab.baseAddress!, pb.baseAddress!, count: ab.count, decay: d)
                }
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
