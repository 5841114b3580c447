#pragma once
// Key/value cache. Each slot remembers its position id and its segment; each
// segment has an attention scale. A query's weight on a key is
// scale(seg) * e^s / Z with Z summed the same way, i.e. log(scale) is added to
// the score. Structured prompting encodes demonstration groups as separate
// segments (each attending only to itself) and the test input as a segment that
// sees them all, with scale M on its own keys.
//
// Keys and values are stored as F32 or F16 (chosen per cache, separately for K and V, as
// llama.cpp's --cache-type-k/v), head-major: [layer][kv head][slot][head_dim], so that the keys
// of one head over consecutive slots are one block of memory (what a decode step's attention
// streams through).
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/config.h"

namespace flops {

struct Model;

struct KVCacheTypes {
  DType k = DType::F32;
  DType v = DType::F32;
};

// "f32" or "f16" (any case) as a cache type; anything else fails naming `flag`.
DType kv_cache_type_from_name(const std::string& name, const char* flag);
// "f32" / "f16".
const char* kv_cache_type_name(DType t);

struct KVCache {
  int n_ctx = 0;
  int n_layer = 0;
  int kv_dim = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  DType type_k = DType::F32, type_v = DType::F32;
  int n = 0;                        // slots in use
  std::vector<uint8_t> k, v;        // [layer][kv head][slot][head_dim] elements of type_k / type_v
  std::vector<int32_t> pos;         // position id of each slot
  std::vector<int32_t> seg;         // segment of each slot
  std::vector<float> seg_log_scale; // per segment: log of its attention scale

  // One head's keys (values) from `slot` on: head_dim elements per slot, rows head_dim apart.
  const void* k_head(int layer, int head, int slot = 0) const { return k.data() + offset(layer, head, slot) * k_elem(); }
  const void* v_head(int layer, int head, int slot = 0) const { return v.data() + offset(layer, head, slot) * v_elem(); }
  size_t k_elem() const { return type_k == DType::F16 ? 2 : 4; }
  size_t v_elem() const { return type_v == DType::F16 ? 2 : 4; }

  // Stores one slot's kv_dim keys and values (rounded to the cache's types).
  void write(int layer, int slot, const float* keys, const float* values);
  // Asks for the lines write(layer, slot, ...) will store to, ahead of it: a decode step writes
  // one row per head far from the last (the cache of each sequence is large), and the store
  // otherwise waits for each line to come from DRAM first.
  void prefetch_write(int layer, int slot) const;
  // One slot's kv_dim keys / values as floats.
  void read_k(int layer, int slot, float* out) const;
  void read_v(int layer, int slot, float* out) const;
  // Makes slots [0, count) those of src (same model and types; this cache at least that long).
  void copy_prefix(const KVCache& src, int count);

  void clear();
  void truncate(int n_keep);                 // drop slots from n_keep on (and segments no longer used)
  int new_segment(float scale = 1.0f);       // returns its id
  void set_segment_scale(int segment, float scale);
  int next_pos() const;                      // one past the last slot's position (0 when empty)
  size_t bytes() const { return k.size() + v.size(); }  // the keys' and values' storage

 private:
  size_t offset(int layer, int head, int slot) const {
    return (((size_t)layer * n_head_kv + head) * n_ctx + slot) * head_dim;
  }
};

KVCache make_kv_cache(const ModelConfig& c, int n_ctx, KVCacheTypes types = {});
// With the model's kv_types (what inference commands set from -ctk/-ctv).
KVCache make_kv_cache(const Model& m, int n_ctx);
// bytes() of such a cache, without making it.
size_t kv_cache_bytes(const ModelConfig& c, int n_ctx, KVCacheTypes types);

}  // namespace flops
