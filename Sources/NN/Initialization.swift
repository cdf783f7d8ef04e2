import Tensors

/// Weight initialisers of the original DDPM code (`diffusion_tf/nn.py: default_init`):
/// variance scaling with mode fan_avg and a uniform distribution, i.e. Glorot-uniform at scale 1.
public enum Initializer {
    /// U(−a, a) with a = √(3·scale / ((fanIn + fanOut)/2)). Scale 1e-10 gives the near-zero init
    /// the original uses for each block's second conv, the attention output and the final conv.
    public static func varianceScaling(
        _ shape: [Int], fanIn: Int, fanOut: Int, scale: Float = 1,
        using rng: inout SeededGenerator
    ) -> Tensor {
        let limit = (3 * scale / (Float(fanIn + fanOut) / 2)).squareRoot()
        return Tensor.randomUniform(shape, low: -limit, high: limit, using: &rng)
    }
}
