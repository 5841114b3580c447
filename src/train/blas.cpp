#include "train/blas.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/flop_counter.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/threads.h"

namespace flops::train {

void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc) {
  const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (nt <= 1 || (double)M * N * K < (1 << 21) || M < 8 * nt) {
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int t = 0; t < nt; t++) {
    // Bands in multiples of 8 rows keep the kernels' row blocking whole.
    const int m0 = (int)((int64_t)M * t / nt) / 8 * 8, m1 = t + 1 == nt ? M : (int)((int64_t)M * (t + 1) / nt) / 8 * 8;
    if (m1 <= m0) continue;
    const float* Ab = ta ? A + m0 : A + (size_t)m0 * lda;
    cblas_sgemm(CblasRowMajor, TA, TB, m1 - m0, N, K, alpha, Ab, lda, B, ldb, beta, C + (size_t)m0 * ldc, ldc);
  }
}

// The OpenMP build of OpenBLAS also sets OpenMP's thread count in openblas_set_num_threads:
// put ours back.
BlasSingleThread::BlasSingleThread() {
  openblas_set_num_threads(1);
  omp_set_num_threads(get_threads());
}
BlasSingleThread::~BlasSingleThread() { openblas_set_num_threads(get_threads()); }

void frozen_forward(DType t, const void* w, int64_t rows, int64_t cols, const float* x, int N, float* y) {
  openblas_set_num_threads(get_threads());
  matmul(t, w, rows, cols, x, N, y);
  openblas_set_num_threads(1);
  omp_set_num_threads(get_threads());
}

void frozen_backward_dx(DType t, const void* w, int64_t rows64, int64_t cols64, const float* dy, int N, float* dx,
                        bool accumulate) {
  const int rows = (int)rows64, cols = (int)cols64;
  counter::add_matmul(2ull * (uint64_t)N * rows * cols);
  if (t == DType::F32) {
    sgemm(false, false, N, cols, rows, 1.0f, dy, rows, (const float*)w, cols, accumulate ? 1.0f : 0.0f, dx, cols);
    return;
  }
  // About 1 MB of floats per tile: it stays in L2 while sgemm streams dy and dx past it.
  const int tile = std::min(rows, std::max(16, (int)((1 << 18) / std::max(1, cols)) / 16 * 16));
  std::vector<float> buf((size_t)tile * cols);
  const size_t stride = dtype_row_bytes(t, cols);
  for (int r0 = 0; r0 < rows; r0 += tile) {
    const int nr = std::min(tile, rows - r0);
    const char* src = (const char*)w + (size_t)r0 * stride;
#pragma omp parallel for schedule(static) if ((size_t)nr * cols >= (1u << 15))
    for (int r = 0; r < nr; r++) dequantize_row(t, src + (size_t)r * stride, buf.data() + (size_t)r * cols, cols);
    sgemm(false, false, N, cols, nr, 1.0f, dy + r0, rows, buf.data(), cols, accumulate || r0 > 0 ? 1.0f : 0.0f, dx, cols);
  }
}

}  // namespace flops::train
