import Tensors
import Testing

/// Central finite differences in Float64 of a scalar function of several tensors.
///
/// `f` is evaluated on Float32 tensors, but the perturbed inputs and the difference quotient are
/// formed in Double, with a step large enough that Float32 rounding of f stays below the tolerance.
func numericalGradients(_ inputs: [Tensor], step: Double = 1e-2, _ f: ([Tensor]) -> Tensor) -> [[Double]] {
    inputs.indices.map { k in
        let base = inputs[k].scalars
        return base.indices.map { i in
            func evaluate(_ delta: Double) -> Double {
                var values = base
                values[i] = Float(Double(base[i]) + delta)
                var perturbed = inputs
                perturbed[k] = Tensor(shape: inputs[k].shape, scalars: values)
                return Double(withoutGradients { f(perturbed) }.scalar)
            }
            return (evaluate(step) - evaluate(-step)) / (2 * step)
        }
    }
}

/// Checks autodiff against finite differences for a scalar loss: Σ f(inputs) · probe, with a
/// fixed random probe so that every output element's gradient matters.
func expectGradientsMatchFiniteDifferences(
    _ inputs: [Tensor], tolerance: Double = 2e-3, step: Double = 1e-2, seed: UInt64 = 7,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: @escaping ([Tensor]) -> Tensor
) {
    var rng = SeededGenerator(seed: seed)
    let probeShape = withoutGradients { f(inputs) }.shape
    let probe = Tensor.randomNormal(probeShape, using: &rng)
    let loss: ([Tensor]) -> Tensor = { (f($0) * probe).sum() }
    let variables = inputs.map { $0.requiringGradient() }
    let analytic = gradients(of: loss(variables), withRespectTo: variables)
    let numeric = numericalGradients(inputs, step: step, loss)
    for k in inputs.indices {
        #expect(analytic[k].shape == inputs[k].shape, sourceLocation: sourceLocation)
        let a = analytic[k].scalars.map(Double.init)
        let n = numeric[k]
        let scale = max(1, n.map(abs).max() ?? 0)
        let worst = zip(a, n).map { abs($0 - $1) }.max() ?? 0
        #expect(
            worst <= tolerance * scale, "input \(k): max |autodiff − finite difference| = \(worst) (scale \(scale))",
            sourceLocation: sourceLocation)
    }
}
