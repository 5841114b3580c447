#include "search/chunk.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace flops::search {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

Span trim(std::string_view text, Span s) {
  while (s.start < s.end && is_space(text[s.start])) s.start++;
  while (s.end > s.start && is_space(text[s.end - 1])) s.end--;
  return s;
}

bool is_abbreviation(std::string_view w) {
  static const std::string_view abbr[] = {"e.g", "i.e", "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "fig",
                                          "figs", "eq", "eqs", "no", "vol", "pp", "cf", "al", "approx", "jr", "sr",
                                          "inc", "ltd", "co", "ref", "refs", "sec", "ch", "viz"};
  if (w.size() == 1 && std::isalpha((unsigned char)w[0])) return true;  // an initial: "J. Smith"
  std::string l(w);
  for (char& c : l) c = (char)std::tolower((unsigned char)c);
  return std::find(std::begin(abbr), std::end(abbr), l) != std::end(abbr);
}

std::vector<Span> split_words_spans(std::string_view text, Span within) {
  std::vector<Span> out;
  uint32_t i = within.start;
  while (i < within.end) {
    while (i < within.end && is_space(text[i])) i++;
    uint32_t s = i;
    while (i < within.end && !is_space(text[i])) i++;
    if (i > s) out.push_back({s, i, 0});
  }
  return out;
}

// A single "word" longer than a chunk (a URL, a base64 blob): cut it into byte pieces at
// UTF-8 character boundaries, sized from its token count.
void split_bytes(std::string_view text, Span w, int n_tokens, int max_tokens, std::vector<Span>& out) {
  uint32_t len = w.end - w.start;
  uint32_t piece = std::max<uint32_t>(1, (uint32_t)((uint64_t)len * max_tokens / std::max(1, n_tokens) * 9 / 10));
  uint32_t i = w.start;
  while (i < w.end) {
    uint32_t e = std::min(w.end, i + piece);
    while (e < w.end && ((unsigned char)text[e] & 0xC0) == 0x80) e++;
    out.push_back({i, e, 0});
    i = e;
  }
}

struct Unit {
  Span span;
  bool para_start = false;
};

}  // namespace

Boundary parse_boundary(const std::string& n) {
  if (n == "paragraph") return Boundary::Paragraph;
  if (n == "sentence") return Boundary::Sentence;
  if (n == "word" || n == "token") return Boundary::Word;
  fail("unknown --chunk-boundary '{}' (paragraph, sentence, word)", n);
}

std::string boundary_name(Boundary b) {
  return b == Boundary::Paragraph ? "paragraph" : b == Boundary::Sentence ? "sentence" : "word";
}

void check_chunk_config(const ChunkConfig& c) {
  if (c.max_tokens < 8) fail("--chunk-tokens must be at least 8, got {}", c.max_tokens);
  if (c.overlap < 0) fail("--chunk-overlap must be >= 0, got {}", c.overlap);
  if (c.overlap * 2 > c.max_tokens)
    fail("--chunk-overlap {} is more than half of --chunk-tokens {}", c.overlap, c.max_tokens);
}

int count_words(std::string_view s) {
  int n = 0;
  bool in = false;
  for (char c : s) {
    bool sp = is_space(c);
    if (!sp && !in) n++;
    in = !sp;
  }
  return n;
}

std::vector<Span> split_paragraphs(std::string_view text) {
  std::vector<Span> out;
  uint32_t i = 0, start = 0;
  const uint32_t n = (uint32_t)text.size();
  while (i < n) {
    if (text[i] == '\n') {
      // A blank line: this newline, optional spaces, another newline.
      uint32_t j = i + 1;
      while (j < n && text[j] != '\n' && is_space(text[j])) j++;
      if (j < n && text[j] == '\n') {
        Span p = trim(text, {start, i, 0});
        if (p.end > p.start) out.push_back(p);
        while (j < n && is_space(text[j])) j++;
        start = i = j;
        continue;
      }
    }
    i++;
  }
  Span p = trim(text, {start, n, 0});
  if (p.end > p.start) out.push_back(p);
  return out;
}

