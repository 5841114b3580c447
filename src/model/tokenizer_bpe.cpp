// Byte-level BPE ("gpt2" tokenizer model): each pre-token starts as one symbol per byte and the pair
// with the best (lowest) merge rank is merged first, leftmost on ties, until no listed merge applies.
#include <queue>

#include "core/error.h"
#include "model/tokenizer.h"
#include "model/tokenizer_internal.h"

namespace flops {

namespace {
struct Cand {
  int32_t rank, left, right;
  int32_t left_id, right_id;  // ids when queued: a merge of either side makes the entry stale
  bool operator<(const Cand& o) const {  // min-heap through std::priority_queue: best rank, then leftmost
    if (rank != o.rank) return rank > o.rank;
    return left > o.left;
  }
};
}  // namespace

void Tokenizer::encode_bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    std::string mapped;
    for (char c : word) utf8_append(mapped, byte_to_unicode((uint8_t)c));
    auto it = normal_id_.find(mapped);
    if (it != normal_id_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const int32_t n = (int32_t)word.size();
  std::vector<int32_t> id(n), prev(n), next(n);
  for (int32_t i = 0; i < n; ++i) {
    int32_t t = byte_id_[(uint8_t)word[i]];
    if (t < 0) t = unk_;
    if (t < 0) fail("byte 0x{:02X} has no byte-level token in the vocabulary and there is no <unk>", (uint8_t)word[i]);
    id[i] = t;
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  if (n == 1) {
    out.push_back(id[0]);
    return;
  }
  std::priority_queue<Cand> q;
  auto try_pair = [&](int32_t a, int32_t b) {
    if (a < 0 || b < 0) return;
    auto it = merge_of_.find((uint64_t)(uint32_t)id[a] << 32 | (uint32_t)id[b]);
    if (it == merge_of_.end()) return;
    q.push({it->second.rank, a, b, id[a], id[b]});
  };
  for (int32_t i = 0; i + 1 < n; ++i) try_pair(i, i + 1);
  while (!q.empty()) {
    Cand c = q.top();
    q.pop();
    if (id[c.left] < 0 || next[c.left] != c.right || id[c.left] != c.left_id || id[c.right] != c.right_id) continue;
    id[c.left] = merge_of_.find((uint64_t)(uint32_t)c.left_id << 32 | (uint32_t)c.right_id)->second.result;
    id[c.right] = -1;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    try_pair(prev[c.left], c.left);
    try_pair(c.left, next[c.left]);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(id[i]);
}

}  // namespace flops
