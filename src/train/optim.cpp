#include "train/optim.h"

#include <algorithm>
#include <cmath>

namespace flops::train {

float lr_at(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min) {
  if (warmup > 0 && step < warmup) return lr_max * (float)(step + 1) / (float)warmup;
  if (total <= warmup) return lr_max;
  double progress = std::clamp((double)(step - warmup) / (double)(total - warmup), 0.0, 1.0);
  return (float)(lr_min + 0.5 * (lr_max - lr_min) * (1.0 + std::cos(M_PI * progress)));
}

double global_norm(const std::vector<float>& g) {
  constexpr size_t chunk = 1 << 14;
  const size_t n_chunks = (g.size() + chunk - 1) / chunk;
  std::vector<double> part(n_chunks, 0.0);
#pragma omp parallel for schedule(static) if (n_chunks > 4)
  for (size_t c = 0; c < n_chunks; c++) {
    double s = 0;
    size_t end = std::min(g.size(), (c + 1) * chunk);
    for (size_t i = c * chunk; i < end; i++) s += (double)g[i] * g[i];
    part[c] = s;
  }
  double s = 0;
  for (double p : part) s += p;
  return std::sqrt(s);
}

double clip_grad_norm(std::vector<float>& g, float max_norm) {
  double norm = global_norm(g);
  if (max_norm > 0 && norm > max_norm) {
    float scale = (float)(max_norm / (norm + 1e-6));
#pragma omp parallel for schedule(static) if (g.size() >= (1u << 16))
    for (size_t i = 0; i < g.size(); i++) g[i] *= scale;
  }
  return norm;
}

void adamw_update(Model& m, AdamState& s, float lr, const AdamWConfig& c) {
  if (s.m.size() != m.w.size()) {
    s.m.assign(m.w.size(), 0.0f);
    s.v.assign(m.w.size(), 0.0f);
  }
  s.step++;
  const float bc1 = 1.0f - (float)std::pow((double)c.beta1, (double)s.step);
  const float bc2 = 1.0f - (float)std::pow((double)c.beta2, (double)s.step);
  for (const TensorRef& t : m.tensors) {
    const float wd = t.decay ? c.weight_decay : 0.0f;
    const float lr_t = lr * t.lr_scale;  // exactly lr at scale 1
    float* w = m.w.data() + t.offset;
    const float* g = m.g.data() + t.offset;
    float* mm = s.m.data() + t.offset;
    float* vv = s.v.data() + t.offset;
#pragma omp parallel for schedule(static) if (t.count >= (1u << 16))
    for (size_t i = 0; i < t.count; i++) {
      float gi = g[i];
      mm[i] = c.beta1 * mm[i] + (1.0f - c.beta1) * gi;
      vv[i] = c.beta2 * vv[i] + (1.0f - c.beta2) * gi * gi;
      float mhat = mm[i] / bc1, vhat = vv[i] / bc2;
      w[i] -= lr_t * (mhat / (std::sqrt(vhat) + c.eps) + wd * w[i]);
    }
  }
}

}  // namespace flops::train
