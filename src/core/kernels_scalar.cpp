// Scalar kernels: the portable fallback and the reference the vector variants are tested
// against. Each function follows the element formulas of core/blocks.h literally.
// Compiled for baseline x86-64 with -ffp-contract=off: the dequantized values must be the
// exact float products (no fused multiply-add), bit for bit as in ggml's definition.
#include <cmath>
#include <cstring>
#include <limits>

#include "core/dtype.h"
#include "core/kernels.h"

namespace flops::kern {
namespace {

inline float h(uint16_t v) { return fp16_to_fp32(v); }

// ---- dequantization ----------------------------------------------------------

// The scalar kernels read any bytes at any address (a GGUF may align its tensors to 1 byte, and
// the fuzzer hands them over as they lie): weights and block fields through copies, never through
// a cast pointer, in the dequantizers and the row dots alike.
template <typename T>
T load(const void* p, int64_t i) {
  T v;
  std::memcpy(&v, (const uint8_t*)p + i * (int64_t)sizeof(T), sizeof(T));
  return v;
}

template <typename B, typename F>
void each_block(const void* src, int64_t n, int elems, F&& f) {
  for (int64_t i = 0; i < n / elems; i++) f(load<B>(src, i), i * elems);
}

void dq_f32(const void* s, float* y, int64_t n) { std::memcpy(y, s, (size_t)n * 4); }
void dq_f16(const void* s, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = h(load<uint16_t>(s, i));
}
void dq_bf16(const void* s, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = bf16_to_fp32(load<uint16_t>(s, i));
}

// The 4-bit (Q4_x, IQ4_NL) and 5-bit (Q5_x) element codes of a 32-element block.
inline int nib(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 15 : qs[j - 16] >> 4; }
inline int q5(const uint8_t* qs, const uint8_t* qh, int j) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return nib(qs, j) | (int)(((bits >> j) & 1) << 4);
}

void dq_q8_0(const void* s, float* y, int64_t n) {
  each_block<BlockQ8_0>(s, n, QK, [&](const BlockQ8_0& b, int64_t o) {
    for (int j = 0; j < QK; j++) y[o + j] = (float)b.qs[j] * h(b.d);
  });
}
void dq_q4_0(const void* s, float* y, int64_t n) {
  each_block<BlockQ4_0>(s, n, QK, [&](const BlockQ4_0& b, int64_t o) {
    for (int j = 0; j < QK; j++) y[o + j] = (float)(nib(b.qs, j) - 8) * h(b.d);
  });
}
void dq_q4_1(const void* s, float* y, int64_t n) {
  each_block<BlockQ4_1>(s, n, QK, [&](const BlockQ4_1& b, int64_t o) {
    for (int j = 0; j < QK; j++) y[o + j] = (float)nib(b.qs, j) * h(b.d) + h(b.m);
  });
}
void dq_q5_0(const void* s, float* y, int64_t n) {
  each_block<BlockQ5_0>(s, n, QK, [&](const BlockQ5_0& b, int64_t o) {
    for (int j = 0; j < QK; j++) y[o + j] = (float)(q5(b.qs, b.qh, j) - 16) * h(b.d);
  });
}
void dq_q5_1(const void* s, float* y, int64_t n) {
  each_block<BlockQ5_1>(s, n, QK, [&](const BlockQ5_1& b, int64_t o) {
    for (int j = 0; j < QK; j++) y[o + j] = (float)q5(b.qs, b.qh, j) * h(b.d) + h(b.m);
  });
}
void dq_iq4_nl(const void* s, float* y, int64_t n) {
  each_block<BlockIQ4_NL>(s, n, QK, [&](const BlockIQ4_NL& b, int64_t o) {
    for (int j = 0; j < QK; j++) y[o + j] = h(b.d) * (float)kIQ4Values[nib(b.qs, j)];
  });
}

// Element e = 128h + 32s + l of Q2_K / Q3_K: the 2-bit code and the group.
inline int q2_code(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3; }
inline int q2_group(int e) { return 8 * (e / 128) + 2 * ((e / 32) % 4) + (e % 32) / 16; }

void dq_q2_k(const void* s, float* y, int64_t n) {
  each_block<BlockQ2_K>(s, n, QK_K, [&](const BlockQ2_K& b, int64_t o) {
    for (int e = 0; e < QK_K; e++) {
      const int g = q2_group(e);
      const float dl = h(b.d) * (float)(b.scales[g] & 15), ml = h(b.dmin) * (float)(b.scales[g] >> 4);
      y[o + e] = dl * (float)q2_code(b.qs, e) - ml;
    }
  });
}
inline int q3_code(const BlockQ3_K& b, int e) {
  const bool high = (b.hmask[e % 32] >> (4 * (e / 128) + (e / 32) % 4)) & 1;
  return q2_code(b.qs, e) - (high ? 0 : 4);
}
void dq_q3_k(const void* s, float* y, int64_t n) {
  each_block<BlockQ3_K>(s, n, QK_K, [&](const BlockQ3_K& b, int64_t o) {
    for (int e = 0; e < QK_K; e++) {
      const float dl = h(b.d) * (float)(q3k_scale(b.scales, q2_group(e)) - 32);
      y[o + e] = dl * (float)q3_code(b, e);
    }
  });
}
// Element e = 32g + l of Q4_K / Q5_K: nibble of qs[32(g/2) + l], low for even g.
inline int q4k_code(const uint8_t* qs, int e) {
  const int g = e / 32, l = e % 32;
  return g % 2 == 0 ? qs[32 * (g / 2) + l] & 15 : qs[32 * (g / 2) + l] >> 4;
}
template <typename B>
void dq_kmin(const B& b, float* y, int (*code)(const B&, int)) {
  for (int g = 0; g < 8; g++) {
    int sc, mn;
    kquant_scale_min(b.scales, g, sc, mn);
    const float d1 = h(b.d) * (float)sc, m1 = h(b.dmin) * (float)mn;
    for (int l = 0; l < 32; l++) y[32 * g + l] = d1 * (float)code(b, 32 * g + l) - m1;
  }
}
int q4k_elem(const BlockQ4_K& b, int e) { return q4k_code(b.qs, e); }
int q5k_elem(const BlockQ5_K& b, int e) { return q4k_code(b.qs, e) | (((b.qh[e % 32] >> (e / 32)) & 1) << 4); }
void dq_q4_k(const void* s, float* y, int64_t n) {
  each_block<BlockQ4_K>(s, n, QK_K, [&](const BlockQ4_K& b, int64_t o) { dq_kmin(b, y + o, q4k_elem); });
}
void dq_q5_k(const void* s, float* y, int64_t n) {
  each_block<BlockQ5_K>(s, n, QK_K, [&](const BlockQ5_K& b, int64_t o) { dq_kmin(b, y + o, q5k_elem); });
}
// Element e = 128h + 32k + l of Q6_K (k < 4): see blocks.h.
inline int q6_code(const BlockQ6_K& b, int e) {
  const int hh = e / 128, k = (e / 32) % 4, l = e % 32;
  const uint8_t* ql = b.ql + 64 * hh + (k % 2) * 32;
  const int lo = k < 2 ? ql[l] & 15 : ql[l] >> 4;
  return (lo | (((b.qh[32 * hh + l] >> (2 * k)) & 3) << 4)) - 32;
}
void dq_q6_k(const void* s, float* y, int64_t n) {
  each_block<BlockQ6_K>(s, n, QK_K, [&](const BlockQ6_K& b, int64_t o) {
    for (int e = 0; e < QK_K; e++) y[o + e] = h(b.d) * (float)b.scales[e / 16] * (float)q6_code(b, e);
  });
}
inline int iq4xs_code(const BlockIQ4_XS& b, int e) { return nib(b.qs + 16 * (e / 32), e % 32); }
void dq_iq4_xs(const void* s, float* y, int64_t n) {
  each_block<BlockIQ4_XS>(s, n, QK_K, [&](const BlockIQ4_XS& b, int64_t o) {
    for (int g = 0; g < 8; g++) {
      const float dl = h(b.d) * (float)(iq4xs_scale(b, g) - 32);
      for (int l = 0; l < 32; l++) y[o + 32 * g + l] = dl * (float)kIQ4Values[iq4xs_code(b, 32 * g + l)];
    }
  });
}

// ---- dot products with quantized activations -------------------------------------

// 32-element types: sum over blocks of d_w * dx * sum(code * q) (+ m * s for the types with a min).
// The rows form (DotRowsFn) decodes each block's codes once for all nx activation rows; each
// row's arithmetic is the single-row product's, which is the rows form with nx = 1.
template <typename B, typename Code>
void dot32_rows(const void* row, const QAct* x, int nx, int64_t n, float* y, Code code, bool with_min) {
  for (int r = 0; r < nx; r++) y[r] = 0.0f;
  int c[QK];
  for (int64_t b = 0; b < n / QK; b++) {
    const B wb = load<B>(row, b);
    for (int j = 0; j < QK; j++) c[j] = code(wb, j);
    for (int r = 0; r < nx; r++) {
      int32_t acc = 0;
      for (int j = 0; j < QK; j++) acc += c[j] * x[r].q[b * QK + j];
      y[r] += (float)acc * (h(wb.d) * x[r].d[b]);
      if constexpr (requires { wb.m; })
        if (with_min) y[r] += h(wb.m) * x[r].s[b];
    }
  }
}
#define FLOPS_DOT32(name, B, with_min, expr)                                                   \
  float dot_##name(const void* r, const QAct& x, int64_t n) {                                  \
    float y;                                                                                  \
    dot32_rows<B>(r, &x, 1, n, &y, [](const B& b, int j) { return (int)(expr); }, with_min);  \
    return y;                                                                                 \
  }                                                                                           \
  void dot_rows_##name(const void* r, const QAct* x, int nx, int64_t n, float* y) {            \
    dot32_rows<B>(r, x, nx, n, y, [](const B& b, int j) { return (int)(expr); }, with_min);   \
  }
