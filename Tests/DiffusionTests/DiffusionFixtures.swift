import Diffusion
import Foundation
import SafeTensors
import Tensors

/// Tensors written by scripts/reference/make_diffusion_fixtures.py (diffusers' schedulers).
enum Fixtures {
    static let schedulers: SafeTensorsFile = {
        let url = Bundle.module.url(forResource: "schedulers", withExtension: "safetensors", subdirectory: "Fixtures")!
        do { return try SafeTensorsFile.read(contentsOf: url) } catch { preconditionFailure("\(error)") }
    }()

    static func tensor(_ key: String) -> Tensor {
        do { return try schedulers.tensor(key, in: "schedulers.safetensors") } catch { preconditionFailure("\(error)") }
    }

    /// Entry `index` of a stacked fixture `[K, …]`.
    static func entry(_ key: String, _ index: Int) -> Tensor {
        let stacked = tensor(key)
        return stacked.sliced(alongAxis: 0, index..<(index + 1)).reshaped(to: Array(stacked.shape.dropFirst()))
    }

    /// Integer-valued fixture as [Int].
    static func integers(_ key: String) -> [Int] { tensor(key).scalars.map { Int($0) } }
}

/// The paper's linear schedule, T = 1000.
let paperSchedule = try! NoiseSchedule(.paper, timestepCount: 1000)

/// The optimal noise predictor for data x₀ ~ N(μ, s²) per pixel under a schedule: since x_t is
/// Gaussian with mean √ᾱ μ and variance ᾱ s² + 1 − ᾱ, E[ε | x_t] = (x_t − √ᾱ μ) · √(1 − ᾱ) / (ᾱ s² + 1 − ᾱ).
/// It receives model timesteps (0-based), so it reads ᾱ at paper t = index + 1 of `schedule`; at a
/// fractional timestep it uses ᾱ = 1/(1 + σ²) with σ interpolated as diffusers' σ-solvers do.
func exactGaussianPredictor(mean mu: Double, standardDeviation s: Double, schedule: NoiseSchedule) -> NoisePredictor {
    let sigmas = DiscreteSigmas(schedule)
    return { xt, modelTimesteps in
        let alphaBar = modelTimesteps.map { t in
            t == t.rounded() ? schedule.alphaBar(Int(t) + 1) : 1 / (1 + sigmas.interpolated(at: t) * sigmas.interpolated(at: t))
        }
        let gain = perSample(alphaBar.map { Float((1 - $0).squareRoot() / ($0 * s * s + 1 - $0)) }, like: xt)
        let shift = perSample(alphaBar.map { Float($0.squareRoot() * mu) }, like: xt)
        return (xt - shift) * gain
    }
}

/// Per-sample values as a `[N, 1, 1, …]` tensor that broadcasts against `x`.
func perSample(_ values: [Float], like x: Tensor) -> Tensor {
    Tensor(shape: [values.count] + Array(repeating: 1, count: x.rank - 1), scalars: values)
}

/// Mean and (population) variance of all elements.
func moments(_ x: Tensor) -> (mean: Double, variance: Double) {
    let v = x.scalars.map(Double.init)
    let mean = v.reduce(0, +) / Double(v.count)
    return (mean, v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count))
}

/// The probability-flow ODE's exact end point for data x₀ ~ N(μ, s²) per pixel. In the
/// variance-exploding view x̃ = x₀ + σ ε the marginal is N(μ, s² + σ²) and the ODE
/// dx̃/dσ = (x̃ − E[x₀ | x̃]) / σ keeps (x̃ − μ)/√(s² + σ²) constant, so from x̃ at σ:
///
///     x₀ = μ + (x̃ − μ) · s / √(s² + σ²).
///
/// `x` is x̃ (pass a VP sample x_t as x_t / √ᾱ_t with σ = √((1 − ᾱ_t)/ᾱ_t)).
func exactODESolution(fromVarianceExploding x: Tensor, sigma: Double, mean mu: Double, standardDeviation s: Double) -> Tensor {
    let scale = Float(s / (s * s + sigma * sigma).squareRoot())
    return (x - Float(mu)) * scale + Float(mu)
}