std::vector<Span> split_sentences(std::string_view text, Span within) {
  std::vector<Span> out;
  uint32_t start = within.start;
  for (uint32_t i = within.start; i < within.end; i++) {
    char c = text[i];
    if (c != '.' && c != '!' && c != '?') continue;
    uint32_t e = i + 1;
    while (e < within.end && (text[e] == '.' || text[e] == '!' || text[e] == '?' || text[e] == '"' || text[e] == '\'' ||
                              text[e] == ')' || text[e] == ']'))
      e++;
    if (e < within.end && !is_space(text[e])) continue;
    if (c == '.') {
      uint32_t w = i;
      while (w > start && (std::isalnum((unsigned char)text[w - 1]) || text[w - 1] == '.')) w--;
      if (is_abbreviation(text.substr(w, i - w))) continue;
    }
    Span s = trim(text, {start, e, 0});
    if (s.end > s.start) out.push_back(s);
    start = e;
    i = e - 1;
  }
  Span s = trim(text, {start, within.end, 0});
  if (s.end > s.start) out.push_back(s);
  return out;
}

std::vector<Span> chunk_text(std::string_view text, const ChunkConfig& c, const TokenCounter& count) {
  std::vector<Unit> units;
  std::vector<int> unit_tokens;
  // Adds a span as a unit, or cuts it at the next finer boundary when it does not fit a chunk.
  std::function<void(Span, Boundary, bool)> add = [&](Span s, Boundary level, bool para_start) {
    int n = count(text.substr(s.start, s.end - s.start));
    if (n <= c.max_tokens) {
      units.push_back({s, para_start});
      unit_tokens.push_back(n);
      return;
    }
    std::vector<Span> parts;
    if (level == Boundary::Paragraph) parts = split_sentences(text, s);
    if (level == Boundary::Sentence || parts.size() <= 1) {
      parts = split_words_spans(text, s);
      level = Boundary::Sentence;
    }
    if (parts.size() <= 1) {
      split_bytes(text, s, n, c.max_tokens, parts);
      for (size_t k = 0; k < parts.size(); k++) {
        units.push_back({parts[k], para_start && k == 0});
        unit_tokens.push_back(std::max(1, count(text.substr(parts[k].start, parts[k].end - parts[k].start))));
      }
      return;
    }
    for (size_t k = 0; k < parts.size(); k++) add(parts[k], Boundary::Word, para_start && k == 0);
  };
  for (const Span& p : split_paragraphs(text)) {
    if (c.boundary == Boundary::Paragraph) {
      add(p, Boundary::Paragraph, true);
    } else if (c.boundary == Boundary::Sentence) {
      auto sents = split_sentences(text, p);
      for (size_t k = 0; k < sents.size(); k++) add(sents[k], Boundary::Sentence, k == 0);
    } else {
      auto words = split_words_spans(text, p);
      for (size_t k = 0; k < words.size(); k++) add(words[k], Boundary::Word, k == 0);
    }
  }

  std::vector<Span> chunks;
  size_t i = 0, prev_start = 0;
  while (i < units.size()) {
    size_t start = i;
    int tokens = 0;
    if (!chunks.empty() && c.overlap > 0) {
      size_t k = i;
      int t = 0;
      // Overlap carries context within running text, never back across a paragraph start.
      while (k - 1 > prev_start && !units[k].para_start && t + unit_tokens[k - 1] <= c.overlap) t += unit_tokens[--k];
      start = k, tokens = t;
    }
    // The overlap gives way when the next unit would not fit with it.
    while (start < i && tokens + unit_tokens[i] > c.max_tokens) tokens -= unit_tokens[start++];
    size_t end = i;
    while (end < units.size()) {
      if (end > i && tokens + unit_tokens[end] > c.max_tokens) break;
      if (end > i && c.boundary == Boundary::Sentence && units[end].para_start && tokens * 2 >= c.max_tokens) break;
      tokens += unit_tokens[end++];
    }
    Span s{units[start].span.start, units[end - 1].span.end, 0};
    s.tokens = count(text.substr(s.start, s.end - s.start));
    chunks.push_back(s);
    prev_start = start;
    i = end;
  }
  return chunks;
}

}  // namespace flops::search
