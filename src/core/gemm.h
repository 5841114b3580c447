#pragma once
// The F32 GEMM of prompt-sized products on CPUs whose OpenBLAS kernel leaves speed behind:
// Y[T x rows] = X[T x cols] * W^T, W in its storage type (F32 read directly; other types
// dequantized exactly, 128 rows at a time), fp32 products and sums.
//
// Why not OpenBLAS: on a CPU with AVX-512 the environment may pin OpenBLAS to its AVX2 kernels
// (OPENBLAS_CORETYPE, set on machines where older OpenBLAS builds miscompute), which run at
// half the FMA width the CPU has. This GEMM runs core/kernels_x86_gemm.inc's 12 x 32 tiles:
//   for each group of up to 128 rows of W (claimed by threads one at a time):
//     for each block of 256 columns k: pack the group's rows, transposed, into 32-row panels
//       (kc x 32 floats, about 32 KB: stays in L1 while the tiles use it), then
//       for each 12 rows of X: for each panel: one tile, adding to the previous blocks' sums.
// Each element of Y is one chain of FMAs over k in order, computed by one thread: the result
// depends neither on the thread count nor on T (a row of Y is the same in any batch).
#include <cstdint>

#include "core/dtype.h"

namespace flops {

// Whether the active kernel variant has the GEMM tile (else gemm_nt must not be called).
bool gemm_available();

// How W is stored: row-major in its type, packed 8 rows at a time (core/repack.h), or an F32
// matrix in the coded form of core/f32_coded.h.
enum class WeightLayout { RowMajor, Rows8, F32Coded };

// Y = X * W^T as above. Uses get_threads() threads of the shared pool; no FLOP accounting (its
// callers count).
void gemm_nt(DType t, const void* W, WeightLayout layout, int64_t rows, int64_t cols, const float* X, int64_t T,
             float* Y);

}  // namespace flops
