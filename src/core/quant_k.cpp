// Quantizers of the super-block types (Q2_K..Q6_K, IQ4_XS) and of IQ4_NL.
//
// Every type stores, per group of 16 or 32 values, an integer scale (and min) times one fp16
// super-block scale. Each quantizer (1) fits every group on its own (quant_search.h), (2)
// picks the fp16 super-block scale among trial values near max/limit, rounding the group
// scales to integers against it and keeping the trial with the least total squared error
// (codes re-rounded against the scales as stored), (3) tries each group's neighbouring integer
// scales, and (4) writes the codes that the stored scales give. The errors are those of the
// dequantized values exactly as the kernels compute them.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/quant_impl.h"
#include "core/quant_search.h"

namespace flops::quant {
namespace {

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

float extreme(const float* v, int n) {
  float m = 0;
  for (int i = 0; i < n; i++)
    if (std::fabs(v[i]) > std::fabs(m)) m = v[i];
  return m;
}

// Signed integer group scales sc_g in [lo, hi] times the fp16 d; err(g, S) is the error of
// group g with scale S. Returns the total error.
template <typename Err>
float choose_signed(const float* s, int ng, int lo, int hi, Err&& err, uint16_t& d16, int* sc) {
  const float sm = extreme(s, ng);
  d16 = 0;
  std::fill(sc, sc + ng, 0);
  float best = 0;
  for (int g = 0; g < ng; g++) best += err(g, 0.0f);
  if (sm == 0) return best;
  int t[32];
  for (int end : {lo, hi}) {
    for (int k = -4; k <= 4; k++) {
      const uint16_t c16 = fp32_to_fp16(sm / ((float)end * (1.0f + 0.01f * (float)k)));
      const float d = fp16_to_fp32(c16);
      if (d == 0 || !std::isfinite(d)) continue;
      float total = 0;
      for (int g = 0; g < ng; g++) {
        t[g] = clampi((int)std::nearbyint(s[g] / d), lo, hi);
        total += err(g, d * (float)t[g]);
      }
      if (total < best) {
        best = total;
        d16 = c16;
        std::copy(t, t + ng, sc);
      }
    }
  }
  const float d = fp16_to_fp32(d16);
  for (int g = 0; g < ng && d != 0; g++) {
    float e = err(g, d * (float)sc[g]);
    for (int delta : {-1, 1}) {
      const int c = sc[g] + delta;
      if (c < lo || c > hi) continue;
      const float ec = err(g, d * (float)c);
      if (ec < e) {
        e = ec;
        sc[g] = c;
      }
    }
  }
  return best;
}

// Unsigned group scales sc_g and mins mn_g in [0, hi] times fp16 d and dmin (x ~ d*sc*q -
// dmin*mn). err(g, S, L) is the error of group g with value = S * q + L.
template <typename Err>
void choose_affine(const float* s, const float* m, int ng, int hi, Err&& err, uint16_t& d16, uint16_t& dm16, int* sc,
                   int* mn) {
  const float smax = *std::max_element(s, s + ng), mmax = *std::max_element(m, m + ng);
  auto total = [&](float d, float dm, int* ts, int* tm) {
    float e = 0;
    for (int g = 0; g < ng; g++) {
      ts[g] = d > 0 ? clampi((int)std::nearbyint(s[g] / d), 0, hi) : 0;
      tm[g] = dm > 0 ? clampi((int)std::nearbyint(m[g] / dm), 0, hi) : 0;
      e += err(g, d * (float)ts[g], -(dm * (float)tm[g]));
    }
    return e;
  };
  int ts[32], tm[32];
  d16 = fp32_to_fp16(smax / (float)hi);
  dm16 = fp32_to_fp16(mmax / (float)hi);
  float best = total(fp16_to_fp32(d16), fp16_to_fp32(dm16), sc, mn);
  for (int pass = 0; pass < 2; pass++) {
    for (int k = -4; k <= 4; k++) {
      const float f = 1.0f + 0.01f * (float)k;
      const uint16_t c16 = fp32_to_fp16((pass == 0 ? smax : mmax) / ((float)hi * f));
      const float d = pass == 0 ? fp16_to_fp32(c16) : fp16_to_fp32(d16);
      const float dm = pass == 0 ? fp16_to_fp32(dm16) : fp16_to_fp32(c16);
      if (!std::isfinite(d) || !std::isfinite(dm)) continue;
      const float e = total(d, dm, ts, tm);
      if (e < best) {
        best = e;
        (pass == 0 ? d16 : dm16) = c16;
        std::copy(ts, ts + ng, sc);
        std::copy(tm, tm + ng, mn);
      }
    }
  }
  const float d = fp16_to_fp32(d16), dm = fp16_to_fp32(dm16);
  for (int g = 0; g < ng; g++) {
    float e = err(g, d * (float)sc[g], -(dm * (float)mn[g]));
    int bs = sc[g], bm = mn[g];
    for (int a = -1; a <= 1; a++)
      for (int b = -1; b <= 1; b++) {
        const int cs = sc[g] + a, cm = mn[g] + b;
        if ((a == 0 && b == 0) || cs < 0 || cs > hi || cm < 0 || cm > hi) continue;
        const float ec = err(g, d * (float)cs, -(dm * (float)cm));
        if (ec < e) {
          e = ec;
          bs = cs;
          bm = cm;
        }
      }
    sc[g] = bs;
    mn[g] = bm;
  }
}

// A super-block with a min: codes q[256] in [0, nmax], groups of `gs`, scales/mins of `bits`.
template <int gs, int nmax, int hi>
void fit_kmin(const float* x, uint8_t* q, uint16_t& d16, uint16_t& dm16, int* sc, int* mn) {
  constexpr int ng = QK_K / gs;
  float w[QK_K], s[ng], m[ng];
  default_weights(x, QK_K, w);
  for (int g = 0; g < ng; g++) {
    float lo;
    fit_affine(x + gs * g, w + gs * g, gs, nmax, s[g], lo);
    m[g] = -lo;
  }
  auto err = [&](int g, float S, float L) { return round_affine(x + gs * g, w + gs * g, gs, nmax, S, L, q + gs * g); };
  choose_affine(s, m, ng, hi, err, d16, dm16, sc, mn);
  const float d = fp16_to_fp32(d16), dm = fp16_to_fp32(dm16);
  for (int g = 0; g < ng; g++) err(g, d * (float)sc[g], -(dm * (float)mn[g]));
}

void pack_kscales(const int* sc, const int* mn, uint8_t* s) {
  for (int g = 0; g < 4; g++) {
    s[g] = (uint8_t)((sc[g] & 63) | ((sc[g + 4] >> 4) << 6));
    s[g + 4] = (uint8_t)((mn[g] & 63) | ((mn[g + 4] >> 4) << 6));
    s[g + 8] = (uint8_t)((sc[g + 4] & 15) | ((mn[g + 4] & 15) << 4));
  }
}

}  // namespace

void q4_k(const float* x, BlockQ4_K* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++, x += QK_K) {
    BlockQ4_K& o = out[b];
    uint8_t q[QK_K];
    int sc[8], mn[8];
    fit_kmin<32, 15, 63>(x, q, o.d, o.dmin, sc, mn);
    pack_kscales(sc, mn, o.scales);
    for (int c = 0; c < 4; c++)
      for (int l = 0; l < 32; l++) o.qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  }
}

