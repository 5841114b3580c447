#include "core/matmul.h"

#include <algorithm>
#include <cmath>
#include <vector>
#include <cblas.h>
// GCC 12 flags the _mm512_undefined_* values inside its own AVX-512 headers as uninitialized
// reads (a known false positive), which would bury real warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/quant.h"
#include "core/threads.h"

// FLOPS_AVX2: the 256-bit paths need AVX2 plus FMA and F16C (all present on every AVX2 CPU
// in practice, but -march flags can separate them).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define FLOPS_AVX2 1
#endif

namespace flops {
namespace {

// ---- float rows ------------------------------------------------------------

#if defined(__AVX512F__)
inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }
#endif
#if defined(__AVX__)
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

// Each loader returns 16 (AVX-512) or 8 (AVX2) floats of a row starting at element i;
// the masked variants read only the first k elements, so rows need no padding.
#if defined(__AVX512F__)
struct LoadF32 {
  const float* p;
  __m512 at(int64_t i) const { return _mm512_loadu_ps(p + i); }
  __m512 part(int64_t i, __mmask16 m) const { return _mm512_maskz_loadu_ps(m, p + i); }
};
struct LoadF16 {
  const uint16_t* p;
  __m512 at(int64_t i) const { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(p + i))); }
  __m512 part(int64_t i, __mmask16 m) const { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + i)); }
};
struct LoadBF16 {
  const uint16_t* p;
  static __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  __m512 at(int64_t i) const { return widen(_mm256_loadu_si256((const __m256i*)(p + i))); }
  __m512 part(int64_t i, __mmask16 m) const { return widen(_mm256_maskz_loadu_epi16(m, p + i)); }
};

template <typename L>
float dot_float(L w, const float* x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(w.at(i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(w.at(i + 16), _mm512_loadu_ps(x + i + 16), a1);
    a2 = _mm512_fmadd_ps(w.at(i + 32), _mm512_loadu_ps(x + i + 32), a2);
    a3 = _mm512_fmadd_ps(w.at(i + 48), _mm512_loadu_ps(x + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(w.at(i), _mm512_loadu_ps(x + i), a0);
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    a1 = _mm512_fmadd_ps(w.part(i, m), _mm512_maskz_loadu_ps(m, x + i), a1);
  }
  return hsum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}
#elif defined(FLOPS_AVX2)
struct LoadF32 {
  const float* p;
  __m256 at(int64_t i) const { return _mm256_loadu_ps(p + i); }
  float one(int64_t i) const { return p[i]; }
};
struct LoadF16 {
  const uint16_t* p;
  __m256 at(int64_t i) const { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(p + i))); }
  float one(int64_t i) const { return fp16_to_fp32(p[i]); }
};
struct LoadBF16 {
  const uint16_t* p;
  __m256 at(int64_t i) const {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(p + i))), 16));
  }
  float one(int64_t i) const { return bf16_to_fp32(p[i]); }
};

template <typename L>
float dot_float(L w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(w.at(i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(w.at(i + 8), _mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(w.at(i + 16), _mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(w.at(i + 24), _mm256_loadu_ps(x + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(w.at(i), _mm256_loadu_ps(x + i), a0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; i++) s += w.one(i) * x[i];
  return s;
}
#else
struct LoadF32 {
  const float* p;
  float one(int64_t i) const { return p[i]; }
};
struct LoadF16 {
  const uint16_t* p;
  float one(int64_t i) const { return fp16_to_fp32(p[i]); }
};
struct LoadBF16 {
  const uint16_t* p;
  float one(int64_t i) const { return bf16_to_fp32(p[i]); }
};

template <typename L>
float dot_float(L w, const float* x, int64_t n) {
  float s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) s[k] += w.one(i + k) * x[i + k];
  for (; i < n; i++) s[0] += w.one(i) * x[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}
#endif

// ---- int8 rows ---------------------------------------------------------------

// x quantized per 32-element block: q = round(x/dx), dx = max|x|/127, kept as float.
// `bias` holds, per block, 8 int32 lanes = -8 * (sum of q over each group of 4 bytes):
// the Q4_0 offset (weights stored as q+8) folded into the starting value of the
// integer accumulation, so the 4-bit path can multiply the unsigned nibbles directly.
struct QuantX {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> bias;
};

#if defined(FLOPS_AVX2)
// 8 lanes of acc + sum over groups of 4 of u[k]*s[k], u unsigned, s signed bytes.
inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(acc, u, s);
#elif defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
  // |u*s| pairs stay below 2*128*127 < 32767, so the 16-bit saturation never triggers.
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}
#endif

inline float half_to_float(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return fp16_to_fp32(h);
#endif
}

void quantize_x(const float* x, int64_t n, bool with_bias, QuantX& out) {
  int64_t nb = n / QK;
  out.q.resize((size_t)n);
  out.d.resize((size_t)nb);
  if (with_bias) out.bias.resize((size_t)nb * 8);
  for (int64_t b = 0; b < nb; b++) {
    const float* v = x + b * QK;
    int8_t* q = out.q.data() + b * QK;
#if defined(__AVX512F__)
    __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    __m512 vid = _mm512_set1_ps(id);
    _mm_storeu_si128((__m128i*)q, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, vid))));
    _mm_storeu_si128((__m128i*)(q + 16), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, vid))));
#else
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) amax = std::max(amax, std::fabs(v[j]));
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK; j++) q[j] = (int8_t)std::nearbyint(v[j] * id);
#endif
    out.d[b] = d;
    if (with_bias) {
      int32_t* bb = out.bias.data() + b * 8;
      for (int g = 0; g < 8; g++) bb[g] = -8 * (q[4 * g] + q[4 * g + 1] + q[4 * g + 2] + q[4 * g + 3]);
    }
  }
}

