#include "model/kv_cache.h"

#include <cmath>

#include "core/error.h"

namespace flops {

KVCache make_kv_cache(const ModelConfig& c, int n_ctx) {
  if (n_ctx <= 0) fail("context size must be positive, got {}", n_ctx);
  KVCache kv;
  kv.n_ctx = n_ctx;
  kv.n_layer = c.n_layer;
  kv.kv_dim = c.kv_dim();
  size_t n = (size_t)c.n_layer * n_ctx * kv.kv_dim;
  kv.k.assign(n, 0.0f);
  kv.v.assign(n, 0.0f);
  kv.pos.assign(n_ctx, 0);
  kv.seg.assign(n_ctx, 0);
  kv.seg_log_scale = {0.0f};
  return kv;
}

void KVCache::clear() {
  n = 0;
  seg_log_scale = {0.0f};
}

void KVCache::truncate(int n_keep) {
  if (n_keep < 0 || n_keep > n) fail("cannot truncate a KV cache of {} slots to {}", n, n_keep);
  n = n_keep;
}

int KVCache::new_segment(float scale) {
  if (!(scale > 0)) fail("segment attention scale must be positive, got {}", scale);
  seg_log_scale.push_back(std::log(scale));
  return (int)seg_log_scale.size() - 1;
}

void KVCache::set_segment_scale(int segment, float scale) {
  if (segment < 0 || segment >= (int)seg_log_scale.size()) fail("no segment {} in the KV cache", segment);
  if (!(scale > 0)) fail("segment attention scale must be positive, got {}", scale);
  seg_log_scale[segment] = std::log(scale);
}

int KVCache::next_pos() const { return n == 0 ? 0 : pos[n - 1] + 1; }

}  // namespace flops
