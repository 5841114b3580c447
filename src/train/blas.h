#pragma once
// The matrix products of the training passes: one OpenMP thread pool, OpenBLAS single-threaded
// inside it, and the weights' own storage type for frozen matrices.
#include <cstdint>

#include "core/dtype.h"

namespace flops::train {

// C[M][N] = alpha * op(A) op(B) + beta * C, row-major. The OpenMP threads each multiply a band
// of C's rows with a single-threaded OpenBLAS (see BlasSingleThread): two pools (OpenMP +
// OpenBLAS's own) on few cores spin against each other at every switch between a BLAS call
// and an OpenMP loop. The same bands for the same thread count: deterministic.
void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc);

// For the scope of a training pass: OpenBLAS on one thread, OpenMP on flops::get_threads().
struct BlasSingleThread {
  BlasSingleThread();
  ~BlasSingleThread();
};

// y[N][rows] = x[N][cols] W^T for a frozen weight W (rows x cols, GGUF layout) of any storage type: core matmul (F32
// sgemm, or tiles of dequantized rows; never a whole F32 copy), with OpenBLAS's threads for
// the call. Counts 2*N*rows*cols.
void frozen_forward(DType t, const void* w, int64_t rows, int64_t cols, const float* x, int N, float* y);

// dx[N][cols] (= or +=) dy[N][rows] W: the product through a frozen weight in the backward
// pass. Block types dequantize a tile of rows at a time into a scratch buffer (dx sums the
// tiles in row order, so the result is the same for any thread count). Counts 2*N*rows*cols.
void frozen_backward_dx(DType t, const void* w, int64_t rows, int64_t cols, const float* dy, int N, float* dx, bool accumulate);

}  // namespace flops::train
