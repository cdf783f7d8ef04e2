import NN
import TensorKernels
import Tensors

/// Adam (Kingma & Ba 2015) with PyTorch's conventions, the DDPM optimiser: lr 2e-4 (2e-5 at
/// 256×256), β (0.9, 0.999), ε 1e-8, no weight decay (Ho et al. App. B; `scripts/run_cifar.py`).
///
/// The update is separate from the gradient computation, so a data-parallel all-reduce can sit
/// between `gradients(of:withRespectTo:)` and `update(_:gradients:)`.
public final class Adam {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    /// Steps taken so far (t in the bias corrections).
    public private(set) var step = 0
    var firstMoments: [ObjectIdentifier: Tensor] = [:]
    var secondMoments: [ObjectIdentifier: Tensor] = [:]

    public init(learningRate: Float = 2e-4, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        (self.learningRate, self.beta1, self.beta2, self.epsilon) = (learningRate, beta1, beta2, epsilon)
    }

    /// One step for every parameter, with gradients aligned to `parameters`; `gradientScale`
    /// multiplies every gradient first (global-norm clipping passes its factor here).
    public func update(_ parameters: [Parameter], gradients: [Tensor], gradientScale: Float = 1) {
        precondition(parameters.count == gradients.count, "[Adam] \(parameters.count) parameters but \(gradients.count) gradients")
        step += 1
        let c1 = 1 - Float(Double(beta1).power(step))
        let c2 = 1 - Float(Double(beta2).power(step))
        for (p, g) in zip(parameters, gradients) {
            precondition(p.shape == g.shape, "[Adam] gradient shape \(g.shape) does not match parameter \(p.shape)")
            let id = ObjectIdentifier(p)
            var m = firstMoments[id] ?? .zeros(p.shape)
            var v = secondMoments[id] ?? .zeros(p.shape)
            firstMoments[id] = nil  // keep m, v uniquely referenced so the update is in place
            secondMoments[id] = nil
            m.withMutableBuffer { mb in
                v.withMutableBuffer { vb in
                    p.value.withMutableBuffer { pb in
                        g.withBuffer { gb in
                            Kernels.adamUpdate(
                                parameter: pb.baseAddress!, gradient: gb.baseAddress!, firstMoment: mb.baseAddress!,
                                secondMoment: vb.baseAddress!, count: pb.count, learningRate: learningRate,
                                beta1: beta1, beta2: beta2, epsilon: epsilon, correction1: c1, correction2: c2,
                                gradientScale: gradientScale)
                        }
                    }
                }
            }
            firstMoments[id] = m
            secondMoments[id] = v
        }
    }

    /// Moments of `parameter` (zeros before its first update), for checkpoints.
    public func moments(of parameter: Parameter) -> (first: Tensor, second: Tensor) {
        let id = ObjectIdentifier(parameter)
        return (firstMoments[id] ?? .zeros(parameter.shape), secondMoments[id] ?? .zeros(parameter.shape))
    }

    /// Restores moments and the step count from a checkpoint.
    public func restore(step: Int, moments: [(Parameter, first: Tensor, second: Tensor)]) {
        self.step = step
        for (p, m, v) in moments {
            firstMoments[ObjectIdentifier(p)] = m
            secondMoments[ObjectIdentifier(p)] = v
        }
    }
}

extension Double {
    fileprivate func power(_ n: Int) -> Double { (0..<n).reduce(1) { acc, _ in acc * self } }
}
