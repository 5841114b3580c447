#pragma once
// The forward pass of every supported architecture (arch.h) over a batch of tokens, for one
// sequence (forward) or several at once, each with its own KV cache (forward_multi).
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

// One sequence of a multi-sequence pass: its new tokens continue what its own cache holds
// (positions kv->next_pos() + i, every earlier slot visible).
struct SeqInput {
  KVCache* kv = nullptr;
  std::vector<int32_t> tokens;
  bool all_logits = false;               // false: the logits of its last token only
  // Beyond the engine contract's three fields; the defaults leave them off.
  bool logits = true;                    // false: no output matrix for it (its logits entry stays empty)
  std::vector<float>* hidden = nullptr;  // receives the final hidden rows of the same rows (rows x n_embd)
  // LoRA adapters for this sequence instead of the model's m.lora (null: the model's). Requests
  // with different adapters share the base products; each adds its own low-rank products.
  const LoraSet* lora = nullptr;
};

// Appends each sequence's tokens to its own cache. Matrix products run once over all
// sequences' tokens together; attention of each sequence reads only its own cache.
// logits[i]: rows of sequence i (its last token, or all its tokens with all_logits), n_vocab each.
// The same logits as one forward() per sequence (to float rounding of the batched products).
// Each cache may appear once; on an error nothing is appended to any cache.
void forward_multi(const Model& m, std::vector<SeqInput>& seqs, std::vector<std::vector<float>>& logits);

// Convenience: a plain continuation of everything in the cache.
Batch make_batch(std::vector<int32_t> tokens, bool all_logits = true);

}  // namespace flops
