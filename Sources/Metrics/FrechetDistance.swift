import TensorKernels

/// The Fréchet distance between two Gaussians fitted to Inception features (FID, Heusel et al.
/// 2017, arXiv:1706.08500):
///
///     d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁^½ Σ₂ Σ₁^½)^½)
///
/// pytorch-fid takes `scipy.linalg.sqrtm(Σ₁Σ₂)` of a non-symmetric product; here the trace term
/// comes from two symmetric eigendecompositions (LAPACK dsyevd), which stay real and stable for
/// the rank-deficient covariances of few samples: tiny negative eigenvalues from rounding count
/// as zero. As in pytorch-fid, if the decomposition fails (or gives a non-finite trace), ε·I is
/// added to both covariances and it is tried once more; `diagonalOffset` then says so.
public struct FrechetDistance: Sendable {
    /// d², the FID when the statistics are Inception pool3 features.
    public let value: Double
    /// ε when ε·I had to be added to the covariances, else nil.
    public let diagonalOffset: Double?
    /// Warnings about the inputs (too few samples) and about the computation.
    public let warnings: [String]

    /// - Parameter epsilon: the diagonal offset of the fallback (pytorch-fid's default 1e-6).
    public init(between first: FeatureStatistics, and second: FeatureStatistics, epsilon: Double = 1e-6) throws(MetricsError) {
        let d = first.dimension
        guard second.dimension == d else {
            throw .mismatch(what: "feature dimension of the second statistics", expected: "\(d)", actual: "\(second.dimension)")
        }
        var warnings = first.warnings + second.warnings.filter { !first.warnings.contains($0) }
        let meanTerm = zip(first.mean, second.mean).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let traces = (0..<d).reduce(0.0) { $0 + first.covariance[$1 * d + $1] + second.covariance[$1 * d + $1] }

        var offset: Double? = nil
        var root = Kernels.traceOfSquareRootProduct(first.covariance, second.covariance, n: d)
        if root.info != 0 || !root.trace.isFinite {
            offset = epsilon
            warnings.append(
                """
                FID: the covariance product is singular or not finite; added \(epsilon) to the diagonals of both \
                covariances (as pytorch-fid does).
                """)
            var a = first.covariance
            var b = second.covariance
            for i in 0..<d {
                a[i * d + i] += epsilon
                b[i * d + i] += epsilon
            }
            root = Kernels.traceOfSquareRootProduct(a, b, n: d)
        }
        guard root.info == 0, root.trace.isFinite else { throw .decompositionFailed(info: root.info) }
        value = meanTerm + traces - 2 * root.trace
        diagonalOffset = offset
        self.warnings = warnings
    }
}