float dot_q8_0(const BlockQ8_0* w, const QuantX& x, int64_t nb) {
  const int8_t* xq = x.q.data();
  const float* xd = x.d.data();
#if defined(FLOPS_AVX2)
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
  const __m256i zero = _mm256_setzero_si256();
  int64_t b = 0;
  // sign(x, w) moves w's sign onto x so the product can use the unsigned*signed instruction.
  auto block = [&](int64_t i, __m256 acc) {
    __m256i wq = _mm256_loadu_si256((const __m256i*)w[i].qs);
    __m256i s = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i*)(xq + i * QK)), wq);
    __m256i dp = dot_u8s8(zero, _mm256_abs_epi8(wq), s);
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_set1_ps(half_to_float(w[i].d) * xd[i]), acc);
  };
  for (; b + 2 <= nb; b += 2) {
    acc0 = block(b, acc0);
    acc1 = block(b + 1, acc1);
  }
  if (b < nb) acc0 = block(b, acc0);
  return hsum(_mm256_add_ps(acc0, acc1));
#else
  float s = 0.0f;
  for (int64_t b = 0; b < nb; b++) {
    int32_t acc = 0;
    for (int j = 0; j < QK; j++) acc += (int32_t)w[b].qs[j] * xq[b * QK + j];
    s += (float)acc * (half_to_float(w[b].d) * xd[b]);
  }
  return s;
#endif
}

float dot_q4_0(const BlockQ4_0* w, const QuantX& x, int64_t nb) {
  const int8_t* xq = x.q.data();
  const float* xd = x.d.data();
  const int32_t* bias = x.bias.data();
#if defined(FLOPS_AVX2)
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
  const __m256i low4 = _mm256_set1_epi8(15);
  int64_t b = 0;
  auto block = [&](int64_t i, __m256 acc) {
    __m128i raw = _mm_loadu_si128((const __m128i*)w[i].qs);
    // bytes 0..15 = low nibbles (elements 0..15), bytes 16..31 = high nibbles (16..31)
    __m256i wq = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low4);
    __m256i dp = dot_u8s8(_mm256_loadu_si256((const __m256i*)(bias + i * 8)), wq,
                          _mm256_loadu_si256((const __m256i*)(xq + i * QK)));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_set1_ps(half_to_float(w[i].d) * xd[i]), acc);
  };
  for (; b + 2 <= nb; b += 2) {
    acc0 = block(b, acc0);
    acc1 = block(b + 1, acc1);
  }
  if (b < nb) acc0 = block(b, acc0);
  return hsum(_mm256_add_ps(acc0, acc1));
#else
  float s = 0.0f;
  for (int64_t b = 0; b < nb; b++) {
    int32_t acc = 0;
    for (int j = 0; j < QK / 2; j++) {
      acc += ((w[b].qs[j] & 15) - 8) * xq[b * QK + j];
      acc += ((w[b].qs[j] >> 4) - 8) * xq[b * QK + j + QK / 2];
    }
    s += (float)acc * (half_to_float(w[b].d) * xd[b]);
  }
  return s;
#endif
}

// Below this many weight elements a parallel region costs more than it saves.
constexpr int64_t kParallelMinElems = 1 << 15;

int threads_for(int64_t rows, int64_t cols) {
  if (rows * cols < kParallelMinElems) return 1;
  return (int)std::max<int64_t>(1, std::min<int64_t>(get_threads(), rows));
}

void check_args(const char* fn, DType t, int64_t rows, int64_t cols, int64_t T) {
  if (!dtype_known((uint32_t)t)) fail("{}: unsupported type id {}", fn, (uint32_t)t);
  if (rows < 0 || cols < 0 || T < 0) fail("{}: negative size rows={} cols={} T={}", fn, rows, cols, T);
  if (cols % dtype_block_elems(t) != 0)
    fail("{}: {} columns is not a multiple of the {} block size {}", fn, cols, dtype_name(t), dtype_block_elems(t));
}

