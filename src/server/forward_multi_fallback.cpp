// TEMPORARY stand-in for arch's forward_multi (see the header): one forward per sequence.
#include "server/forward_multi_fallback.h"

namespace flops {

void forward_multi(const Model& m, std::vector<SeqInput>& seqs, std::vector<std::vector<float>>& logits) {
  logits.resize(seqs.size());
  for (size_t i = 0; i < seqs.size(); i++) {
    Batch b = make_batch(seqs[i].tokens, seqs[i].all_logits);
    forward(m, *seqs[i].kv, b, logits[i]);
  }
}

}  // namespace flops
