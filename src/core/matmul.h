#pragma once
// Matrix-vector and matrix-matrix products against weights kept in their GGUF storage type.
//
// W holds `rows` rows of `cols` elements of type t, row-major with row stride
// dtype_row_bytes(t, cols): the layout of a GGUF weight with ne = [cols, rows].
// Both functions add exactly 2*rows*cols*T to flops::counter::add_matmul and use
// flops::get_threads() threads. Neither may be called from inside an OpenMP parallel region
// (matmul calls OpenBLAS).
#include <cstdint>
#include "core/dtype.h"

namespace flops {

// y[r] = dot(W[r,:], x) for r < rows. The kernels are those of the active variant
// (core/cpu_features.h: AVX-512, AVX2 or scalar, chosen at run time).
//   F32/F16/BF16: weights converted exactly to float, fp32 accumulation.
//   Block types: x is first quantized to int8 with a float scale per block (dx = max|x_blk|/127,
//   round to nearest): 32-element blocks for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL; 256-element
//   blocks (with the sums of each 16) for the K-quants and IQ4_XS, as llama.cpp's Q8_K. Each
//   block is then an exact integer dot product times float scales. The extra error per block is
//   at most sum_j |w_j| * dx/2 (typically ~0.3% relative to the dot of |w| and |x|), the same
//   order as the weight quantization.
void matvec(DType t, const void* W, int64_t rows, int64_t cols, const float* x, float* y);

// Y[T x rows] = X[T x cols] * W^T (X, Y row-major, contiguous).
//   T <= kMatmulMatvecMaxT: the matvec kernels, each weight row loaded once and dotted with
//   all T rows of X (same numerics as matvec, bit for bit per row; weight traffic of a single
//   matvec). Past the bound the exact dequantized weights and fp32 activations of the sgemm
//   path are used: training (B x T rows) differentiates through those exact products, and
//   bench/bench_batch finds the two paths about even at T = 16 (sgemm 1.3x faster at 32).
//   Otherwise F32 calls cblas_sgemm directly; other types dequantize W in tiles of rows
//   into a per-call F32 buffer and call sgemm per tile (exact dequantized weights, fp32 x).
void matmul(DType t, const void* W, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y);

constexpr int64_t kMatmulMatvecMaxT = 8;

// The same product against a weight packed by pack_rows8 (core/repack.h; rows8_packable(t, rows,
// cols) must hold), through the packed kernels for every T: the T rows of X are quantized to
// int8 once, as matvec's (on the pool when T > kMatmulMatvecMaxT), and each group of 8 weight
// rows is decoded once per 4 rows of X, tiles of X passing over chunks of groups (an int8 GEMM).
// A row of Y does not depend on T, the thread count or the schedule: bit for bit the matvec of
// that row against the packed weight. Numerics: unlike matmul past kMatmulMatvecMaxT (exact
// dequantized weights, fp32 activations), prompts too get int8 activations, with matvec's error
// bound above (llama.cpp multiplies its prompts against Q4_0 in int8 as well). The values
// differ from matmul's small-T ones by float rounding only (another order of the same block
// sums). Training never calls it: its passes read row-major matrices. The GEMM kernel
// (kern::Table::gemm_rows8; AVX-512 VNNI: two groups per 512-bit vector, which also takes the
// decode-sized products there, kern::Table::gemm_rows8_any_t) can be turned off with
// FLOPS_NO_GEMM8=1, which runs every T on the 4-row decode kernel instead (same values; for A/B
// timing, bench/bench_gemm8). Decode-sized products (T <= kMatmulMatvecMaxT) go to the pool from
// 2^18 multiply-adds (FLOPS_PACKED_MIN_MACS overrides; matmul's threshold is 2^16).
void matmul_rows8(DType t, const void* W, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y);

// Several packed products of one X (a layer's q, k and v; its gate and up): the same values as
// one matmul_rows8 each, with X quantized once and one pool job over all their groups, where
// separate calls quantize X each time and wait for every thread at the end of each (a decode
// step's fork-joins). Products whose types quantize X differently form one such job per kind.
struct Rows8Product {
  DType t;
  const void* W;
  int64_t rows;
  float* Y;  // T x rows
};
void matmul_rows8_many(const Rows8Product* ps, int n, int64_t cols, const float* X, int64_t T);

// The same product as matmul's for F32 against an F32 matrix in the coded form of
// core/f32_coded.h (cols a multiple of 128): the same bits as matmul on the original matrix for
// every T, from 7/8 of its bytes. f32_coded_available(): the active kernel variant has the
// coded row dot (AVX-512 VBMI); without it the rows are decoded first, which is slower than F32.
// FLOPS_NO_F32_CODED=1 makes it false (repack_for_decode then keeps F32 as it is; for A/B timing).
void matmul_f32_coded(const void* W, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y);
bool f32_coded_available();

// Product of x (n floats) with a row of n elements of type t, no threading, no FLOP count.
// The exact fp32 dequantize-then-dot for every type (no activation quantization): for
// callers that need one dot product, e.g. reference checks.
float dot_row_exact(DType t, const void* row, const float* x, int64_t n);

}  // namespace flops
