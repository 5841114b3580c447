#pragma once
// AdamW with decoupled weight decay (matrices only, not norms or biases),
// linear warm-up then cosine decay, and clipping by the global gradient norm.
#include <cstdint>
#include <vector>

#include "train/model.h"

namespace flops::train {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;
};

struct AdamState {
  std::vector<float> m, v;  // first and second moments, laid out as Model::w
  int64_t step = 0;         // updates applied so far
};

// lr for update number `step` (0-based): linear warm-up over `warmup` steps to lr_max,
// then cosine to lr_min at `total`.
float lr_at(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min);

// L2 norm of g, summed in fixed-size chunks in a fixed order: the same value for any thread count.
double global_norm(const std::vector<float>& g);
// Scales g so its norm is at most max_norm (no-op when max_norm <= 0). Returns the norm before.
double clip_grad_norm(std::vector<float>& g, float max_norm);

// One update of m.w from m.g, each tensor at lr * its lr_scale. Leaves m.g untouched.
void adamw_update(Model& m, AdamState& s, float lr, const AdamWConfig& c);

}  // namespace flops::train
