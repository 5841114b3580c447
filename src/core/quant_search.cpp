#include "core/quant_search.h"

#include <algorithm>
#include <cmath>

namespace flops::quant {
namespace {

constexpr int kTrials = 10;     // trial scales on each side of the extreme-to-end mapping
constexpr int kRefine = 6;      // rounding / least-squares alternations after the trials

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// Least squares for x ~ s * q + lo (lo <= 0, s >= 0) with the codes q fixed.
void ls_affine(const float* x, const float* w, const uint8_t* q, int n, float& s, float& lo) {
  double sw = 0, sq = 0, sqq = 0, sx = 0, sqx = 0;
  for (int i = 0; i < n; i++) {
    sw += w[i];
    sq += w[i] * q[i];
    sqq += (double)w[i] * q[i] * q[i];
    sx += w[i] * x[i];
    sqx += (double)w[i] * q[i] * x[i];
  }
  const double det = sw * sqq - sq * sq;
  double ds = 0, dlo = sw > 0 ? sx / sw : 0;
  if (det > 1e-12 * sw * sqq) {
    ds = (sw * sqx - sq * sx) / det;
    dlo = (sqq * sx - sq * sqx) / det;
  }
  if (dlo > 0) {
    dlo = 0;
    ds = sqq > 0 ? sqx / sqq : 0;
  }
  if (ds < 0) {
    ds = 0;
    dlo = std::min(0.0, sw > 0 ? sx / sw : 0.0);
  }
  s = (float)ds;
  lo = (float)dlo;
}

// Least squares for x ~ s * v with the values v fixed.
template <typename V>
float ls_scale(const float* x, const float* w, int n, V&& v) {
  double num = 0, den = 0;
  for (int i = 0; i < n; i++) {
    num += (double)w[i] * x[i] * v(i);
    den += (double)w[i] * v(i) * v(i);
  }
  return den > 0 ? (float)(num / den) : 0.0f;
}

// The element of largest magnitude, with its sign.
float extreme(const float* x, int n) {
  float m = 0;
  for (int i = 0; i < n; i++)
    if (std::fabs(x[i]) > std::fabs(m)) m = x[i];
  return m;
}

int nearest_grid(const int8_t* grid, float v) {
  int k = 0;
  while (k < 15 && v > 0.5f * ((float)grid[k] + (float)grid[k + 1])) k++;
  return k;
}

}  // namespace

void default_weights(const float* x, int n, float* w) {
  for (int i = 0; i < n; i++) w[i] = 1.0f;
  (void)x;
}

float round_affine(const float* x, const float* w, int n, int nmax, float s, float lo, uint8_t* q) {
  const float is = s != 0.0f ? 1.0f / s : 0.0f;
  float err = 0;
  for (int i = 0; i < n; i++) {
    q[i] = (uint8_t)clampi((int)std::nearbyint((x[i] - lo) * is), 0, nmax);
    const float d = x[i] - (s * (float)q[i] + lo);
    err += w[i] * d * d;
  }
  return err;
}

float round_signed(const float* x, const float* w, int n, int nneg, int npos, float s, int8_t* q) {
  const float is = s != 0.0f ? 1.0f / s : 0.0f;
  float err = 0;
  for (int i = 0; i < n; i++) {
    q[i] = (int8_t)clampi((int)std::nearbyint(x[i] * is), -nneg, npos);
    const float d = x[i] - s * (float)q[i];
    err += w[i] * d * d;
  }
  return err;
}

float round_grid(const float* x, const float* w, int n, const int8_t* grid, float s, uint8_t* q) {
  const float is = s != 0.0f ? 1.0f / s : 0.0f;
  float err = 0;
  for (int i = 0; i < n; i++) {
    q[i] = (uint8_t)(s != 0.0f ? nearest_grid(grid, x[i] * is) : 8);
    const float d = x[i] - s * (float)grid[q[i]];
    err += w[i] * d * d;
  }
  return err;
}

float fit_affine(const float* x, const float* w, int n, int nmax, float& s, float& lo) {
  float xmin = 0, xmax = -INFINITY;
  for (int i = 0; i < n; i++) {
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  uint8_t q[256];
  if (!(xmax > xmin)) {
    s = 0;
    lo = xmin;
    return round_affine(x, w, n, nmax, s, lo, q);
  }
  float best = INFINITY;
  for (int k = -kTrials; k <= kTrials; k++) {
    const float is = ((float)nmax + 0.1f * (float)k) / (xmax - xmin);
    if (is <= 0) continue;
    for (int i = 0; i < n; i++) q[i] = (uint8_t)clampi((int)std::nearbyint((x[i] - xmin) * is), 0, nmax);
    float ts, tlo;
    ls_affine(x, w, q, n, ts, tlo);
    const float err = round_affine(x, w, n, nmax, ts, tlo, q);
    if (err < best) {
      best = err;
      s = ts;
      lo = tlo;
    }
  }
  for (int it = 0; it < kRefine; it++) {
    round_affine(x, w, n, nmax, s, lo, q);
    float ts, tlo;
    ls_affine(x, w, q, n, ts, tlo);
    const float err = round_affine(x, w, n, nmax, ts, tlo, q);
    if (!(err < best)) break;
    best = err;
    s = ts;
    lo = tlo;
  }
  return best;
}

float fit_signed(const float* x, const float* w, int n, int nneg, int npos, float& s) {
  int8_t q[256];
  const float m = extreme(x, n);
  s = 0;
  if (m == 0) return round_signed(x, w, n, nneg, npos, s, q);
  float best = INFINITY;
  for (float end : {-(float)nneg, (float)npos}) {
    for (int k = -kTrials; k <= kTrials; k++) {
      const float t = end + (end < 0 ? -0.1f : 0.1f) * (float)k;
      if (std::fabs(t) < 0.5f) continue;
      const float s0 = m / t;
      round_signed(x, w, n, nneg, npos, s0, q);
      const float ts = ls_scale(x, w, n, [&](int i) { return (float)q[i]; });
      const float err = round_signed(x, w, n, nneg, npos, ts, q);
      if (err < best) {
        best = err;
        s = ts;
      }
    }
  }
  for (int it = 0; it < kRefine; it++) {
    round_signed(x, w, n, nneg, npos, s, q);
    const float ts = ls_scale(x, w, n, [&](int i) { return (float)q[i]; });
    const float err = round_signed(x, w, n, nneg, npos, ts, q);
    if (!(err < best)) break;
    best = err;
    s = ts;
  }
  return best;
}

float fit_grid(const float* x, const float* w, int n, const int8_t* grid, float& s) {
  uint8_t q[256];
  const float m = extreme(x, n);
  s = 0;
  if (m == 0) return round_grid(x, w, n, grid, s, q);
  float best = INFINITY;
  for (float end : {(float)grid[0], (float)grid[15]}) {
    for (int k = -kTrials; k <= kTrials; k++) {
      const float s0 = m / (end * (1.0f + 0.02f * (float)k));
      round_grid(x, w, n, grid, s0, q);
      const float ts = ls_scale(x, w, n, [&](int i) { return (float)grid[q[i]]; });
      const float err = round_grid(x, w, n, grid, ts, q);
      if (err < best) {
        best = err;
        s = ts;
      }
    }
  }
  for (int it = 0; it < kRefine; it++) {
    round_grid(x, w, n, grid, s, q);
    const float ts = ls_scale(x, w, n, [&](int i) { return (float)grid[q[i]]; });
    const float err = round_grid(x, w, n, grid, ts, q);
    if (!(err < best)) break;
    best = err;
    s = ts;
  }
  return best;
}

}  // namespace flops::quant
