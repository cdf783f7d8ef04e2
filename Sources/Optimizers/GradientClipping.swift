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
