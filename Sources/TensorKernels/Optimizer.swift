extension Kernels {
    /// One Adam step in place (Kingma & Ba 2015, Algorithm 1, with PyTorch's placement of ε):
    ///     m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  p ← p − lr·(m/c₁) / (√(v/c₂) + ε)
    /// where c₁ = 1 − β₁ᵗ and c₂ = 1 − β₂ᵗ are the bias corrections.
    package static func adamUpdate(
        parameter p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, firstMoment m: UnsafeMutablePointer<Float>,
        secondMoment v: UnsafeMutablePointer<Float>, count: Int, learningRate: Float, beta1: Float, beta2: Float,
        epsilon: Float, correction1: Float, correction2: Float, gradientScale: Float
    ) {
        let stepSize = learningRate / correction1
        let rootCorrection2 = correction2.squareRoot()
        parallelFor(count, grain: parallelGrain) { r in
            for i in r {
                let gi = g[i] * gradientScale
                let mi = beta1 * m[i] + (1 - beta1) * gi
                let vi = beta2 * v[i] + (1 - beta2) * gi * gi
                m[i] = mi
                v[i] = vi
                p[i] -= stepSize * mi / (vi.squareRoot() / rootCorrection2 + epsilon)
            }
        }
    }

    /// average ← decay·average + (1 − decay)·value, in place.
    package static func exponentialMovingAverage(
        _ average: UnsafeMutablePointer<Float>, _ value: UnsafePointer<Float>,
        count: Int, decay: Float
    ) {
        parallelFor(count, grain: parallelGrain) { r in
            for i in r { average[i] = decay * average[i] + (1 - decay) * value[i] }
        }
    }
}
