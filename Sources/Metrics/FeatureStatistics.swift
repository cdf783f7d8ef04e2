import TensorKernels
import Tensors

/// Mean μ and covariance Σ of Inception features, in Float64, as FID compares them.
///
/// Float64 because Σ over 50,000 samples of 2048 features loses digits in Float32, and
/// pytorch-fid and TTUR compute in float64 too. Saved and loaded as `.npz` with arrays `mu`
/// and `sigma` (`NumPyArchive`), so published training-set statistics can be used.
public struct FeatureStatistics: Equatable, Sendable {
    /// Below this many samples FID is biased upward and the 2048×2048 covariance is rank-deficient
    /// (TTUR's README; Heusel et al. 2017).
    public static let recommendedMinimumSampleCount = 2048

    /// μ, `[D]`.
    public var mean: [Double]
    /// Σ, `[D, D]` row-major, unbiased (divides by N − 1, as `numpy.cov`).
    public var covariance: [Double]
    /// How many samples gave these statistics; nil when read from a file that does not say.
    public var sampleCount: Int?

    public var dimension: Int { mean.count }

    public init(mean: [Double], covariance: [Double], sampleCount: Int? = nil) throws(MetricsError) {
        guard covariance.count == mean.count * mean.count else {
            throw .mismatch(
                what: "covariance size for a \(mean.count)-d mean", expected: "\(mean.count * mean.count) elements",
                actual: "\(covariance.count)")
        }
        (self.mean, self.covariance, self.sampleCount) = (mean, covariance, sampleCount)
    }

    /// Statistics of the rows of `features` `[N, D]` (N ≥ 2).
    public init(features: Tensor) throws(MetricsError) {
        guard features.rank == 2 else {
            throw .mismatch(what: "feature tensor shape", expected: "[N, D]", actual: "\(features.shape)")
        }
        var accumulator = Accumulator(dimension: features.shape[1])
        try accumulator.add(features)
        self = try accumulator.statistics()
    }

    /// Warnings about the validity of FID from these statistics (few samples).
    public var warnings: [String] {
        guard let n = sampleCount, n < Self.recommendedMinimumSampleCount else { return [] }
        return [
            """
            FID from \(n) samples (fewer than \(Self.recommendedMinimumSampleCount)) is biased upward and the \
            \(dimension)×\(dimension) covariance has rank at most \(n - 1); compare FIDs only at equal sample \
            counts, and report the paper's protocol of 50,000 samples.
            """
        ]
    }

    /// Mean and covariance over batches of features, without keeping the features.
    ///
    /// Sums are taken around a shift (the first batch's mean) in Float64, so the covariance does
    /// not lose digits to cancellation when the features have a large mean.
    public struct Accumulator: Sendable {
        public let dimension: Int
        public private(set) var count = 0
        private var shift: [Double]
        private var sum: [Double]
        private var gram: [Double]

        public init(dimension: Int) {
            precondition(dimension >= 1, "[FeatureStatistics.Accumulator] dimension must be >= 1, got \(dimension)")
            self.dimension = dimension
            (shift, sum, gram) = ([], Array(repeating: 0, count: dimension), Array(repeating: 0, count: dimension * dimension))
        }

        /// Adds the rows of `features` `[B, D]`.
        public mutating func add(_ features: Tensor) throws(MetricsError) {
            guard features.rank == 2, features.shape[1] == dimension else {
                throw .mismatch(what: "feature batch shape", expected: "[B, \(dimension)]", actual: "\(features.shape)")
            }
            let rows = features.shape[0]
            let d = dimension
            guard rows > 0 else { return }
            if shift.isEmpty { shift = features.mean(alongAxes: [0]).scalars.map(Double.init) }
            features.withBuffer { x in
                shift.withUnsafeBufferPointer { s in
                    sum.withUnsafeMutableBufferPointer { sm in
                        gram.withUnsafeMutableBufferPointer { g in
                            Kernels.accumulateShiftedMoments(
                                x.baseAddress!, rows: rows, dimension: d, shift: s.baseAddress!,
                                sum: sm.baseAddress!, gram: g.baseAddress!)
                        }
                    }
                }
            }
            count += rows
        }

        /// μ and the unbiased Σ of everything added (at least 2 samples).
        public func statistics() throws(MetricsError) -> FeatureStatistics {
            guard count >= 2 else {
                throw .mismatch(what: "samples for a covariance", expected: "at least 2", actual: "\(count)")
            }
            let d = dimension
            var mean = [Double](repeating: 0, count: d)
            var covariance = [Double](repeating: 0, count: d * d)
            mean.withUnsafeMutableBufferPointer { m in
                covariance.withUnsafeMutableBufferPointer { c in
                    Kernels.finishMoments(
                        sum: sum, gram: gram, shift: shift, count: count, dimension: d,
                        mean: m.baseAddress!, covariance: c.baseAddress!)
                }
            }
            return try FeatureStatistics(mean: mean, covariance: covariance, sampleCount: count)
        }
    }
}
