// Special tokens written in the text, cut out before the text is tokenized, exactly as llama.cpp
// cuts them: the special tokens (control, user-defined, unknown) are taken longest first, and each
// one splits every remaining piece of raw text at its occurrences, left to right. Without
// parse_special only user-defined tokens are cut (Hugging Face matches those always); control and
// unknown strings stay text. Tokens marked rstrip/lstrip (llama.cpp marks phi-3's special tokens
// rstrip) also swallow the ASCII whitespace after/before them.
//
// A trie finds, in one pass, which special tokens occur in the text at all, so the longest-first
// splitting only runs over those (a vocabulary may hold thousands of special tokens).
#include <algorithm>

#include "model/tokenizer.h"
#include "model/tokenizer_internal.h"

namespace flops {

struct Tokenizer::Special {
  struct Node {
    int32_t token = -1;
    std::vector<std::pair<uint8_t, int32_t>> kids;  // sorted by byte
  };
  std::vector<Node> nodes{Node{}};
  bool first[256] = {};
  std::vector<int32_t> ranked;               // special ids, longest text first (ties: lower id)
  std::vector<int32_t> rank_of;              // id -> index in ranked, -1 when not special
  std::vector<uint8_t> strip;                // per rank: 1 = lstrip, 2 = rstrip
  std::vector<bool> always;                  // per rank: cut even without parse_special (user-defined)

  void add(std::string_view s, int32_t id) {
    first[(uint8_t)s[0]] = true;
    int32_t at = 0;
    for (char ch : s) {
      uint8_t b = (uint8_t)ch;
      auto& kids = nodes[at].kids;
      auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, INT32_MIN));
      if (it != kids.end() && it->first == b) {
        at = it->second;
      } else {
        int32_t nn = (int32_t)nodes.size();
        kids.insert(it, {b, nn});
        nodes.emplace_back();
        at = nn;
      }
    }
    if (nodes[at].token < 0) nodes[at].token = id;  // duplicate texts: the first id wins
  }
};

Tokenizer::Tokenizer() { std::fill(std::begin(byte_id_), std::end(byte_id_), -1); }
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

