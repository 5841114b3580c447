#pragma once
// The per-ISA kernel tables behind quant.h and matmul.h (internal to src/core).
//
// Each table is compiled in its own file with its own target flags: kernels_scalar.cpp
// (baseline x86-64), kernels_avx2.cpp (AVX2+FMA+F16C) and kernels_avx512.cpp (AVX-512
// F/BW/VL/DQ/VNNI). cpu_features.cpp picks one at run time from CPUID. Those files define
// everything they use in their own namespace and do not call inline functions of shared
// headers: the linker keeps one copy of each inline function, and a copy compiled for
// AVX-512 would crash a CPU without it.
#include <cstdint>

#include "core/blocks.h"
#include "core/dtype.h"

namespace flops::kern {

// Activations quantized for the integer dot products, one row of n elements (n a multiple
// of the block). 32-element blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL): q, d (scale of each
// block, float), s (d * sum of the block's q). 256-element blocks (K-quants, IQ4_XS): q, d,
// bsums (sum of q over each 16 elements, 16 per block). q = round(x / d), d = max|x| / 127;
// d is NaN when the block holds a NaN or an infinity, so that it reaches the result.
struct QAct {
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const float* s = nullptr;
  const int16_t* bsums = nullptr;
};

// y[0..n) = the values of the first n elements stored at src.
using DequantFn = void (*)(const void* src, float* y, int64_t n);
// Dot product of the first n elements of a weight row with quantized activations.
using DotFn = float (*)(const void* row, const QAct& x, int64_t n);
// Dot product of a row of a float type (F32/F16/BF16) with float activations; any n.
using FloatDotFn = float (*)(const void* row, const float* x, int64_t n);
// Dot products of one weight row with nx activation rows (1 <= nx <= kDotRows): y[i] =
// dot(row, x[i]) over the first n elements. Each weight block is decoded once for all nx rows
// (small batches: the weights are read and unpacked once per step, not once per sequence).
// y[i] is bit for bit the value the same function gives with nx = 1, so a sequence's results
// do not depend on which other sequences share its batch.
constexpr int kDotRows = 4;
using DotRowsFn = void (*)(const void* row, const QAct* x, int nx, int64_t n, float* y);
// The same for one group of kPackRows weight rows in the packed layout of core/repack.h, whose
// packed blocks (one block of each of the 8 rows) are `step` bytes apart (packed_group below):
// y[i * kPackRows + r] = dot(row r of the group, x[i]), 1 <= nx <= kDotRows; y[i * kPackRows + r]
// does not depend on nx either.
constexpr int kPackRows = 8;
using DotRows8Fn = void (*)(const void* group, size_t step, const QAct* x, int nx, int64_t n, float* y);
// The int8 GEMM of ng consecutive packed groups (group_bytes each, the first at the start of a
// pair) against any number of activation rows (prompts): y[i * ldy + 8 * g + r] = dot(row r of
// group g, x[i]) for i < nx, g < ng, r < kPackRows, bit for bit the value DotRows8Fn gives for
// that row. An odd ng ends on the matrix's lone last group.
using Gemm8Fn = void (*)(const void* groups, int64_t ng, size_t group_bytes, const QAct* x, int64_t nx, int64_t n,
                         float* y, int64_t ldy);

// Q4_0's and Q8_0's packed groups go in pairs whose packed blocks alternate (block b of group
// 2p, then block b of group 2p + 1, each kPackRows * block bytes long), so that a decode step
// reads a pair as one sequential stream; an odd last group stands alone. The K-quants' groups
// follow each other whole: their kernels read a packed block's fields in an order of their
// own, and the alternating layout measured slower for them (M Q6_K tg128 on one thread 79-86
// tok/s against 107-113). Group k of the ng groups at `groups`:
struct PackedGroup {
  const uint8_t* at;
  size_t step;  // bytes from one of its packed blocks to the next
};
inline bool packs_alternating(DType t) { return t == DType::Q4_0 || t == DType::Q8_0; }
inline PackedGroup packed_group(DType t, const void* groups, int64_t k, int64_t ng, size_t group_bytes) {
  const size_t b8 = (size_t)kPackRows * dtype_block_bytes(t);
  if (!packs_alternating(t) || (k | 1) >= ng) return {(const uint8_t*)groups + k * group_bytes, b8};
  return {(const uint8_t*)groups + (k & ~int64_t{1}) * group_bytes + (k & 1) * b8, 2 * b8};
}
// Quantizes n activations (n a multiple of 32, or of 256 for the super-block form); s or
// bsums is filled for the form the caller asks for (the other pointer is null).
using QuantActFn = void (*)(const float* x, int64_t n, int8_t* q, float* d, float* s, int16_t* bsums);
// Float to half / bfloat16, bit-identical to fp32_to_fp16 / fp32_to_bf16 (NaN -> quiet NaN).
using ToHalfFn = void (*)(const float* x, uint16_t* h, int64_t n);
// x[i] = exp(x[i] - shift) for i < n, returns their sum (float accumulation). The vector forms
// are within ~2 ulp of std::exp (kernels_x86_math.inc says how).
using ExpSumFn = float (*)(float* x, int64_t n, float shift);
// g[i] = g[i] / (1 + exp(-g[i])) * u[i] for i < n (SiLU-gated product, SwiGLU's).
using SiluMulFn = void (*)(float* g, const float* u, int64_t n);
// C[i * ldc + j] (+)= sum_k A[i * lda + k] * P[32 * k + j] for i < mr <= 12, j < nr <= 32, k < kc:
// one tile of the F32 GEMM of core/gemm.h over a packed panel P (32 floats per k, zero past nr).
// acc: add to C (else overwrite). Null where OpenBLAS does the job (gemm_available()).
using GemmTileFn = void (*)(const float* A, int64_t lda, int mr, const float* P, int64_t kc, float* C, int64_t ldc,
                            int nr, bool acc);
// Rows of halves (an F16 KV cache: nr rows of n elements, ld elements apart) against floats, for
// the one-query attention loops. Dots: y[j] = scale * dot(row j, x), j < nr. Axpy: y[i] +=
// sum over j of p[j] * row j [i], i < n (the rows weighted by the attention probabilities).
// `next` (may be null): next_nr rows at the same ld that the caller reads after these (the next
// head's keys or values), prefetched while these are read; no result depends on it.
using HalfRowsDotFn = void (*)(const uint16_t* rows, int64_t ld, int64_t nr, const float* x, int64_t n, float scale,
                               float* y, const uint16_t* next, int64_t next_nr);
using HalfRowsAxpyFn = void (*)(const float* p, const uint16_t* rows, int64_t ld, int64_t nr, int64_t n, float* y,
                                const uint16_t* next, int64_t next_nr);

// Dot product of one row of a coded F32 matrix (core/f32_coded.h: row, the matrix's 64-byte
// code table, the row's n_esc escapes) with n floats (n a multiple of 128), bit for bit the
// F32 row dot of the decoded row.
using F32CodedDotFn = float (*)(const uint8_t* row, const uint8_t* table, const uint32_t* esc_col,
                                const uint8_t* esc_byte, uint32_t n_esc, const float* x, int64_t n);
// out (n floats) = the decoded row, the original bits.
using F32CodedDecodeFn = void (*)(const uint8_t* row, const uint8_t* table, const uint32_t* esc_col,
                                  const uint8_t* esc_byte, uint32_t n_esc, float* out, int64_t n);
// kernels_avx512vbmi.cpp's, the dot with its software prefetch at a level of core/prefetch_plan.h.
F32CodedDotFn f32_coded_dot_vbmi(int prefetch_level);
F32CodedDecodeFn f32_coded_decode_vbmi();

struct Table {
  const char* name;
  DequantFn dequant[kDTypeIdLimit];
  DotFn dot[kDTypeIdLimit];       // block types
  FloatDotFn fdot[kDTypeIdLimit];  // F32, F16, BF16
  // The same with software prefetches ahead, for matrices that stream from DRAM (null: fdot)
  FloatDotFn fdot_stream[kDTypeIdLimit];
  DotRowsFn dot_rows[kDTypeIdLimit];  // block types that have one (null: call dot per row)
  DotRows8Fn dot_rows8[kDTypeIdLimit];  // packed types that have one (null: unpack, then dot_rows)
  QuantActFn quant_act32;
  QuantActFn quant_act256;
  ToHalfFn to_f16;
  ToHalfFn to_bf16;
  ExpSumFn exp_sum;
  SiluMulFn silu_mul;
  GemmTileFn gemm_f32_tile;
  // Packs rows of W into the tile's panels (layout: kernels_x86_gemm.inc); set with gemm_f32_tile.
  void (*gemm_f32_pack)(const float* src, int64_t ld, int64_t nr, int64_t kc, float* panels);
  Gemm8Fn gemm_rows8[kDTypeIdLimit];  // packed types that have one (null: dot_rows8 per 4 rows)
  // gemm_rows8 is also the faster kernel for a decode step's few rows (AVX-512 VNNI: two groups
  // per vector in one pass over the blocks, where dot_rows8 fills half as many lanes).
  bool gemm_rows8_any_t;
  HalfRowsDotFn f16_rows_dot;
  HalfRowsAxpyFn f16_rows_axpy;
  // Null where the variant or the CPU has none (AVX-512 VBMI): coded F32 matrices are then not
  // made (repack_for_decode), and any that exist are decoded row by row for fdot.
  F32CodedDotFn fdot_f32_coded;
  F32CodedDecodeFn f32_coded_decode;  // set with fdot_f32_coded
};

const Table& table_scalar();
const Table& table_avx2();
const Table& table_avx512();

// The table of the active variant (cpu_features.h chooses it).
const Table& active();

}  // namespace flops::kern
