#pragma once
// Row conversion between F32 and the storage types of GGUF tensors.
#include <cstdint>
#include "core/dtype.h"

namespace flops {

// Converts n floats to type t, written to dst in the exact GGUF byte layout
// (dtype_row_bytes(t, n) bytes). n must be a multiple of the type's block size.
//   F16/BF16: round to nearest even, NaN -> quiet NaN (same bits as fp32_to_fp16 / fp32_to_bf16).
//   Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: the rounding rules that define these formats in ggml, so
//   that the bytes equal llama-quantize's (see quant_legacy.cpp).
//   K-quants, IQ4_NL, IQ4_XS: a search for the scales (and mins) that minimise the squared
//   error of each group (see quant_k.cpp).
void quantize_row(DType t, const float* x, void* dst, int64_t n);

// Inverse of quantize_row: y[i] = the value element i stands for (core/blocks.h), bit for bit
// the float that ggml's dequantization gives.
void dequantize_row(DType t, const void* src, float* y, int64_t n);

}  // namespace flops
