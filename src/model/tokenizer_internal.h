#pragma once
// Pieces shared by the tokenizer sources: Unicode categories, UTF-8, a small regex engine and the
// pre-tokenizers built from it. Not part of the public model API.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/utf8.h"

namespace flops {

namespace ucat {
// Major general categories (must match scripts/gen_tokenizer_unicode.cpp).
enum Cat : uint8_t { C = 0, L = 1, M = 2, N = 3, P = 4, S = 5, Z = 6 };
Cat category(uint32_t cp);
// The Unicode White_Space property (what \s means in the Hugging Face regexes).
bool is_space(uint32_t cp);
}  // namespace ucat

// Decodes valid UTF-8; offsets gets the byte offset of every code point plus a final s.size().
void utf8_decode(std::string_view s, std::vector<uint32_t>& cps, std::vector<uint32_t>& offsets);
void utf8_append(std::string& out, uint32_t cp);
inline size_t utf8_len(uint8_t lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }
// A key for one character's bytes (its code point when well formed); c holds 1 to 4 bytes.
inline uint32_t char_code(std::string_view c) {
  uint32_t v = 0;
  for (char b : c) v = v << 8 | (uint8_t)b;
  return v;
}

// Backtracking matcher over code points for the subset of regex syntax the pre-tokenizers use:
// alternation, (?:..), (?i:..) (ASCII case folding), (?!..), (?=..), classes with ranges, negation,
// \p{L} \p{N} \p{P} \p{S} \p{M} \p{Z} \p{C}, \s \S \d \r \n \t, ".", "$" and the greedy quantifiers
// ? * + {m} {m,} {m,n}. Alternatives are tried in order (leftmost-first, like Oniguruma/PCRE).
class Regex {
 public:
  explicit Regex(std::string_view pattern);  // flops::Error on syntax it does not support
  // Appends the [begin, end) code point spans of the successive non-empty matches inside [b, e);
  // "$" and look-aheads see e as the end of the text.
  void find_all(const uint32_t* cps, size_t b, size_t e, std::vector<std::pair<size_t, size_t>>& out) const;
  // Length of the match starting exactly at pos, or -1.
  long match_at(const uint32_t* cps, size_t pos, size_t end) const;

  struct CharClass {
    bool negated = false;
    uint8_t cats = 0;  // bit (1 << ucat::Cat)
    bool space = false, nonspace = false;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    bool test(uint32_t c) const;
  };
  struct Node {
    enum Kind : uint8_t { Class, Group, NotAhead, Ahead, End } kind = Class;
    int index = 0;  // into classes_ or groups_
    int min = 1, max = 1;  // max < 0: unbounded
  };
  using Seq = std::vector<Node>;
  struct Group {
    std::vector<Seq> alts;
  };

 private:
  friend struct RegexParser;
  friend struct RegexMatcher;
  std::vector<CharClass> classes_;
  std::vector<Group> groups_;  // groups_[0] is the whole pattern
  std::string pattern_;
};

// A sequence of regex splits; each one cuts every piece the previous one produced into its matches
// and the gaps between them (Hugging Face "Split" with behaviour "Isolated").
struct PreTokenizer {
  std::string name;
  std::vector<Regex> steps;
  bool ignore_merges = false;

  // Known names: llama.cpp's, each mapped to the split its type applies (see by_name); names llama.cpp
  // knows without an implemented split rule, and unknown names -> flops::Error naming them.
  static PreTokenizer by_name(std::string_view name);
  // Pieces of valid UTF-8 text, as byte spans of it, in order and covering it exactly.
  void split(std::string_view text, std::vector<std::string_view>& out) const;
};

// GPT-2's reversible byte <-> printable code point mapping used by byte-level BPE vocabularies.
uint32_t byte_to_unicode(uint8_t b);
int unicode_to_byte(uint32_t cp);  // -1 when cp is not the image of a byte

}  // namespace flops
