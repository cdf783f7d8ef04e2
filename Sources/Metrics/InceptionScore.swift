import Foundation
import Tensors

/// The Inception Score (Salimans et al. 2016, arXiv:1606.03498) as OpenAI's improved-GAN code
/// computes it, the code behind the DDPM paper's IS 9.46:
///
///     IS = exp(E_x KL(p(y|x) ‖ p(y))),  p(y|x) = softmax(logits),  p(y) = mean of p(y|x) over the split
///
/// over 10 consecutive splits of the samples, reported as mean and (population) standard
/// deviation. All 1008 logits of the FID Inception are used, as OpenAI's code does with the same
/// TF graph (its softmax is over 1008 outputs; index 0 is the 'background' class and 1001–1007
/// are unused, so they carry almost no mass). Taking the first 1000 would renormalise and give
/// slightly different numbers from the published ones. Computed in Float64; p·log p is 0 at p = 0.
public struct InceptionScore: Sendable, Equatable {
    public let mean: Double
    public let standardDeviation: Double
    /// The score of each split, in order.
    public let splitScores: [Double]

    /// - Parameters:
    ///   - logits: `[N, classes]`, e.g. `FIDInceptionV3.features(_:).logits`.
    ///   - splits: OpenAI's default 10; sample i goes to split ⌊i·splits/N⌋.
    public init(logits: Tensor, splits: Int = 10) throws(MetricsError) {
        guard logits.rank == 2 else { throw .mismatch(what: "logits shape", expected: "[N, classes]", actual: "\(logits.shape)") }
        let (n, classes) = (logits.shape[0], logits.shape[1])
        guard splits >= 1, n >= splits else {
            throw .mismatch(what: "samples for \(splits) Inception Score splits", expected: "at least \(max(splits, 1))", actual: "\(n)")
        }
        let values = logits.scalars
        // 1. p(y|x) by a Float64 softmax of each row.
        var probabilities = [Double](repeating: 0, count: n * classes)
        for i in 0..<n {
            let row = values[(i * classes)..<((i + 1) * classes)].map(Double.init)
            let top = row.max() ?? 0
            let e = row.map { Foundation.exp($0 - top) }
            let total = e.reduce(0, +)
            for c in 0..<classes { probabilities[i * classes + c] = e[c] / total }
        }
        // 2. Per split: exp(mean_x Σ_y p(y|x)·(log p(y|x) − log p(y))).
        var scores: [Double] = []
        for s in 0..<splits {
            let rows = (s * n / splits)..<((s + 1) * n / splits)
            var marginal = [Double](repeating: 0, count: classes)
            for i in rows { for c in 0..<classes { marginal[c] += probabilities[i * classes + c] } }
            let logMarginal = marginal.map { Foundation.log($0 / Double(rows.count)) }
            var kl = 0.0
            for i in rows {
                var rowKL = 0.0
                for c in 0..<classes {
                    let p = probabilities[i * classes + c]
                    if p > 0 { rowKL += p * (Foundation.log(p) - logMarginal[c]) }
                }
                kl += rowKL
            }
            scores.append(Foundation.exp(kl / Double(rows.count)))
        }
        let mean = scores.reduce(0, +) / Double(splits)
        self.mean = mean
        standardDeviation = (scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(splits)).squareRoot()
        splitScores = scores
    }
}
