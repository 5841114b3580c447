// Quantizers of the 32-element types Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1. These formats were
// defined together with one rounding rule each (ggml's reference quantizers); following the
// rule exactly gives byte-identical files to llama-quantize's, which is worth more to users
// (checksums, reproducible conversions) than the small gain of a scale search.
//   Q8_0: d = max|x| / 127, q = round(x * (1/d)) (half away from zero).
//   Q4_0: m = the element of largest |x| (first one on ties), d = m / -8,
//         q = min(15, trunc(x * (1/d) + 8.5)).
//   Q5_0: as Q4_0 with d = m / -16, q = min(31, trunc(x * (1/d) + 16.5)).
//   Q4_1: d = (max - min) / 15, m = min, q = min(15, trunc((x - min) * (1/d) + 0.5)).
//   Q5_1: d = (max - min) / 31, m = min, q = trunc((x - min) * (1/d) + 0.5).
// 1/d is the float reciprocal (0 when d is 0); d and m are stored as fp16 after rounding.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/quant_impl.h"

namespace flops::quant {
namespace {

inline float recip(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// The element of largest magnitude, with its sign (the first on ties).
inline float signed_absmax(const float* v) {
  float amax = 0.0f, m = 0.0f;
  for (int j = 0; j < QK; j++) {
    if (std::fabs(v[j]) > amax) {
      amax = std::fabs(v[j]);
      m = v[j];
    }
  }
  return m;
}

inline void min_max(const float* v, float& lo, float& hi) {
  lo = FLT_MAX;
  hi = -FLT_MAX;
  for (int j = 0; j < QK; j++) {
    lo = std::min(lo, v[j]);
    hi = std::max(hi, v[j]);
  }
}

// Packs 32 codes of up to 5 bits: low nibbles as Q4_0, bit 4 of code j into bit j of qh.
inline void pack5(const uint8_t* c, uint8_t* qs, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < QK / 2; j++) {
    qs[j] = (uint8_t)((c[j] & 15) | ((c[j + 16] & 15) << 4));
    bits |= (uint32_t)((c[j] >> 4) & 1) << j;
    bits |= (uint32_t)((c[j + 16] >> 4) & 1) << (j + 16);
  }
  std::memcpy(qh, &bits, 4);
}

}  // namespace

void q8_0(const float* x, BlockQ8_0* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    const float* v = x + b * QK;
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) amax = std::max(amax, std::fabs(v[j]));
    const float d = amax / 127.0f, id = recip(d);
    out[b].d = fp32_to_fp16(d);
    for (int j = 0; j < QK; j++) out[b].qs[j] = (int8_t)std::roundf(v[j] * id);
  }
}

void q4_0(const float* x, BlockQ4_0* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    const float* v = x + b * QK;
    const float d = signed_absmax(v) / -8.0f, id = recip(d);
    out[b].d = fp32_to_fp16(d);
    auto q = [&](float f) { return (uint8_t)std::min(15, (int)(int8_t)(f * id + 8.5f)); };
    for (int j = 0; j < QK / 2; j++) out[b].qs[j] = (uint8_t)(q(v[j]) | (q(v[j + 16]) << 4));
  }
}

void q5_0(const float* x, BlockQ5_0* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    const float* v = x + b * QK;
    const float d = signed_absmax(v) / -16.0f, id = recip(d);
    out[b].d = fp32_to_fp16(d);
    uint8_t c[QK];
    for (int j = 0; j < QK; j++) c[j] = (uint8_t)std::min(31, (int)(int8_t)(v[j] * id + 16.5f));
    pack5(c, out[b].qs, out[b].qh);
  }
}

void q4_1(const float* x, BlockQ4_1* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    const float* v = x + b * QK;
    float lo, hi;
    min_max(v, lo, hi);
    const float d = (hi - lo) / 15.0f, id = recip(d);
    out[b].d = fp32_to_fp16(d);
    out[b].m = fp32_to_fp16(lo);
    auto q = [&](float f) { return (uint8_t)std::min(15, (int)(int8_t)((f - lo) * id + 0.5f)); };
    for (int j = 0; j < QK / 2; j++) out[b].qs[j] = (uint8_t)(q(v[j]) | (q(v[j + 16]) << 4));
  }
}

void q5_1(const float* x, BlockQ5_1* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    const float* v = x + b * QK;
    float lo, hi;
    min_max(v, lo, hi);
    const float d = (hi - lo) / 31.0f, id = recip(d);
    out[b].d = fp32_to_fp16(d);
    out[b].m = fp32_to_fp16(lo);
    uint8_t c[QK];
    for (int j = 0; j < QK; j++) c[j] = (uint8_t)((v[j] - lo) * id + 0.5f);
    pack5(c, out[b].qs, out[b].qh);
  }
}

}  // namespace flops::quant
