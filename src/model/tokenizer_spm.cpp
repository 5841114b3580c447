// SentencePiece BPE ("llama" tokenizer model): spaces become U+2581, then adjacent pieces are merged
// greedily, highest vocabulary score first (leftmost on ties), as long as the merged string is a token.
// A priority queue of candidate pairs keeps this O(n log n) over the whole text.
#include <queue>

#include "core/error.h"
#include "model/tokenizer.h"
#include "model/tokenizer_internal.h"

namespace flops {

namespace {
struct Sym {
  uint32_t start, len;
  int32_t prev, next;
};
struct Cand {
  float score;
  int32_t left, right;
  uint32_t len;  // length of the merged text when queued: a merge of either side makes the entry stale
  bool operator<(const Cand& o) const {  // max-heap: best score, then leftmost
    if (score != o.score) return score < o.score;
    return left > o.left;
  }
};
}  // namespace

void Tokenizer::encode_spm(std::string_view text, bool at_start, std::vector<int32_t>& out) const {
  static constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581
  std::string s;
  s.reserve(text.size() + text.size() / 4 + 3);
  if (at_start && add_space_prefix_) s += kSpace;
  for (char c : text) {
    if (c == ' ') s += kSpace;
    else s += c;
  }
  std::vector<Sym> sym;
  sym.reserve(s.size());
  for (uint32_t i = 0; i < s.size();) {
    uint32_t l = (uint32_t)std::min<size_t>(utf8_len((uint8_t)s[i]), s.size() - i);
    int32_t k = (int32_t)sym.size();
    sym.push_back({i, l, k - 1, -1});
    if (k > 0) sym[k - 1].next = k;
    i += l;
  }
  std::priority_queue<Cand> q;
  auto try_pair = [&](int32_t a, int32_t b) {
    if (a < 0 || b < 0) return;
    uint32_t len = sym[a].len + sym[b].len;
    auto it = normal_id_.find(std::string_view(s).substr(sym[a].start, len));
    if (it == normal_id_.end()) return;
    float score = scores_.empty() ? 0.0f : scores_[it->second];
    q.push({score, a, b, len});
  };
  for (int32_t k = 0; k + 1 < (int32_t)sym.size(); ++k) try_pair(k, k + 1);
  while (!q.empty()) {
    Cand c = q.top();
    q.pop();
    Sym& a = sym[c.left];
    if (a.len == 0 || a.next != c.right || a.len + sym[c.right].len != c.len) continue;
    Sym& b = sym[c.right];
    a.len += b.len;
    b.len = 0;
    a.next = b.next;
    if (b.next >= 0) sym[b.next].prev = c.left;
    try_pair(a.prev, c.left);
    try_pair(c.left, a.next);
  }
  for (int32_t k = sym.empty() ? -1 : 0; k >= 0; k = sym[k].next) {
    std::string_view piece = std::string_view(s).substr(sym[k].start, sym[k].len);
    auto it = normal_id_.find(piece);
    if (it != normal_id_.end()) {
      out.push_back(it->second);
      continue;
    }
    for (char ch : piece) {
      int32_t id = byte_id_[(uint8_t)ch];
      if (id < 0) id = unk_;
      if (id < 0) fail("text piece '{}' has no token, no byte fallback and no <unk> in the vocabulary", piece);
      out.push_back(id);
      if (id == unk_) break;  // one <unk> per unknown character
    }
  }
}

}  // namespace flops
