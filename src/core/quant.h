#pragma once
// Row conversion between F32 and the storage types of GGUF tensors.
#include <cstdint>
#include "core/dtype.h"

namespace flops {

// Converts n floats to type t, written to dst in the exact GGUF byte layout
// (dtype_row_bytes(t, n) bytes). n must be a multiple of the type's block size.
//   F16/BF16: round to nearest even, NaN -> quiet NaN (same bits as fp32_to_fp16 / fp32_to_bf16).
//   Q8_0: d = max|x| / 127, q = round(x / d) (ties away from zero); fp16(d) stored.
//   Q4_0: m = the element of largest |x| with its sign, d = m / -8,
//         q = min(15, (int)(x / d + 8.5)); fp16(d) stored; element j in the low nibble
//         of qs[j], element j+16 in the high nibble.
// The quantized values are computed from the float d (before its fp16 rounding).
void quantize_row(DType t, const float* x, void* dst, int64_t n);

// Inverse of quantize_row: y[i] = value of element i (Q8_0: d*q, Q4_0: d*(q-8)).
void dequantize_row(DType t, const void* src, float* y, int64_t n);

}  // namespace flops
