#include "core/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
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
// FLOPS_AVX512: the 512-bit float paths also use the masked 16-bit loads of AVX-512BW/VL.
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(FLOPS_AVX2)
#define FLOPS_AVX512 1
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
#if defined(FLOPS_AVX512)
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
//
// x is quantized per 32-element block: q = round(x/dx), dx = max|x|/127 (float). A block
// of the row then contributes d_w * dx * sum_j w_j q_j, with the integer sum done by the
// unsigned*signed byte dot product (VPDPBUSD, or PMADDUBSW+PMADDWD without VNNI).
// The unsigned operand is the weight plus an offset o (Q4_0 nibbles are already stored as
// q+8; Q8_0 bytes become w+128 by flipping the top bit), so each block adds o*sum_j q_j
// too. That excess is taken out once per row in float: o * sum_b d_w,b * (dx_b * sum q_b),
// computed 8 blocks at a time together with the per-block scales d_w,b * dx_b.

struct QuantX {
  std::vector<int8_t> q;
  std::vector<float> d;    // dx per block
  std::vector<float> dqs;  // dx * sum(q) per block
};

void quantize_x(const float* x, int64_t n, QuantX& out) {
  const int64_t nb = n / QK;
  out.q.resize((size_t)n);
  out.d.assign((size_t)nb, 0.0f);
  out.dqs.assign(out.d.size(), 0.0f);
  for (int64_t b = 0; b < nb; b++) {
    const float* v = x + b * QK;
    int8_t* q = out.q.data() + b * QK;
    int32_t qsum = 0;
#if defined(__AVX512F__)
    __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    if (_mm512_cmp_ps_mask(v0, v0, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v1, v1, _CMP_UNORD_Q))
      amax = std::numeric_limits<float>::quiet_NaN();
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    __m512 vid = _mm512_set1_ps(id);
    __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid)), q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
    _mm_storeu_si128((__m128i*)q, _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128((__m128i*)(q + 16), _mm512_cvtsepi32_epi8(q1));
    qsum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
#else
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) amax = std::isnan(v[j]) ? v[j] : std::max(amax, std::fabs(v[j]));
    float d = amax / 127.0f, id = d != 0.0f && std::isfinite(d) ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK; j++) {
      q[j] = (int8_t)std::nearbyint(v[j] * id);
      qsum += q[j];
    }
#endif
    // NaN or inf in x must reach y as in the float paths, not vanish in the int8 rounding.
    if (!std::isfinite(amax) || amax != amax) d = std::numeric_limits<float>::quiet_NaN();
    out.d[b] = d;
    out.dqs[b] = d * (float)qsum;
  }
}

#if defined(FLOPS_AVX2)
// 8 lanes: sum over each group of 4 bytes of u[k]*s[k], u unsigned, s signed.
inline __m256i dot_u8s8(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#elif defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}
#if defined(__AVX512VNNI__) || defined(__AVXVNNI__)
#define FLOPS_VNNI 1
#endif

// Q8_0 weights as unsigned bytes for dot_u8s8, plus the offset they carry.
// With VNNI, w+128 (top bit flipped) is exact. PMADDUBSW would saturate its 16-bit pair
// sums on (w+128)*q, so without VNNI the sign of w moves onto q instead (no offset).
struct Q8Unsigned {
#if defined(FLOPS_VNNI)
  static constexpr float kOffset = 128.0f;
  static __m256i prep(__m256i w, __m256i& q) { return _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)); }
#else
  static constexpr float kOffset = 0.0f;
  static __m256i prep(__m256i w, __m256i& q) {
    q = _mm256_sign_epi8(q, w);
    return _mm256_abs_epi8(w);
  }
#endif
};

struct Q8Rows {
  using Block = BlockQ8_0;
  static constexpr float kOffset = Q8Unsigned::kOffset;
  static __m256i dot(const Block& b, __m256i q) {
    __m256i u = Q8Unsigned::prep(_mm256_loadu_si256((const __m256i*)b.qs), q);
    return dot_u8s8(u, q);
  }
};

struct Q4Rows {
  using Block = BlockQ4_0;
  static constexpr float kOffset = 8.0f;
  static __m256i dot(const Block& b, __m256i q) {
    // Both 128-bit halves hold the 16 packed bytes; the lower half keeps the low nibbles
    // (elements 0..15), the upper half the high nibbles (elements 16..31).
    __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)b.qs));
#if defined(__GFNI__)
    // One GF(2) affine map per 64-bit lane does mask-or-shift in a single instruction: the
    // matrix rows (byte 7-i gives output bit i) select input bit i or i+4 for i < 4.
    const __m256i sel = _mm256_setr_epi64x(0x0102040800000000LL, 0x0102040800000000LL, 0x1020408000000000LL,
                                           0x1020408000000000LL);
    __m256i u = _mm256_gf2p8affine_epi64_epi8(raw, sel, 0);