void q5_k(const float* x, BlockQ5_K* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++, x += QK_K) {
    BlockQ5_K& o = out[b];
    uint8_t q[QK_K];
    int sc[8], mn[8];
    fit_kmin<32, 31, 63>(x, q, o.d, o.dmin, sc, mn);
    pack_kscales(sc, mn, o.scales);
    std::memset(o.qh, 0, sizeof o.qh);
    for (int c = 0; c < 4; c++)
      for (int l = 0; l < 32; l++) o.qs[32 * c + l] = (uint8_t)((q[64 * c + l] & 15) | ((q[64 * c + 32 + l] & 15) << 4));
    for (int e = 0; e < QK_K; e++) o.qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
  }
}

void q2_k(const float* x, BlockQ2_K* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++, x += QK_K) {
    BlockQ2_K& o = out[b];
    uint8_t q[QK_K];
    int sc[16], mn[16];
    fit_kmin<16, 3, 15>(x, q, o.d, o.dmin, sc, mn);
    for (int g = 0; g < 16; g++) o.scales[g] = (uint8_t)(sc[g] | (mn[g] << 4));
    std::memset(o.qs, 0, sizeof o.qs);
    for (int e = 0; e < QK_K; e++) o.qs[32 * (e / 128) + e % 32] |= (uint8_t)(q[e] << (2 * ((e / 32) % 4)));
  }
}

