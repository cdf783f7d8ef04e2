import Datasets
import Diffusion
import Foundation
import Models
import Tensors

/// The negative log-likelihood bound on a test set in bits/dim (Ho et al. 2020, Table 2 "NLL Test
/// ≤ 3.75" on CIFAR-10) and its per-timestep rate and distortion (§4.3, Figure 5).
///
/// Each image costs T network evaluations (one per term L_{t−1}), so 10,000 CIFAR-10 test images
/// at T = 1000 are 10 million U-Net calls; `count` evaluates the first N images.
public struct LikelihoodReport: Codable, Equatable, Sendable {
    public var imageCount: Int
    /// Mean of L_T + Σ L_{t−1} + L_0 over the images, bits/dim.
    public var total: Double
    /// Standard error of `total` over the images.
    public var standardError: Double
    /// L_T, bits/dim (≈ 0 for the paper's schedule).
    public var prior: Double
    /// L_0 = −log p_θ(x₀ | x₁), bits/dim.
    public var decoder: Double
    /// `terms[t − 1]`: the term at paper timestep t (L_0 at t = 1), mean over the images, bits/dim.
    public var terms: [Double]
    /// `distortion[t − 1]`: RMSE √(‖x₀ − x̂₀(x_t)‖²/D) on the [0, 255] scale (§4.3).
    public var distortion: [Double]

    public var timestepCount: Int { terms.count }

    /// §4.3's rate at t: the bits/dim the receiver holds once it has x_t, L_T + Σ_{s>t} L_{s−1}
    /// (rate(T) = L_T; after the decoder, `total`).
    public func rate(at t: Int) -> Double { prior + terms[t...].reduce(0, +) }

    /// The table as CSV: `t,term_bits_per_dim,rate_bits_per_dim,distortion_rmse`, t = T … 1 (the
    /// rates of `rate(at:)`, as `RateDistortionCurve` plots them).
    public var csv: String {
        let rows = stride(from: timestepCount, through: 1, by: -1).map { "\($0),\(terms[$0 - 1]),\(rate(at: $0)),\(distortion[$0 - 1])" }
        return (["t,term_bits_per_dim,rate_bits_per_dim,distortion_rmse"] + rows).joined(separator: "\n") + "\n"
    }

    /// Decimated rows for printing: about `rows` timesteps, T and 1 always included.
    public func summaryTimesteps(rows: Int = 11) -> [Int] {
        let T = timestepCount
        guard rows > 1, T > 1 else { return [T] }
        return Array(Set((0..<rows).map { T - $0 * (T - 1) / (rows - 1) })).sorted(by: >)
    }

    /// Averages the bounds of successive batches, weighting by their sizes.
    public init(batches: [LikelihoodBound], distortionScale: Double = 127.5) {
        let totals = batches.flatMap(\.total)
        let priors = batches.flatMap(\.prior)
        let n = Double(totals.count)
        let T = batches.first?.terms.count ?? 0
        let mean = totals.reduce(0, +) / n
        imageCount = totals.count
        total = mean
        standardError = totals.count > 1 ? (totals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1) / n).squareRoot() : 0
        prior = priors.reduce(0, +) / n
        var terms = [Double](repeating: 0, count: T)
        var squared = terms
        for b in batches {
            let w = Double(b.total.count) / n
            for t in 0..<T {
                terms[t] += w * b.terms[t]
                squared[t] += w * b.distortion[t]
            }
        }
        self.terms = terms
        decoder = terms.first ?? 0
        distortion = squared.map { $0.squareRoot() * distortionScale }
    }
}

extension DDPM {
    /// The bound over the first `count` images of `set` (`[−1, 1]`, 8-bit grid), `batchSize` at a
    /// time, with one seeded draw of x_t per timestep and image. `onEvaluation` runs after each of
    /// the T network evaluations per batch.
    public func likelihood(
        of set: ImageSet, count: Int? = nil, batchSize: Int, seed: UInt64,
        predictNoise: NoisePredictor, onEvaluation: () -> Void = {}
    ) throws(PipelineError) -> LikelihoodReport {
        let n = min(count ?? set.count, set.count)
        guard n >= 1, batchSize >= 1 else {
            throw .invalid("likelihood needs at least one image and a batch size >= 1 (got \(n), \(batchSize)).")
        }
        var rng = SeededGenerator(seed: seed)
        var batches: [LikelihoodBound] = []
        for start in stride(from: 0, to: n, by: batchSize) {
            let x0 = set.batch(indices: Array(start..<min(n, start + batchSize)))
            batches.append(likelihoodBound(x0, using: &rng, predictNoise: predictNoise) { _ in onEvaluation() })
        }
        return LikelihoodReport(batches: batches)
    }
}
