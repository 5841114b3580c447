#include "model/kv_cache.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/quant.h"
#include "model/model.h"

namespace flops {

DType kv_cache_type_from_name(const std::string& name, const char* flag) {
  std::string s = name;
  for (char& ch : s) ch = (char)std::tolower((unsigned char)ch);
  if (s == "f32") return DType::F32;
  if (s == "f16") return DType::F16;
  fail("{} must be f32 or f16, got '{}'", flag, name);
}

const char* kv_cache_type_name(DType t) { return t == DType::F16 ? "f16" : "f32"; }

KVCache make_kv_cache(const ModelConfig& c, int n_ctx, KVCacheTypes types) {
  if (n_ctx <= 0) fail("context size must be positive, got {}", n_ctx);
  for (DType t : {types.k, types.v})
    if (t != DType::F32 && t != DType::F16) fail("a KV cache stores F32 or F16, not {}", dtype_name(t));
  KVCache kv;
  kv.n_ctx = n_ctx;
  kv.n_layer = c.n_layer;
  kv.kv_dim = c.kv_dim();
  kv.n_head_kv = c.n_head_kv;
  kv.head_dim = c.head_dim();
  kv.type_k = types.k;
  kv.type_v = types.v;
  const size_t n = (size_t)c.n_layer * n_ctx * kv.kv_dim;
  kv.k.assign(n * kv.k_elem(), 0);
  kv.v.assign(n * kv.v_elem(), 0);
  kv.pos.assign(n_ctx, 0);
  kv.seg.assign(n_ctx, 0);
  kv.seg_log_scale = {0.0f};
  return kv;
}

KVCache make_kv_cache(const Model& m, int n_ctx) { return make_kv_cache(m.cfg, n_ctx, m.kv_types); }

size_t kv_cache_bytes(const ModelConfig& c, int n_ctx, KVCacheTypes types) {
  const size_t n = (size_t)c.n_layer * (size_t)std::max(n_ctx, 0) * (size_t)c.kv_dim();
  return n * (types.k == DType::F16 ? 2 : 4) + n * (types.v == DType::F16 ? 2 : 4);
}

void KVCache::write(int layer, int slot, const float* keys, const float* values) {
  for (int h = 0; h < n_head_kv; h++) {
    quantize_row(type_k, keys + (size_t)h * head_dim, k.data() + offset(layer, h, slot) * k_elem(), head_dim);
    quantize_row(type_v, values + (size_t)h * head_dim, v.data() + offset(layer, h, slot) * v_elem(), head_dim);
  }
}

void KVCache::prefetch_write(int layer, int slot) const {
  if (layer >= n_layer || slot >= n_ctx) return;
  for (int h = 0; h < n_head_kv; h++) {
    const char* kp = (const char*)k_head(layer, h, slot);
    const char* vp = (const char*)v_head(layer, h, slot);
    for (size_t b = 0; b < head_dim * k_elem(); b += 64) __builtin_prefetch(kp + b, 1, 3);
    for (size_t b = 0; b < head_dim * v_elem(); b += 64) __builtin_prefetch(vp + b, 1, 3);
  }
}

void KVCache::read_k(int layer, int slot, float* out) const {
  for (int h = 0; h < n_head_kv; h++) dequantize_row(type_k, k_head(layer, h, slot), out + (size_t)h * head_dim, head_dim);
}

void KVCache::read_v(int layer, int slot, float* out) const {
  for (int h = 0; h < n_head_kv; h++) dequantize_row(type_v, v_head(layer, h, slot), out + (size_t)h * head_dim, head_dim);
}

void KVCache::copy_prefix(const KVCache& src, int count) {
  if (src.n_layer != n_layer || src.kv_dim != kv_dim || src.n_head_kv != n_head_kv || src.type_k != type_k ||
      src.type_v != type_v)
    fail("cannot copy a KV cache into one of another shape or type");
  if (count < 0 || count > src.n || count > n_ctx)
    fail("cannot copy {} slots of a KV cache holding {} into one of {}", count, src.n, n_ctx);
  const size_t kb = (size_t)count * head_dim * k_elem(), vb = (size_t)count * head_dim * v_elem();
  for (int l = 0; l < n_layer; l++)
    for (int h = 0; h < n_head_kv; h++) {
      std::memcpy(k.data() + offset(l, h, 0) * k_elem(), src.k_head(l, h), kb);
      std::memcpy(v.data() + offset(l, h, 0) * v_elem(), src.v_head(l, h), vb);
    }
  std::copy(src.pos.begin(), src.pos.begin() + count, pos.begin());
  std::copy(src.seg.begin(), src.seg.begin() + count, seg.begin());
  seg_log_scale = src.seg_log_scale;
  n = count;
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