// llama.cpp finds end-of-turn, end-of-message and fill-in-the-middle tokens by their text when the
// file does not name them, and makes every token it finds a control token (so it is no longer cut
// out of text unless specials are parsed). Where several texts of one kind occur, the lowest id
// is taken here (llama.cpp takes the first of a hash map).
void Tokenizer::detect_special_by_text(const Vocab& v) {
  static const std::vector<std::pair<const char*, std::vector<std::string>>> kinds{
      {"eot", {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
               "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"}},
      {"eom", {"<|eom_id|>"}},
      {"fim_pre", {"<|fim_prefix|>", "<fim-prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>"}},
      {"fim_suf", {"<|fim_suffix|>", "<fim-suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "hole\xEF\xBD\x9C>", "<SUF>"}},
      {"fim_mid", {"<|fim_middle|>", "<fim-middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>"}},
      {"fim_pad", {"<|fim_pad|>", "<fim-pad>", "<PAD>"}},
      {"fim_rep", {"<|repo_name|>", "<REPO>"}},
      {"fim_sep", {"<|file_sep|>"}},
  };
  static const std::vector<std::string> eog_texts{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                                  "<|endoftext|>", "<|eom_id|>", "<EOT>"};
  const int32_t n = (int32_t)tokens_.size();
  eot_ = v.eot;
  int32_t eom = v.eom;
  auto lowest_with = [&](const std::vector<std::string>& texts) {
    for (int32_t id = 0; id < n; ++id)
      for (const auto& t : texts)
        if (tokens_[id] == t) return id;
    return -1;
  };
  for (const auto& [kind, texts] : kinds) {
    if (std::find(v.ids_given.begin(), v.ids_given.end(), kind) != v.ids_given.end()) continue;
    int32_t id = lowest_with(texts);
    if (id < 0) continue;
    types_[id] = TokenType::Control;
    if (std::string_view(kind) == "eot") eot_ = id;
    if (std::string_view(kind) == "eom") eom = id;
  }
  eog_.clear();
  for (int32_t id = 0; id < n; ++id)
    for (const auto& t : eog_texts)
      if (tokens_[id] == t) {
        types_[id] = TokenType::Control;
        eog_.push_back(id);
      }
  for (int32_t id : {eos_, eot_, eom})
    if (id >= 0 && std::find(eog_.begin(), eog_.end(), id) == eog_.end()) eog_.push_back(id);
}

void Tokenizer::build_specials(bool phi3_strip) {
  special_ = std::make_unique<Special>();
  Special& sp = *special_;
  const int32_t n = (int32_t)tokens_.size();
  for (int32_t id = 0; id < n; ++id) {
    TokenType t = types_[id];
    if ((t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) && !tokens_[id].empty())
      sp.ranked.push_back(id);
  }
  std::stable_sort(sp.ranked.begin(), sp.ranked.end(),
                   [&](int32_t a, int32_t b) { return tokens_[a].size() > tokens_[b].size(); });
  sp.rank_of.assign(n, -1);
  sp.strip.assign(sp.ranked.size(), 0);
  sp.always.assign(sp.ranked.size(), false);
  for (size_t r = 0; r < sp.ranked.size(); ++r) {
    int32_t id = sp.ranked[r];
    sp.rank_of[id] = (int32_t)r;
    sp.always[r] = types_[id] == TokenType::UserDefined;
    const std::string& s = tokens_[id];
    // llama.cpp, for models named phi-3/phi3: special tokens and "</s>" rstrip, except <unk>, <s>, <|endoftext|>.
    if (phi3_strip && s != "<unk>" && s != "<s>" && s != "<|endoftext|>") sp.strip[r] = 2;
    sp.add(s, id);
  }
}

void Tokenizer::partition(std::string_view text, bool parse_special, std::vector<Fragment>& out) const {
  out.clear();
  if (text.empty()) return;
  out.push_back({-1, 0, text.size()});
  const Special& sp = *special_;
  if (sp.ranked.empty()) return;
  // Which special tokens occur anywhere (every match at every position, not only the longest).
  std::vector<int32_t> present;
  std::vector<bool> seen(sp.ranked.size(), false);
  for (size_t i = 0; i < text.size(); ++i) {
    if (!sp.first[(uint8_t)text[i]]) continue;
    int32_t at = 0;
    for (size_t k = i; k < text.size(); ++k) {
      const auto& kids = sp.nodes[at].kids;
      uint8_t b = (uint8_t)text[k];
      auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, INT32_MIN));
      if (it == kids.end() || it->first != b) break;
      at = it->second;
      int32_t id = sp.nodes[at].token;
      if (id < 0) continue;
      int32_t r = sp.rank_of[id];
      if (!seen[r] && (parse_special || sp.always[r])) {
        seen[r] = true;
        present.push_back(r);
      }
    }
  }
  if (present.empty()) return;
  std::sort(present.begin(), present.end());
  auto is_ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  std::vector<Fragment> next;
  for (int32_t r : present) {
    const int32_t id = sp.ranked[r];
    const std::string& tt = tokens_[id];
    next.clear();
    for (const Fragment& f : out) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t off = f.off, len = f.len;
      while (len > 0) {
        size_t m = text.substr(off, len).find(tt);
        if (m == std::string_view::npos) break;
        size_t left = m;
        if (sp.strip[r] & 1)
          while (left > 0 && is_ws(text[off + left - 1])) --left;
        if (left > 0) next.push_back({-1, off, left});
        next.push_back({id, 0, 0});
        size_t roff = off + m + tt.size(), rlen = len - m - tt.size();
        if (sp.strip[r] & 2)
          while (rlen > 0 && is_ws(text[roff])) ++roff, --rlen;
        off = roff;
        len = rlen;
      }
      if (len > 0) next.push_back({-1, off, len});
    }
    out.swap(next);
  }
}

}  // namespace flops