FLOPS_DOT32(q8_0, BlockQ8_0, false, b.qs[j])
FLOPS_DOT32(q4_0, BlockQ4_0, false, nib(b.qs, j) - 8)
FLOPS_DOT32(q4_1, BlockQ4_1, true, nib(b.qs, j))
FLOPS_DOT32(q5_0, BlockQ5_0, false, q5(b.qs, b.qh, j) - 16)
FLOPS_DOT32(q5_1, BlockQ5_1, true, q5(b.qs, b.qh, j))
FLOPS_DOT32(iq4_nl, BlockIQ4_NL, false, kIQ4Values[nib(b.qs, j)])
#undef FLOPS_DOT32

// 256-element types: integer sums per group, scaled by the group's integer scale, then one
// float product per super-block. Mins use the activation sums of 16 (bsums).
float dot_q2_k(const void* r, const QAct& x, int64_t n) {
  float s = 0.0f;
  for (int64_t b = 0; b < n / QK_K; b++) {
    const BlockQ2_K wb = load<BlockQ2_K>(r, b);
    const int8_t* q = x.q + b * QK_K;
    int32_t sum = 0, msum = 0;
    for (int e = 0; e < QK_K; e++) sum += (wb.scales[q2_group(e)] & 15) * q2_code(wb.qs, e) * q[e];
    for (int g = 0; g < 16; g++) msum += (wb.scales[g] >> 4) * x.bsums[b * 16 + g];
    s += x.d[b] * (h(wb.d) * (float)sum - h(wb.dmin) * (float)msum);
  }
  return s;
}
float dot_q3_k(const void* r, const QAct& x, int64_t n) {
  float s = 0.0f;
  for (int64_t b = 0; b < n / QK_K; b++) {
    const BlockQ3_K wb = load<BlockQ3_K>(r, b);
    const int8_t* q = x.q + b * QK_K;
    int32_t sum = 0;
    for (int e = 0; e < QK_K; e++) sum += (q3k_scale(wb.scales, q2_group(e)) - 32) * q3_code(wb, e) * q[e];
    s += x.d[b] * h(wb.d) * (float)sum;
  }
  return s;
}
template <typename B>
void dot_kmin_rows(const void* r, const QAct* x, int nx, int64_t n, float* y, int (*code)(const B&, int)) {
  for (int k = 0; k < nx; k++) y[k] = 0.0f;
  int c[QK_K];
  for (int64_t b = 0; b < n / QK_K; b++) {
    const B wb = load<B>(r, b);
    for (int e = 0; e < QK_K; e++) c[e] = code(wb, e);
    int sc[8], mn[8];
    for (int g = 0; g < 8; g++) kquant_scale_min(wb.scales, g, sc[g], mn[g]);
    for (int k = 0; k < nx; k++) {
      const int8_t* q = x[k].q + b * QK_K;
      int32_t sum = 0, msum = 0;
      for (int g = 0; g < 8; g++) {
        int gs = 0;
        for (int l = 0; l < 32; l++) gs += c[32 * g + l] * q[32 * g + l];
        sum += sc[g] * gs;
        msum += mn[g] * (x[k].bsums[b * 16 + 2 * g] + x[k].bsums[b * 16 + 2 * g + 1]);
      }
      y[k] += x[k].d[b] * (h(wb.d) * (float)sum - h(wb.dmin) * (float)msum);
    }
  }
}
void dot_rows_q4_k(const void* r, const QAct* x, int nx, int64_t n, float* y) {
  dot_kmin_rows<BlockQ4_K>(r, x, nx, n, y, q4k_elem);
}
void dot_rows_q5_k(const void* r, const QAct* x, int nx, int64_t n, float* y) {
  dot_kmin_rows<BlockQ5_K>(r, x, nx, n, y, q5k_elem);
}
float dot_q4_k(const void* r, const QAct& x, int64_t n) {
  float y;
  dot_rows_q4_k(r, &x, 1, n, &y);
  return y;
}
float dot_q5_k(const void* r, const QAct& x, int64_t n) {
  float y;
  dot_rows_q5_k(r, &x, 1, n, &y);
  return y;
}
void dot_rows_q6_k(const void* r, const QAct* x, int nx, int64_t n, float* y) {
  for (int k = 0; k < nx; k++) y[k] = 0.0f;
  int c[QK_K];
  for (int64_t b = 0; b < n / QK_K; b++) {
    const BlockQ6_K wb = load<BlockQ6_K>(r, b);
    for (int e = 0; e < QK_K; e++) c[e] = wb.scales[e / 16] * q6_code(wb, e);
    for (int k = 0; k < nx; k++) {
      const int8_t* q = x[k].q + b * QK_K;
      int32_t sum = 0;
      for (int e = 0; e < QK_K; e++) sum += c[e] * q[e];
      y[k] += x[k].d[b] * h(wb.d) * (float)sum;
    }
  }
}
float dot_q6_k(const void* r, const QAct& x, int64_t n) {
  float y;
  dot_rows_q6_k(r, &x, 1, n, &y);
  return y;
}
float dot_iq4_xs(const void* r, const QAct& x, int64_t n) {
  float s = 0.0f;
  for (int64_t b = 0; b < n / QK_K; b++) {
    const BlockIQ4_XS wb = load<BlockIQ4_XS>(r, b);
    const int8_t* q = x.q + b * QK_K;
    int32_t sum = 0;
    for (int g = 0; g < 8; g++) {
      int gs = 0;
      for (int l = 0; l < 32; l++) gs += kIQ4Values[iq4xs_code(wb, 32 * g + l)] * q[32 * g + l];
      sum += (iq4xs_scale(wb, g) - 32) * gs;
    }
    s += x.d[b] * h(wb.d) * (float)sum;
  }
  return s;
}