#else
    __m256i u = _mm256_and_si256(_mm256_srlv_epi32(raw, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                                 _mm256_set1_epi8(15));
#endif
    return dot_u8s8(u, q);
  }
};

// The fp16 scales of 8 consecutive blocks as 8 halves. A block is a whole number of 16-bit
// words (Q4_0: 9, Q8_0: 17) and starts with d, so one or two word permutes over the blocks'
// bytes pick them out; this beats VPGATHERDD (slow on Zen 4) and assembling them in a small
// array (which stalls on store-to-load forwarding).
#if defined(__AVX512BW__) && defined(__AVX512VL__)
inline __m128i scales8(const BlockQ4_0* b) {
  alignas(64) static constexpr uint16_t kIdx[32] = {0, 9, 18, 27, 36, 45, 54, 63};
  const __m512i idx = _mm512_load_si512(kIdx);
  const char* p = (const char*)b;  // 8 blocks = 144 bytes; the table reads the first 128
  __m512i t = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx, _mm512_loadu_si512(p + 64));
  return _mm512_castsi512_si128(t);
}
inline __m128i scales8(const BlockQ8_0* b) {
  // Blocks 0-3 have d at words 0,17,34,51; blocks 4-7 at 68..119, i.e. 4,21,38,55 of the next 128 bytes.
  alignas(64) static constexpr uint16_t kIdx[32] = {0, 17, 34, 51, 4, 21, 38, 55};
  const __m512i idx = _mm512_load_si512(kIdx);
  const char* p = (const char*)b;  // 8 blocks = 272 bytes; reads the first 256
  __m512i lo = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx, _mm512_loadu_si512(p + 64));
  __m512i hi = _mm512_permutex2var_epi16(_mm512_loadu_si512(p + 128), idx, _mm512_loadu_si512(p + 192));
  return _mm_mask_mov_epi16(_mm512_castsi512_si128(lo), 0xf0, _mm512_castsi512_si128(hi));
}
#endif

// sc[i] = d_w,i * dx_i for blocks [0, n) of wb (xd, xs offset to the same block), and
// corr += d_w,i * dqs_i lane-wise.
template <typename Block>
inline void block_scales(const Block* wb, int64_t n, const float* xd, const float* xs, float* sc, __m256& corr) {
  int64_t i = 0;
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  for (; i + 8 <= n; i += 8) {
    __m256 dw = _mm256_cvtph_ps(scales8(wb + i));
    _mm256_storeu_ps(sc + i, _mm256_mul_ps(dw, _mm256_loadu_ps(xd + i)));
    corr = _mm256_fmadd_ps(dw, _mm256_loadu_ps(xs + i), corr);
  }
#endif
  // Tail (and everything without AVX-512BW): the word tables above would read past the last block.
  for (; i < n; i += 8) {
    alignas(16) uint16_t dh[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    alignas(32) float xa[8] = {0}, xb[8] = {0};
    for (int64_t k = i; k < std::min<int64_t>(n, i + 8); k++) {
      dh[k - i] = wb[k].d;
      xa[k - i] = xd[k];
      xb[k - i] = xs[k];
    }
    __m256 dw = _mm256_cvtph_ps(_mm_load_si128((const __m128i*)dh));
    _mm256_storeu_ps(sc + i, _mm256_mul_ps(dw, _mm256_load_ps(xa)));
    corr = _mm256_fmadd_ps(dw, _mm256_load_ps(xb), corr);
  }
}

template <typename R>
float dot_blocks(const typename R::Block* w, const QuantX& x, int64_t nb) {
  constexpr int64_t kChunk = 64;  // blocks whose scales are prepared together
  alignas(64) float sc[kChunk];
  const int8_t* xq = x.q.data();
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0, corr = acc0;
  for (int64_t c0 = 0; c0 < nb; c0 += kChunk) {
    const int64_t n = std::min(kChunk, nb - c0);
    const typename R::Block* wb = w + c0;
    block_scales(wb, n, x.d.data() + c0, x.dqs.data() + c0, sc, corr);
    const int8_t* xc = xq + c0 * QK;
    auto step = [&](int64_t k, __m256 acc) {
      __m256i d = R::dot(wb[k], _mm256_loadu_si256((const __m256i*)(xc + k * QK)));
      return _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(sc[k]), acc);
    };
    // Four independent accumulators: one chain would wait the FMA latency every block.
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      acc0 = step(i, acc0);
      acc1 = step(i + 1, acc1);
      acc2 = step(i + 2, acc2);
      acc3 = step(i + 3, acc3);
    }
    for (; i < n; i++) acc0 = step(i, acc0);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3))) - R::kOffset * hsum(corr);
}

