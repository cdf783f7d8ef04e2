// The system OpenBLAS (Debian libopenblas-dev). Only Sources/TensorKernels uses it: MatrixMultiply.swift
// (cblas_sgemm) and Float64LinearAlgebra.swift (the Float64 statistics of the metrics).
#include <cblas.h>
#include <stddef.h>
void openblas_set_num_threads(int num_threads);

// LAPACK, which OpenBLAS bundles and no Debian header declares: the symmetric eigendecomposition
// (divide and conquer). The trailing lengths are gfortran's hidden CHARACTER arguments.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_length, size_t uplo_length);
