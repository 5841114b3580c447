#pragma once
// Key/value cache. Each slot remembers its position id and its segment; each
// segment has an attention scale. A query's weight on a key is
// scale(seg) * e^s / Z with Z summed the same way, i.e. log(scale) is added to
// the score. Structured prompting encodes demonstration groups as separate
// segments (each attending only to itself) and the test input as a segment that
// sees them all, with scale M on its own keys.
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace flops {

struct KVCache {
  int n_ctx = 0;
  int n_layer = 0;
  int kv_dim = 0;
  int n = 0;                        // slots in use
  std::vector<float> k, v;          // [layer][slot][kv_dim]
  std::vector<int32_t> pos;         // position id of each slot
  std::vector<int32_t> seg;         // segment of each slot
  std::vector<float> seg_log_scale; // per segment: log of its attention scale

  float* k_at(int layer, int slot) { return k.data() + ((size_t)layer * n_ctx + slot) * kv_dim; }
  float* v_at(int layer, int slot) { return v.data() + ((size_t)layer * n_ctx + slot) * kv_dim; }
  const float* k_at(int layer, int slot) const { return k.data() + ((size_t)layer * n_ctx + slot) * kv_dim; }
  const float* v_at(int layer, int slot) const { return v.data() + ((size_t)layer * n_ctx + slot) * kv_dim; }

  void clear();
  void truncate(int n_keep);                 // drop slots from n_keep on (and segments no longer used)
  int new_segment(float scale = 1.0f);       // returns its id
  void set_segment_scale(int segment, float scale);
  int next_pos() const;                      // one past the last slot's position (0 when empty)
  size_t bytes() const { return (k.size() + v.size()) * sizeof(float); }
};

KVCache make_kv_cache(const ModelConfig& c, int n_ctx);

}  // namespace flops