float dot_q8_0(const BlockQ8_0* w, const QuantX& x, int64_t nb) { return dot_blocks<Q8Rows>(w, x, nb); }
float dot_q4_0(const BlockQ4_0* w, const QuantX& x, int64_t nb) { return dot_blocks<Q4Rows>(w, x, nb); }
#else
float dot_q8_0(const BlockQ8_0* w, const QuantX& x, int64_t nb) {
  float s = 0.0f;
  for (int64_t b = 0; b < nb; b++) {
    int32_t acc = 0;
    for (int j = 0; j < QK; j++) acc += (int32_t)w[b].qs[j] * x.q[b * QK + j];
    s += (float)acc * (fp16_to_fp32(w[b].d) * x.d[b]);
  }
  return s;
}

float dot_q4_0(const BlockQ4_0* w, const QuantX& x, int64_t nb) {
  float s = 0.0f;
  for (int64_t b = 0; b < nb; b++) {
    int32_t acc = 0;
    for (int j = 0; j < QK / 2; j++) {
      acc += ((w[b].qs[j] & 15) - 8) * x.q[b * QK + j];
      acc += ((w[b].qs[j] >> 4) - 8) * x.q[b * QK + j + QK / 2];
    }
    s += (float)acc * (fp16_to_fp32(w[b].d) * x.d[b]);
  }
  return s;
}
#endif

// Below this many weight elements a parallel region costs more than it saves.
constexpr int64_t kParallelMinElems = 1 << 22;

int threads_for(int64_t rows, int64_t cols) {
  if (rows * cols < kParallelMinElems) return 1;
  return (int)std::max<int64_t>(1, std::min<int64_t>(get_threads(), rows));
}

// Dynamic scheduling in chunks of about 1/8 of a thread's share: the cores are shared with
// other processes, and a thread that loses its core would otherwise hold up the whole
// product with its fixed half. Each row is still computed whole by one thread, so results
// do not depend on the schedule.
int64_t rows_per_chunk(int64_t rows, int nt) { return std::max<int64_t>(4, rows / ((int64_t)nt * 8)); }

void check_args(const char* fn, DType t, int64_t rows, int64_t cols, int64_t T) {
  if (!dtype_known((uint32_t)t)) fail("{}: unsupported type id {}", fn, (uint32_t)t);
  if (rows < 0 || cols < 0 || T < 0) fail("{}: negative size rows={} cols={} T={}", fn, rows, cols, T);
  if (cols % dtype_block_elems(t) != 0)
    fail("{}: {} columns is not a multiple of the {} block size {}", fn, cols, dtype_name(t), dtype_block_elems(t));
}

// Y[i*rows + r] = dot(W[r,:], X[i*cols:]) for i < T, without FLOP accounting or argument
// checks; shared by matvec (T = 1) and small-T matmul. Each row is used for all T vectors
// right after it is loaded, so the weights stream from memory once (a row of up to 16K
// floats stays in L1/L2 between the T dot products).
void matvec_impl(DType t, const void* W, int64_t rows, int64_t cols, const float* X, int64_t T, float* Y) {
  const size_t stride = dtype_row_bytes(t, cols);
  const char* base = (const char*)W;
  const int nt = threads_for(rows, cols * T);
  const int64_t chunk = rows_per_chunk(rows, nt);
  auto run = [&](auto&& row_dot) {
#pragma omp parallel for schedule(dynamic, chunk) num_threads(nt) if (nt > 1)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t i = 0; i < T; i++) Y[i * rows + r] = row_dot(base + r * stride, i);
  };
  switch (t) {
    case DType::F32:
      run([&](const char* row, int64_t i) { return dot_float(LoadF32{(const float*)row}, X + i * cols, cols); });
      return;
    case DType::F16:
      run([&](const char* row, int64_t i) { return dot_float(LoadF16{(const uint16_t*)row}, X + i * cols, cols); });
      return;
    case DType::BF16:
      run([&](const char* row, int64_t i) { return dot_float(LoadBF16{(const uint16_t*)row}, X + i * cols, cols); });
      return;
    case DType::Q8_0:
    case DType::Q4_0: {
      std::vector<QuantX> qx((size_t)T);
      for (int64_t i = 0; i < T; i++) quantize_x(X + i * cols, cols, qx[i]);
      const int64_t nb = cols / QK;
      if (t == DType::Q8_0)
        run([&](const char* row, int64_t i) { return dot_q8_0((const BlockQ8_0*)row, qx[i], nb); });
      else
        run([&](const char* row, int64_t i) { return dot_q4_0((const BlockQ4_0*)row, qx[i], nb); });
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
  matvec_impl(t, W, rows, cols, x, 1, y);
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
    matvec_impl(t, W, rows, cols, X, T, Y);
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
    const int64_t chunk = rows_per_chunk(nr, nt);
    const char* src = (const char*)W + r0 * stride;
#pragma omp parallel for schedule(dynamic, chunk) num_threads(nt) if (nt > 1)
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
