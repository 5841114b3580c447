// SentencePiece BPE ("llama" tokenizer model): spaces become U+2581, then adjacent pieces are merged
// greedily, highest vocabulary score first (leftmost on ties), as long as the merged string is a token.
// A priority queue of candidate pairs keeps this O(n log n) over the whole text.
#include <algorithm>

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
  // No merge can cross a boundary between two characters that are never adjacent inside a token, so the
  // text is cut there and each segment merged on its own: same result, small cache-friendly heaps.
  std::vector<Sym> sym;
  std::vector<Cand> heap;
  auto try_pair = [&](int32_t a, int32_t b) {
    if (a < 0 || b < 0) return;
    uint32_t len = sym[a].len + sym[b].len;
    auto it = normal_id_.find(std::string_view(s).substr(sym[a].start, len));
    if (it == normal_id_.end()) return;
    float score = scores_.empty() ? 0.0f : scores_[it->second];
    heap.push_back({score, a, b, len});
    std::push_heap(heap.begin(), heap.end());
  };
  auto segment = [&](uint32_t begin, uint32_t end) {
    sym.clear();
    heap.clear();
    for (uint32_t i = begin; i < end;) {
      uint32_t l = (uint32_t)std::min<size_t>(utf8_len((uint8_t)s[i]), end - i);
      int32_t k = (int32_t)sym.size();
      sym.push_back({i, l, k - 1, -1});
      if (k > 0) sym[k - 1].next = k;
      i += l;
    }
    for (int32_t k = 0; k + 1 < (int32_t)sym.size(); ++k) try_pair(k, k + 1);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end());
      Cand c = heap.back();
      heap.pop_back();
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
  };
  uint32_t seg = 0, prev_cp = 0;
  for (uint32_t i = 0; i < s.size();) {
    uint32_t l = (uint32_t)std::min<size_t>(utf8_len((uint8_t)s[i]), s.size() - i);
    uint32_t cp = char_code(std::string_view(s).substr(i, l));
    if (i > seg && !adjacent_.count((uint64_t)prev_cp << 32 | cp)) {
      segment(seg, i);
      seg = i;
    }
    prev_cp = cp;
    i += l;
  }
  if (seg < s.size()) segment(seg, (uint32_t)s.size());
}

}  // namespace flops
