#pragma once
// The quantizers behind quantize_row, one function per type (internal to src/core).
#include <cstdint>

#include "core/blocks.h"

namespace flops::quant {

// quant_legacy.cpp: ggml's own rounding rules for the 32-element types.
void q8_0(const float* x, BlockQ8_0* out, int64_t nb);
void q4_0(const float* x, BlockQ4_0* out, int64_t nb);
void q4_1(const float* x, BlockQ4_1* out, int64_t nb);
void q5_0(const float* x, BlockQ5_0* out, int64_t nb);
void q5_1(const float* x, BlockQ5_1* out, int64_t nb);

// quant_k.cpp / quant_iq4.cpp: scale searches.
void iq4_nl(const float* x, BlockIQ4_NL* out, int64_t nb);
void q2_k(const float* x, BlockQ2_K* out, int64_t nb);
void q3_k(const float* x, BlockQ3_K* out, int64_t nb);
void q4_k(const float* x, BlockQ4_K* out, int64_t nb);
void q5_k(const float* x, BlockQ5_K* out, int64_t nb);
void q6_k(const float* x, BlockQ6_K* out, int64_t nb);
void iq4_xs(const float* x, BlockIQ4_XS* out, int64_t nb);

}  // namespace flops::quant
