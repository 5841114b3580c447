#include "core/quant.h"

#include <cmath>
#include <cstring>
// GCC 12 flags the _mm512_undefined_* values inside its own AVX-512 headers as uninitialized
// reads (a known false positive), which would bury real warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "core/error.h"

namespace flops {
namespace {

void check_len(DType t, int64_t n) {
  if (n < 0) fail("negative row length {}", n);
  if (n % dtype_block_elems(t) != 0)
    fail("row of {} elements is not a multiple of the {} block size {}", n, dtype_name(t), dtype_block_elems(t));
}

// ---- F16 ----------------------------------------------------------------
// Hardware conversion rounds to nearest even exactly like fp32_to_fp16, but keeps
// NaN payloads; chunks holding a NaN go through the scalar code so that every path
// produces identical bits.
void f32_to_f16(const float* x, uint16_t* h, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    if (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)) {
      for (int k = 0; k < 16; k++) h[i + k] = fp32_to_fp16(x[i + k]);
      continue;
    }
    _mm256_storeu_si256((__m256i*)(h + i), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
#elif defined(__F16C__) && defined(__AVX__)
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))) {
      for (int k = 0; k < 8; k++) h[i + k] = fp32_to_fp16(x[i + k]);
      continue;
    }
    _mm_storeu_si128((__m128i*)(h + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
#endif
  for (; i < n; i++) h[i] = fp32_to_fp16(x[i]);
}

void f16_to_f32(const uint16_t* h, float* y, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(h + i))));
#elif defined(__F16C__) && defined(__AVX__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(h + i))));
#endif
  for (; i < n; i++) y[i] = fp16_to_fp32(h[i]);
}

// ---- BF16 ---------------------------------------------------------------
// Integer rounding instead of VCVTNEPS2BF16, which flushes subnormals to zero.
void f32_to_bf16(const float* x, uint16_t* h, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), qbit = _mm512_set1_epi32(0x40);
  const __m512i absmask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  for (; i + 16 <= n; i += 16) {
    __m512i b = _mm512_loadu_si512(x + i);
    __m512i r = _mm512_add_epi32(b, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(b, 16), one)));
    r = _mm512_srli_epi32(r, 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(b, absmask), inf);
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(b, 16), qbit);
    _mm256_storeu_si256((__m256i*)(h + i), _mm512_cvtepi32_epi16(r));
  }
#endif
  for (; i < n; i++) h[i] = fp32_to_bf16(x[i]);
}

void bf16_to_f32(const uint16_t* h, float* y, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)(h + i)));
    _mm512_storeu_si512(y + i, _mm512_slli_epi32(v, 16));
  }
#elif defined(__AVX2__)
  for (; i + 8 <= n; i += 8) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(h + i)));
    _mm256_storeu_si256((__m256i*)(y + i), _mm256_slli_epi32(v, 16));
  }
#endif
  for (; i < n; i++) y[i] = bf16_to_fp32(h[i]);
}

// ---- Q8_0 / Q4_0 ----------------------------------------------------------
// Quantization is scalar: it runs once per weight, and the exact rounding rules
// (division, round-half-away) are easiest to keep identical to the spec this way.
void quantize_q8_0(const float* x, BlockQ8_0* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    const float* v = x + b * QK;
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) amax = std::max(amax, std::fabs(v[j]));
    float d = amax / 127.0f;
    out[b].d = fp32_to_fp16(d);
    for (int j = 0; j < QK; j++) out[b].qs[j] = d == 0.0f ? 0 : (int8_t)std::lround(v[j] / d);
  }
}

void quantize_q4_0(const float* x, BlockQ4_0* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    const float* v = x + b * QK;
    float amax = 0.0f, m = 0.0f;
    for (int j = 0; j < QK; j++) {
      if (std::fabs(v[j]) > amax) {
        amax = std::fabs(v[j]);
        m = v[j];
      }
    }
    float d = m / -8.0f;
    out[b].d = fp32_to_fp16(d);
    auto q = [&](float f) -> uint8_t { return d == 0.0f ? 8 : (uint8_t)std::min(15, (int)(f / d + 8.5f)); };
    for (int j = 0; j < QK / 2; j++) out[b].qs[j] = (uint8_t)(q(v[j]) | (q(v[j + QK / 2]) << 4));
  }
}

