#if canImport(Accelerate)
    import Accelerate
#else
    import CBLAS
#endif

// Float64 linear algebra for evaluation statistics (FID): feature covariances over 50,000 samples
// and the matrix square root in the Fréchet distance need double precision, which the Float32
// tensor engine does not offer. These are the only Float64 BLAS/LAPACK call sites.
extension Kernels {
    /// sum[j] += Σ_i (x[i, j] − shift[j]) and gram += (x − shift)ᵀ(x − shift) (upper triangle only)
    /// for Float32 rows x `[rows, dimension]`; gram is `[dimension, dimension]` row-major.
    package static func accumulateShiftedMoments(
        _ x: UnsafePointer<Float>, rows: Int, dimension d: Int, shift: UnsafePointer<Double>,
        sum: UnsafeMutablePointer<Double>, gram: UnsafeMutablePointer<Double>
    ) {
        guard rows > 0, d > 0 else { return }
        let centered = UnsafeMutablePointer<Double>.allocate(capacity: rows * d)
        defer { centered.deallocate() }
        for i in 0..<rows {
            for j in 0..<d {
                let v = Double(x[i * d + j]) - shift[j]
                centered[i * d + j] = v
                sum[j] += v
            }
        }
        // RowMajor, C = 1·Aᵀ·A + 1·C with A [rows, d]; writes the upper triangle.
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(rows), 1, centered, Int32(d), 1, gram, Int32(d))
    }

    /// From `accumulateShiftedMoments` over `count` rows: mean = shift + sum/count and the unbiased
    /// covariance (gram − sum·sumᵀ/count)/(count − 1), written in full (`[d, d]` row-major).
    package static func finishMoments(
        sum: UnsafePointer<Double>, gram: UnsafePointer<Double>, shift: UnsafePointer<Double>, count: Int, dimension d: Int,
        mean: UnsafeMutablePointer<Double>, covariance: UnsafeMutablePointer<Double>
    ) {
        let n = Double(count)
        for j in 0..<d { mean[j] = shift[j] + sum[j] / n }
        for i in 0..<d {
            for j in i..<d {
                let c = (gram[i * d + j] - sum[i] * sum[j] / n) / (n - 1)
                covariance[i * d + j] = c
                covariance[j * d + i] = c
            }
        }
    }

    /// Copies the upper triangle of the `[n, n]` row-major matrix to the lower one.
    package static func symmetrizeFromUpper(_ a: UnsafeMutablePointer<Double>, n: Int) {
        for i in 0..<n { for j in 0..<i { a[i * n + j] = a[j * n + i] } }
    }

    /// Eigenvalues (ascending) of the symmetric `[n, n]` matrix `a` by LAPACK dsyevd. With
    /// `vectors`, `a` is overwritten so that row k holds the unit eigenvector of eigenvalue k;
    /// otherwise `a` is destroyed. Returns LAPACK's info (0 on success).
    package static func symmetricEigen(
        _ a: UnsafeMutablePointer<Double>, n: Int, eigenvalues: UnsafeMutablePointer<Double>, vectors: Bool
    ) -> Int {
        var jobz = Int8(UInt8(ascii: vectors ? "V" : "N"))
        var uplo = Int8(UInt8(ascii: "L"))
        var size = Int32(n)
        var lda = Int32(max(n, 1))
        var info: Int32 = 0
        var lwork: Int32 = -1
        var liwork: Int32 = -1
        var workSize = 0.0
        var iworkSize: Int32 = 0
        func call(_ work: UnsafeMutablePointer<Double>, _ iwork: UnsafeMutablePointer<Int32>) {
            #if canImport(Accelerate)
                dsyevd_(&jobz, &uplo, &size, a, &lda, eigenvalues, work, &lwork, iwork, &liwork, &info)
            #else
                dsyevd_(&jobz, &uplo, &size, a, &lda, eigenvalues, work, &lwork, iwork, &liwork, &info, 1, 1)
            #endif
        }
        call(&workSize, &iworkSize)  // workspace query
        guard info == 0 else { return Int(info) }
        lwork = Int32(workSize.rounded(.up))
        liwork = max(iworkSize, 1)
        let work = UnsafeMutablePointer<Double>.allocate(capacity: Int(max(lwork, 1)))
        let iwork = UnsafeMutablePointer<Int32>.allocate(capacity: Int(liwork))
        defer {
            work.deallocate()
            iwork.deallocate()
        }
        call(work, iwork)
        return Int(info)
    }

    /// Tr((A^½ B A^½)^½) = Tr((AB)^½) for symmetric positive semi-definite `[n, n]` A and B, the
    /// trace term of the Fréchet distance, through two symmetric eigendecompositions:
    ///
    ///     A = V Λ Vᵀ,  A^½ = V Λ^½ Vᵀ,  Tr((A^½ B A^½)^½) = Σ_k √μ_k,  μ = eig(A^½ B A^½)
    ///
    /// Eigenvalues below zero (rounding in a rank-deficient matrix) count as zero. Returns the
    /// trace, the smallest eigenvalues of A and of A^½ B A^½ (to judge singularity), and LAPACK's info.
    package static func traceOfSquareRootProduct(
        _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, n: Int
    ) -> (trace: Double, smallestOfA: Double, smallestOfProduct: Double, info: Int) {
        guard n > 0 else { return (0, 0, 0, 0) }
        let v = UnsafeMutablePointer<Double>.allocate(capacity: n * n)
        let root = UnsafeMutablePointer<Double>.allocate(capacity: n * n)
        let temporary = UnsafeMutablePointer<Double>.allocate(capacity: n * n)
        let lambda = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer {
            v.deallocate()
            root.deallocate()
            temporary.deallocate()
            lambda.deallocate()
        }
        v.update(from: a, count: n * n)
        // 1. A = V Λ Vᵀ (row k of `v` is eigenvector k).
        let info = symmetricEigen(v, n: n, eigenvalues: lambda, vectors: true)
        guard info == 0 else { return (.nan, .nan, .nan, info) }
        let smallestOfA = lambda[0]
        // 2. A^½ = Σ_k √λ_k v_k v_kᵀ = Wᵀ W with W = diag(λ^¼)·Vrows.
        for k in 0..<n {
            let s = max(lambda[k], 0).squareRoot().squareRoot()
            for j in 0..<n { temporary[k * n + j] = v[k * n + j] * s }
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(n), 1, temporary, Int32(n), 0, root, Int32(n))
        symmetrizeFromUpper(root, n: n)
        // 3. M = A^½ B A^½.
        cblas_dgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, root, Int32(n), b, Int32(n),
            0, temporary, Int32(n))
        cblas_dgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, temporary, Int32(n), root,
            Int32(n), 0, v, Int32(n))
        for i in 0..<n {
            for j in 0..<i {
                let m = (v[i * n + j] + v[j * n + i]) / 2
                v[i * n + j] = m
                v[j * n + i] = m
            }
        }
        // 4. Σ √μ_k.
        let info2 = symmetricEigen(v, n: n, eigenvalues: lambda, vectors: false)
        guard info2 == 0 else { return (.nan, smallestOfA, .nan, info2) }
        var trace = 0.0
        for k in 0..<n { trace += max(lambda[k], 0).squareRoot() }
        return (trace, smallestOfA, lambda[0], 0)
    }
}