void q3_k(const float* x, BlockQ3_K* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++, x += QK_K) {
    BlockQ3_K& o = out[b];
    float w[QK_K], s[16];
    int8_t q[QK_K];
    int sc[16];
    default_weights(x, QK_K, w);
    for (int g = 0; g < 16; g++) fit_signed(x + 16 * g, w + 16 * g, 16, 4, 3, s[g]);
    auto err = [&](int g, float S) { return round_signed(x + 16 * g, w + 16 * g, 16, 4, 3, S, q + 16 * g); };
    choose_signed(s, 16, -32, 31, err, o.d, sc);
    const float d = fp16_to_fp32(o.d);
    std::memset(o.scales, 0, sizeof o.scales);
    for (int g = 0; g < 16; g++) {
      err(g, d * (float)sc[g]);
      const int u = sc[g] + 32;
      o.scales[g % 8] |= (uint8_t)((u & 15) << (g < 8 ? 0 : 4));
      o.scales[8 + g % 4] |= (uint8_t)((u >> 4) << (2 * (g / 4)));
    }
    std::memset(o.hmask, 0, sizeof o.hmask);
    std::memset(o.qs, 0, sizeof o.qs);
    for (int e = 0; e < QK_K; e++) {
      const int u = q[e] + 4, l = e % 32, h = e / 128, s2 = (e / 32) % 4;
      o.qs[32 * h + l] |= (uint8_t)((u & 3) << (2 * s2));
      o.hmask[l] |= (uint8_t)((u >> 2) << (4 * h + s2));
    }
  }
}

void q6_k(const float* x, BlockQ6_K* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++, x += QK_K) {
    BlockQ6_K& o = out[b];
    float w[QK_K], s[16];
    int8_t q[QK_K];
    int sc[16];
    default_weights(x, QK_K, w);
    for (int g = 0; g < 16; g++) fit_signed(x + 16 * g, w + 16 * g, 16, 32, 31, s[g]);
    auto err = [&](int g, float S) { return round_signed(x + 16 * g, w + 16 * g, 16, 32, 31, S, q + 16 * g); };
    choose_signed(s, 16, -128, 127, err, o.d, sc);
    const float d = fp16_to_fp32(o.d);
    for (int g = 0; g < 16; g++) {
      err(g, d * (float)sc[g]);
      o.scales[g] = (int8_t)sc[g];
    }
    std::memset(o.ql, 0, sizeof o.ql);
    std::memset(o.qh, 0, sizeof o.qh);
    for (int e = 0; e < QK_K; e++) {
      const int u = q[e] + 32, h = e / 128, k = (e / 32) % 4, l = e % 32;
      o.ql[64 * h + (k % 2) * 32 + l] |= (uint8_t)((u & 15) << (k < 2 ? 0 : 4));
      o.qh[32 * h + l] |= (uint8_t)((u >> 4) << (2 * k));
    }
  }
}

void iq4_xs(const float* x, BlockIQ4_XS* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++, x += QK_K) {
    BlockIQ4_XS& o = out[b];
    float w[QK_K], s[8];
    uint8_t q[QK_K];
    int sc[8];
    default_weights(x, QK_K, w);
    for (int g = 0; g < 8; g++) fit_grid(x + 32 * g, w + 32 * g, 32, kIQ4Values, s[g]);
    auto err = [&](int g, float S) { return round_grid(x + 32 * g, w + 32 * g, 32, kIQ4Values, S, q + 32 * g); };
    choose_signed(s, 8, -32, 31, err, o.d, sc);
    const float d = fp16_to_fp32(o.d);
    o.scales_h = 0;
    std::memset(o.scales_l, 0, sizeof o.scales_l);
    for (int g = 0; g < 8; g++) {
      err(g, d * (float)sc[g]);
      const int u = sc[g] + 32;
      o.scales_l[g / 2] |= (uint8_t)((u & 15) << (4 * (g % 2)));
      o.scales_h |= (uint16_t)((u >> 4) << (2 * g));
      for (int j = 0; j < 16; j++) o.qs[16 * g + j] = (uint8_t)(q[32 * g + j] | (q[32 * g + 16 + j] << 4));
    }
  }
}

void iq4_nl(const float* x, BlockIQ4_NL* out, int64_t nb) {
  for (int64_t b = 0; b < nb; b++, x += QK) {
    float w[QK], s;
    uint8_t q[QK];
    default_weights(x, QK, w);
    fit_grid(x, w, QK, kIQ4Values, s);
    // The stored scale is fp16: of the two halves around s, keep the one with less error.
    uint16_t best = fp32_to_fp16(s);
    float be = round_grid(x, w, QK, kIQ4Values, fp16_to_fp32(best), q);
    for (int delta : {-1, 1}) {
      const uint16_t c = (uint16_t)(best + delta);
      if (!std::isfinite(fp16_to_fp32(c)) || ((c ^ best) & 0x8000)) continue;
      const float e = round_grid(x, w, QK, kIQ4Values, fp16_to_fp32(c), q);
      if (e < be) {
        be = e;
        best = c;
      }
    }
    out[b].d = best;
    round_grid(x, w, QK, kIQ4Values, fp16_to_fp32(best), q);
    for (int j = 0; j < 16; j++) out[b].qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
  }
}

}  // namespace flops::quant