void dequantize_q8_0(const BlockQ8_0* in, float* y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    float d = fp16_to_fp32(in[b].d);
    float* o = y + b * QK;
#if defined(__AVX512F__)
    __m512 vd = _mm512_set1_ps(d);
    __m512i q0 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)in[b].qs));
    __m512i q1 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(in[b].qs + 16)));
    _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_cvtepi32_ps(q0), vd));
    _mm512_storeu_ps(o + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(q1), vd));
#elif defined(__AVX2__)
    __m256 vd = _mm256_set1_ps(d);
    for (int k = 0; k < 4; k++) {
      __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(in[b].qs + 8 * k)));
      _mm256_storeu_ps(o + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), vd));
    }
#else
    for (int j = 0; j < QK; j++) o[j] = d * (float)in[b].qs[j];
#endif
  }
}

void dequantize_q4_0(const BlockQ4_0* in, float* y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++) {
    float d = fp16_to_fp32(in[b].d);
    float* o = y + b * QK;
#if defined(__AVX512F__)
    __m512 vd = _mm512_set1_ps(d);
    __m512i eight = _mm512_set1_epi32(8);
    __m128i raw = _mm_loadu_si128((const __m128i*)in[b].qs);
    __m128i lo = _mm_and_si128(raw, _mm_set1_epi8(15));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(15));
    __m512i q0 = _mm512_sub_epi32(_mm512_cvtepu8_epi32(lo), eight);
    __m512i q1 = _mm512_sub_epi32(_mm512_cvtepu8_epi32(hi), eight);
    _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_cvtepi32_ps(q0), vd));
    _mm512_storeu_ps(o + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(q1), vd));
#elif defined(__AVX2__)
    __m256 vd = _mm256_set1_ps(d);
    __m256i eight = _mm256_set1_epi32(8);
    __m128i raw = _mm_loadu_si128((const __m128i*)in[b].qs);
    __m128i lo = _mm_and_si128(raw, _mm_set1_epi8(15));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(15));
    __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++) {
      __m256i q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(parts[k]), eight);
      _mm256_storeu_ps(o + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), vd));
    }
#else
    for (int j = 0; j < QK / 2; j++) {
      o[j] = d * (float)((in[b].qs[j] & 15) - 8);
      o[j + QK / 2] = d * (float)((in[b].qs[j] >> 4) - 8);
    }
#endif
  }
}

}  // namespace

void quantize_row(DType t, const float* x, void* dst, int64_t n) {
  check_len(t, n);
  switch (t) {
    case DType::F32: std::memcpy(dst, x, (size_t)n * 4); return;
    case DType::F16: f32_to_f16(x, (uint16_t*)dst, n); return;
    case DType::BF16: f32_to_bf16(x, (uint16_t*)dst, n); return;
    case DType::Q8_0: quantize_q8_0(x, (BlockQ8_0*)dst, n / QK); return;
    case DType::Q4_0: quantize_q4_0(x, (BlockQ4_0*)dst, n / QK); return;
  }
  fail("quantize_row: unsupported type id {}", (uint32_t)t);
}

void dequantize_row(DType t, const void* src, float* y, int64_t n) {
  check_len(t, n);
  switch (t) {
    case DType::F32: std::memcpy(y, src, (size_t)n * 4); return;
    case DType::F16: f16_to_f32((const uint16_t*)src, y, n); return;
    case DType::BF16: bf16_to_f32((const uint16_t*)src, y, n); return;
    case DType::Q8_0: dequantize_q8_0((const BlockQ8_0*)src, y, n / QK); return;
    case DType::Q4_0: dequantize_q4_0((const BlockQ4_0*)src, y, n / QK); return;
  }
  fail("dequantize_row: unsupported type id {}", (uint32_t)t);
}

}  // namespace flops