// The product without FLOP accounting or argument checks, shared by matvec and small-T matmul.
void matvec_impl(DType t, const void* W, int64_t rows, int64_t cols, const float* x, float* y, QuantX& qx) {
  const size_t stride = dtype_row_bytes(t, cols);
  const char* base = (const char*)W;
  const int nt = threads_for(rows, cols);
  switch (t) {
    case DType::F32:
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
      for (int64_t r = 0; r < rows; r++) y[r] = dot_float(LoadF32{(const float*)(base + r * stride)}, x, cols);
      return;
    case DType::F16:
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
      for (int64_t r = 0; r < rows; r++) y[r] = dot_float(LoadF16{(const uint16_t*)(base + r * stride)}, x, cols);
      return;
    case DType::BF16:
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
      for (int64_t r = 0; r < rows; r++) y[r] = dot_float(LoadBF16{(const uint16_t*)(base + r * stride)}, x, cols);
      return;
    case DType::Q8_0: {
      quantize_x(x, cols, false, qx);
      const int64_t nb = cols / QK;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
      for (int64_t r = 0; r < rows; r++) y[r] = dot_q8_0((const BlockQ8_0*)(base + r * stride), qx, nb);
      return;
    }
    case DType::Q4_0: {
      quantize_x(x, cols, true, qx);
      const int64_t nb = cols / QK;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
      for (int64_t r = 0; r < rows; r++) y[r] = dot_q4_0((const BlockQ4_0*)(base + r * stride), qx, nb);
      return;
    }
  }
}

// Rows per dequantized tile: ~4 MB of floats, a multiple of 16 rows, so the tile stays in L2/L3
// while sgemm runs over all T rows of X.
int64_t tile_rows(int64_t rows, int64_t cols) {
  int64_t r = (int64_t)(4 << 20) / std::max<int64_t>(1, cols * 4);
  r = std::max<int64_t>(16, r / 16 * 16);
  return std::min(rows, r);
}

}  // namespace

void matvec(DType t, const void* W, int64_t rows, int64_t cols, const float* x, float* y) {
  check_args("matvec", t, rows, cols, 1);
  QuantX qx;
  matvec_impl(t, W, rows, cols, x, y, qx);
  counter::add_matmul(2 * (uint64_t)rows * (uint64_t)cols);
}

void matmul(DType t, const void* W, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y) {
  check_args("matmul", t, rows, cols, T);
  counter::add_matmul(2 * (uint64_t)rows * (uint64_t)cols * (uint64_t)T);
  if (rows == 0 || T == 0) return;
  if (cols == 0) {
    std::fill(Y, Y + rows * T, 0.0f);
    return;
  }
  if (T <= kMatmulMatvecMaxT) {
    QuantX qx;
    for (int64_t i = 0; i < T; i++) matvec_impl(t, W, rows, cols, X + i * cols, Y + i * rows, qx);
    return;
  }
  if (t == DType::F32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)rows, (int)cols, 1.0f, X, (int)cols,
                (const float*)W, (int)cols, 0.0f, Y, (int)rows);
    return;
  }
  const size_t stride = dtype_row_bytes(t, cols);
  const int64_t tr = tile_rows(rows, cols);
  std::vector<float> tile((size_t)(tr * cols));
  for (int64_t r0 = 0; r0 < rows; r0 += tr) {
    const int64_t nr = std::min(tr, rows - r0);
    const int nt = threads_for(nr, cols);
    const char* src = (const char*)W + r0 * stride;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t r = 0; r < nr; r++) dequantize_row(t, src + r * stride, tile.data() + r * cols, cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)nr, (int)cols, 1.0f, X, (int)cols, tile.data(),
                (int)cols, 0.0f, Y + r0, (int)rows);
  }
}

float dot_row_exact(DType t, const void* row, const float* x, int64_t n) {
  check_args("dot_row_exact", t, 1, n, 1);
  switch (t) {
    case DType::F32: return dot_float(LoadF32{(const float*)row}, x, n);
    case DType::F16: return dot_float(LoadF16{(const uint16_t*)row}, x, n);
    case DType::BF16: return dot_float(LoadBF16{(const uint16_t*)row}, x, n);
    default: break;
  }
  // Block types: dequantize a few blocks at a time into a stack buffer.
  constexpr int64_t kChunk = 8 * QK;
  float buf[kChunk];
  const size_t bytes_per_block = dtype_block_bytes(t);
  float s = 0.0f;
  for (int64_t i = 0; i < n; i += kChunk) {
    int64_t m = std::min(kChunk, n - i);
    dequantize_row(t, (const char*)row + (i / QK) * bytes_per_block, buf, m);
    s += dot_float(LoadF32{buf}, x + i, m);
  }
  return s;
}

}  // namespace flops
