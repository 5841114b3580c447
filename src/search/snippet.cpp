#include "search/snippet.h"

#include <algorithm>

namespace flops::search {

Snippet make_snippet(std::string_view text, const Analyzer& a, const std::set<std::string>& terms, int max_words) {
  Snippet s;
  std::vector<Word> words = split_words(text);
  if (words.empty()) {
    s.text = std::string(text.substr(0, 200));
    return s;
  }
  // Which words match (by their analysed term).
  std::vector<int> match(words.size(), -1);
  std::vector<std::string> matched_terms;
  {
    std::vector<Term> ts = a.analyze(text);
    size_t w = 0;
    for (const Term& t : ts) {
      while (w < words.size() && words[w].start < t.start) w++;
      if (w < words.size() && words[w].start == t.start && terms.count(t.text)) {
        auto it = std::find(matched_terms.begin(), matched_terms.end(), t.text);
        match[w] = (int)(it - matched_terms.begin());
        if (it == matched_terms.end()) matched_terms.push_back(t.text);
      }
    }
  }
  size_t n = words.size(), win = (size_t)std::max(1, max_words);
  size_t best = 0;
  if (n > win) {
    int best_distinct = -1, best_total = -1;
    for (size_t start = 0; start + win <= n; start++) {
      std::vector<char> seen(matched_terms.size(), 0);
      int distinct = 0, total = 0;
      for (size_t i = start; i < start + win; i++)
        if (match[i] >= 0) {
          total++;
          if (!seen[match[i]]) seen[match[i]] = 1, distinct++;
        }
      if (distinct > best_distinct || (distinct == best_distinct && total > best_total))
        best = start, best_distinct = distinct, best_total = total;
    }
    // Start a little before the first match so the snippet reads into it.
    size_t first = best;
    while (first < best + win && match[first] < 0) first++;
    if (first < best + win && first > best + 3) best = std::min(first - 3, n - win);
  }
  size_t last = std::min(n, best + win) - 1;
  s.cut_start = best > 0;
  s.cut_end = last + 1 < n;
  // Copy the window, collapsing whitespace, remembering where each marked word lands.
  uint32_t from = words[best].start, to = words[last].end;
  size_t w = best;
  bool space = false;
  for (uint32_t i = from; i < to; i++) {
    char c = text[i];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = true;
      continue;
    }
    if (space) s.text += ' ';
    space = false;
    while (w <= last && words[w].end <= i) w++;
    if (w <= last && i == words[w].start && match[w] >= 0)
      s.marks.push_back({(uint32_t)s.text.size(), (uint32_t)(s.text.size() + (words[w].end - words[w].start))});
    s.text += c;
  }
  return s;
}

std::string render_snippet(const Snippet& s, std::string_view open, std::string_view close) {
  std::string out = s.cut_start ? "..." : "";
  size_t at = 0;
  for (auto [a, b] : s.marks) {
    out.append(s.text, at, a - at);
    out += open;
    out.append(s.text, a, b - a);
    out += close;
    at = b;
  }
  out.append(s.text, at, std::string::npos);
  if (s.cut_end) out += "...";
  return out;
}

}  // namespace flops::search
