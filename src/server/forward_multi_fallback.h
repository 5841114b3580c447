#pragma once
// TEMPORARY: the multi-sequence forward pass agreed in INTERFACES.md (owner: arch). Until the
// arch branch's `forward_multi` reaches main, the scheduler calls this stand-in, which runs one
// single-sequence `forward` per sequence (same results, none of the batching speed-up).
// Delete this file and its .cpp once "API: forward_multi" is merged, and include model/forward.h.
#include <cstdint>
#include <vector>

#include "model/forward.h"

namespace flops {

struct SeqInput {
  KVCache* kv;
  std::vector<int32_t> tokens;
  bool all_logits = false;
};

void forward_multi(const Model& m, std::vector<SeqInput>& seqs, std::vector<std::vector<float>>& logits);

}  // namespace flops
