#include "train/bpe.h"

#include <algorithm>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "model/tokenizer_internal.h"

namespace flops::train {

const std::string& byte_token(uint8_t b) {
  // Printable bytes map to themselves; the others to U+0100 upward, in byte order.
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    uint32_t extra = 256;
    for (int c = 0; c < 256; c++) {
      bool direct = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
      std::string s;
      utf8_append(s, direct ? (uint32_t)c : extra++);
      t[c] = s;
    }
    return t;
  }();
  return table[b];
}

namespace {

inline uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

struct HeapItem {
  int64_t count;
  uint64_t key;
  bool operator<(const HeapItem& o) const {  // max-heap: larger count first, then smaller key
    if (count != o.count) return count < o.count;
    return key > o.key;
  }
};

}  // namespace

Tokenizer::Vocab train_bpe(const std::vector<std::string>& texts, const BpeOptions& o, BpeStats* stats) {
  if (o.vocab_size < 257 + 1) fail("tokenizer vocabulary size {} is too small (at least 258: 256 bytes, <|endoftext|>, one merge)", o.vocab_size);
  PreTokenizer pre = PreTokenizer::by_name(o.pre);

  // Count the distinct pre-tokens.
  std::unordered_map<std::string, int64_t> counts;
  BpeStats st;
  std::vector<std::string_view> pieces;
  for (auto& t : texts) {
    size_t bad = utf8_invalid_offset(t);
    if (bad != std::string::npos) fail("training text is not valid UTF-8 (byte offset {})", bad);
    pieces.clear();
    pre.split(t, pieces);
    for (auto p : pieces) counts[std::string(p)]++;
    st.pretokens += (int64_t)pieces.size();
  }
  // In a fixed order, so ids and ties do not depend on hash-map iteration.
  std::vector<std::pair<std::string, int64_t>> uniq(counts.begin(), counts.end());
  counts.clear();
  std::sort(uniq.begin(), uniq.end());
  st.unique_words = (int64_t)uniq.size();

  Tokenizer::Vocab v;
  v.model = "gpt2";
  v.pre = o.pre;
  std::unordered_map<std::string, int32_t> id_of;
  for (int b = 0; b < 256; b++) {
    v.tokens.push_back(byte_token((uint8_t)b));
    id_of[v.tokens.back()] = b;
  }
  const int target_tokens = o.vocab_size - 1;  // the last id is <|endoftext|>

  std::vector<std::vector<int32_t>> words(uniq.size());
  std::vector<int64_t> freq(uniq.size());
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words;
  for (size_t w = 0; w < uniq.size(); w++) {
    for (unsigned char c : uniq[w].first) words[w].push_back(c);
    freq[w] = uniq[w].second;
    for (size_t i = 0; i + 1 < words[w].size(); i++) {
      uint64_t k = pair_key(words[w][i], words[w][i + 1]);
      pair_count[k] += freq[w];
      pair_words[k].push_back((int32_t)w);
    }
  }
  std::priority_queue<HeapItem> heap;
  for (auto& [k, c] : pair_count) heap.push({c, k});

  std::vector<int> stamp(words.size(), -1);
  std::vector<uint64_t> touched;
  int merge_no = 0;
  while ((int)v.tokens.size() < target_tokens && !heap.empty()) {
    HeapItem top = heap.top();
    heap.pop();
    auto it = pair_count.find(top.key);
    if (it == pair_count.end() || it->second != top.count) continue;  // stale entry
    if (top.count < o.min_frequency) break;
    const int32_t a = (int32_t)(top.key >> 32), b = (int32_t)(top.key & 0xffffffffu);
    std::string merged = v.tokens[a] + v.tokens[b];
    int32_t z;
    if (auto f = id_of.find(merged); f != id_of.end()) {
      z = f->second;  // reached before by another split of the same string
    } else {
      z = (int32_t)v.tokens.size();
      v.tokens.push_back(merged);
      id_of[merged] = z;
    }
    v.merges.push_back(v.tokens[a] + " " + v.tokens[b]);
    touched.clear();
    std::vector<int32_t> affected = std::move(pair_words[top.key]);
    pair_words.erase(top.key);
    for (int32_t w : affected) {
      if (stamp[w] == merge_no) continue;
      stamp[w] = merge_no;
      auto& s = words[w];
      bool has = false;
      for (size_t i = 0; i + 1 < s.size() && !has; i++) has = s[i] == a && s[i + 1] == b;
      if (!has) continue;
      // Remove this word's pairs, merge left to right, add its new pairs.
      for (size_t i = 0; i + 1 < s.size(); i++) {
        uint64_t k = pair_key(s[i], s[i + 1]);
        pair_count[k] -= freq[w];
        touched.push_back(k);
      }
      std::vector<int32_t> out;
      out.reserve(s.size());
      for (size_t i = 0; i < s.size(); i++) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          out.push_back(z);
          i++;
        } else {
          out.push_back(s[i]);
        }
      }
      s.swap(out);
      for (size_t i = 0; i + 1 < s.size(); i++) {
        uint64_t k = pair_key(s[i], s[i + 1]);
        pair_count[k] += freq[w];
        pair_words[k].push_back(w);
        touched.push_back(k);
      }
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t k : touched) {
      auto c = pair_count.find(k);
      if (c->second <= 0)
        pair_count.erase(c);
      else
        heap.push({c->second, k});
    }
    merge_no++;
  }
  st.merges = merge_no;
  v.tokens.push_back("<|endoftext|>");
  v.types.assign(v.tokens.size(), TokenType::Normal);
  v.types.back() = TokenType::Control;
  v.bos = v.eos = (int32_t)v.tokens.size() - 1;
  v.add_bos = false;
  v.add_bos_set = true;
  if (stats) *stats = st;
  return v;
}

}  // namespace flops::train
