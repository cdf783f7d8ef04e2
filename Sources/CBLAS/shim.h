// The system OpenBLAS (Debian libopenblas-dev). Only Sources/Tensors/Kernels/MatrixMultiply.swift uses it.
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
