#pragma once
// The forward pass of every supported architecture over a batch of tokens.
#include <cstdint>
#include <vector>

#include "model/kv_cache.h"
#include "model/model.h"

namespace flops {

struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> pos;   // position ids; empty means kv.next_pos() + i
  int segment = 0;            // segment of the new cache slots
  // Earlier cache slots this batch attends to: all of them, or only those whose
  // segment is listed. Within the batch, attention is causal.
  bool see_all = true;
  std::vector<int> see_segments;
  bool all_logits = true;     // false: logits of the last token only
  bool logits = true;         // false: skip the output matrix (when only `hidden` is wanted)
  // For embeddings (retrieval, clustering): when set, receives the final normalised hidden
  // state of the same rows as the logits (rows x n_embd), the input of the output matrix.
  std::vector<float>* hidden = nullptr;
};

// Runs the model on `b`, appends its keys and values to `kv`, and fills `logits`
// with (all_logits ? T : 1) rows of n_vocab floats (none when b.logits is false).
void forward(const Model& m, KVCache& kv, const Batch& b, std::vector<float>& logits);

// Convenience: a plain continuation of everything in the cache.
Batch make_batch(std::vector<int32_t> tokens, bool all_logits = true);

}  // namespace flops
