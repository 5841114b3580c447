#include "core/ops.h"

#include <algorithm>
#include <cmath>

#include "core/flop_counter.h"
#include "core/kernels.h"

namespace flops {

// A passive OpenMP region costs tens of microseconds (far more when another process holds a
// core): the norms of a decode step, even of 8 sequences at once, are a few thousand flops.
constexpr int64_t kNormParallelMin = 1 << 18;

void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps) {
#pragma omp parallel for if (rows * n >= kNormParallelMin)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t i = 0; i < n; i++) ss += xr[i] * xr[i];
    float s = 1.0f / std::sqrt(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) yr[i] = xr[i] * s * w[i];
  }
  counter::add_other((uint64_t)(4 * rows * n));
}

void layernorm(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t n, float eps) {
#pragma omp parallel for if (rows * n >= kNormParallelMin)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float mean = 0;
    for (int64_t i = 0; i < n; i++) mean += xr[i];
    mean /= (float)n;
    float var = 0;
    for (int64_t i = 0; i < n; i++) var += (xr[i] - mean) * (xr[i] - mean);
    var /= (float)n;
    float s = 1.0f / std::sqrt(var + eps);
    for (int64_t i = 0; i < n; i++) yr[i] = (xr[i] - mean) * s * w[i] + (b ? b[i] : 0.0f);
  }
  counter::add_other((uint64_t)(8 * rows * n));
}

void add_bias(float* x, const float* b, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < n; i++) x[r * n + i] += b[i];
  counter::add_other((uint64_t)(rows * n));
}

void swiglu(float* gate, const float* up, int64_t n) {
  const kern::SiluMulFn f = kern::active().silu_mul;
  constexpr int64_t kChunk = 4096;
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; i += kChunk) f(gate + i, up + i, std::min(kChunk, n - i));
  counter::add_other((uint64_t)(5 * n));
}

void gelu(float* x, int64_t n) {
  const float c = 0.7978845608028654f;  // sqrt(2/pi)
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(c * (v + 0.044715f * v * v * v)));
  }
  counter::add_other((uint64_t)(8 * n));
}

void geglu(float* gate, const float* up, int64_t n) {
  gelu(gate, n);
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; i++) gate[i] *= up[i];
  counter::add_other((uint64_t)n);
}

void softcap(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; i++) x[i] = cap * std::tanh(x[i] * inv);
  counter::add_other((uint64_t)(3 * n));
}

void rope(float* x, int head_dim, int n_rot, int pos, float theta_base, bool neox) {
  int half = n_rot / 2;
  for (int i = 0; i < half; i++) {
    float freq = std::pow(theta_base, -2.0f * (float)i / (float)n_rot);
    float a = (float)pos * freq;
    float c = std::cos(a), s = std::sin(a);
    int i0 = neox ? i : 2 * i;
    int i1 = neox ? i + half : 2 * i + 1;
    float x0 = x[i0], x1 = x[i1];
    x[i0] = x0 * c - x1 * s;
    x[i1] = x0 * s + x1 * c;
  }
  (void)head_dim;
  counter::add_other((uint64_t)(6 * half));
}

void rope_table(int n_rot, int pos, float theta_base, float* cs, float* sn, float freq_scale, const float* freq_factors) {
  const float step = std::pow(theta_base, -2.0f / (float)n_rot);
  float theta = (float)pos;
  for (int i = 0; i < n_rot / 2; i++) {
    const float a = freq_scale * (freq_factors ? theta / freq_factors[i] : theta);
    cs[i] = std::cos(a);
    sn[i] = std::sin(a);
    theta *= step;
  }
}

void rope_apply(float* x, int n_rot, const float* cs, const float* sn, bool neox) {
  const int half = n_rot / 2;
  for (int i = 0; i < half; i++) {
    int i0 = neox ? i : 2 * i;
    int i1 = neox ? i + half : 2 * i + 1;
    float x0 = x[i0], x1 = x[i1];
    x[i0] = x0 * cs[i] - x1 * sn[i];
    x[i1] = x0 * sn[i] + x1 * cs[i];
  }
  counter::add_other((uint64_t)(6 * half));
}

double softmax(float* x, int64_t n) {
  float mx = x[0];
  for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  const double sum = exp_sum(x, n, mx);
  float inv = (float)(1.0 / sum);
  for (int64_t i = 0; i < n; i++) x[i] *= inv;
  counter::add_other((uint64_t)(3 * n));
  return mx + std::log(sum);
}

float exp_sum(float* x, int64_t n, float shift) { return kern::active().exp_sum(x, n, shift); }

double log_softmax_at(const float* x, int64_t n, int64_t target) {
  float mx = x[0];
  for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += std::exp((double)(x[i] - mx));
  counter::add_other((uint64_t)(2 * n));
  return (double)(x[target] - mx) - std::log(sum);
}

}  // namespace flops