// ---- float rows -------------------------------------------------------------------

template <typename F>
float fdot(const float* x, int64_t n, F&& w) {
  float s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) s[k] += w(i + k) * x[i + k];
  for (; i < n; i++) s[0] += w(i) * x[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}
float fdot_f32(const void* r, const float* x, int64_t n) {
  return fdot(x, n, [&](int64_t i) { return load<float>(r, i); });
}
float fdot_f16(const void* r, const float* x, int64_t n) {
  return fdot(x, n, [&](int64_t i) { return h(load<uint16_t>(r, i)); });
}
float fdot_bf16(const void* r, const float* x, int64_t n) {
  return fdot(x, n, [&](int64_t i) { return bf16_to_fp32(load<uint16_t>(r, i)); });
}

// ---- activations and half conversions ----------------------------------------------

void quant_act(const float* x, int64_t n, int elems, int8_t* q, float* d, float* s, int16_t* bsums) {
  for (int64_t b = 0; b < n / elems; b++) {
    const float* v = x + b * elems;
    int8_t* qb = q + b * elems;
    float amax = 0.0f;
    bool finite = true;
    for (int j = 0; j < elems; j++) {
      finite &= std::isfinite(v[j]);
      amax = std::max(amax, std::fabs(v[j]));
    }
    float db = amax / 127.0f;
    const float id = db != 0.0f && finite ? 1.0f / db : 0.0f;
    int32_t total = 0;
    for (int j = 0; j < elems; j++) {
      qb[j] = finite ? (int8_t)std::nearbyint(v[j] * id) : 0;
      total += qb[j];
    }
    if (!finite) db = std::numeric_limits<float>::quiet_NaN();
    d[b] = db;
    if (s) s[b] = db * (float)total;
    if (bsums)
      for (int g = 0; g < elems / 16; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++) sum += qb[16 * g + j];
        bsums[b * (elems / 16) + g] = (int16_t)sum;
      }
  }
}
void quant_act32(const float* x, int64_t n, int8_t* q, float* d, float* s, int16_t* bs) {
  quant_act(x, n, QK, q, d, s, bs);
}
void quant_act256(const float* x, int64_t n, int8_t* q, float* d, float* s, int16_t* bs) {
  quant_act(x, n, QK_K, q, d, s, bs);
}
void to_f16(const float* x, uint16_t* o, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = fp32_to_fp16(x[i]);
}
void to_bf16(const float* x, uint16_t* o, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = fp32_to_bf16(x[i]);
}
float exp_sum(float* x, int64_t n, float shift) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; i++) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}
void silu_mul(float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

// ---- rows of halves (F16 KV cache) -----------------------------------------------------

void f16_rows_dot(const uint16_t* rows, int64_t ld, int64_t nr, const float* x, int64_t n, float scale, float* y,
                  const uint16_t*, int64_t) {
  for (int64_t j = 0; j < nr; j++) y[j] = scale * fdot_f16(rows + j * ld, x, n);
}
void f16_rows_axpy(const float* p, const uint16_t* rows, int64_t ld, int64_t nr, int64_t n, float* y, const uint16_t*,
                   int64_t) {
  for (int64_t j = 0; j < nr; j++)
    for (int64_t i = 0; i < n; i++) y[i] += p[j] * h(rows[j * ld + i]);
}

Table make() {
  Table t{};
  t.name = "scalar";
  auto set = [&](DType ty, DequantFn dq, DotFn dot) {
    t.dequant[(int)ty] = dq;
    t.dot[(int)ty] = dot;
  };
  set(DType::F32, dq_f32, nullptr);
  set(DType::F16, dq_f16, nullptr);
  set(DType::BF16, dq_bf16, nullptr);
  t.fdot[(int)DType::F32] = fdot_f32;
  t.fdot[(int)DType::F16] = fdot_f16;
  t.fdot[(int)DType::BF16] = fdot_bf16;
  set(DType::Q8_0, dq_q8_0, dot_q8_0);
  set(DType::Q4_0, dq_q4_0, dot_q4_0);
  set(DType::Q4_1, dq_q4_1, dot_q4_1);
  set(DType::Q5_0, dq_q5_0, dot_q5_0);
  set(DType::Q5_1, dq_q5_1, dot_q5_1);
  set(DType::IQ4_NL, dq_iq4_nl, dot_iq4_nl);
  set(DType::Q2_K, dq_q2_k, dot_q2_k);
  set(DType::Q3_K, dq_q3_k, dot_q3_k);
  set(DType::Q4_K, dq_q4_k, dot_q4_k);
  set(DType::Q5_K, dq_q5_k, dot_q5_k);
  set(DType::Q6_K, dq_q6_k, dot_q6_k);
  set(DType::IQ4_XS, dq_iq4_xs, dot_iq4_xs);
  t.dot_rows[(int)DType::Q8_0] = dot_rows_q8_0;
  t.dot_rows[(int)DType::Q4_0] = dot_rows_q4_0;
  t.dot_rows[(int)DType::Q4_1] = dot_rows_q4_1;
  t.dot_rows[(int)DType::Q5_0] = dot_rows_q5_0;
  t.dot_rows[(int)DType::Q5_1] = dot_rows_q5_1;
  t.dot_rows[(int)DType::IQ4_NL] = dot_rows_iq4_nl;
  t.dot_rows[(int)DType::Q4_K] = dot_rows_q4_k;
  t.dot_rows[(int)DType::Q5_K] = dot_rows_q5_k;
  t.dot_rows[(int)DType::Q6_K] = dot_rows_q6_k;
  t.quant_act32 = quant_act32;
  t.quant_act256 = quant_act256;
  t.to_f16 = to_f16;
  t.to_bf16 = to_bf16;
  t.exp_sum = exp_sum;
  t.silu_mul = silu_mul;
  t.f16_rows_dot = f16_rows_dot;
  t.f16_rows_axpy = f16_rows_axpy;
  return t;
}

}  // namespace

const Table& table_scalar() {
  static const Table t = make();
  return t;
}

}  // namespace flops::kern
