#pragma once
// The passage shown for a hit: the window of at most `max_words` words of the chunk holding
// the most distinct query terms (then the most occurrences, then the earliest), with the words
// whose index term is a query term marked.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "search/analyze.h"

namespace flops::search {

struct Snippet {
  std::string text;                                 // whitespace runs collapsed to one space
  std::vector<std::pair<uint32_t, uint32_t>> marks;  // byte spans in `text`
  bool cut_start = false, cut_end = false;
};

Snippet make_snippet(std::string_view text, const Analyzer& a, const std::set<std::string>& terms, int max_words = 40);
// The snippet with each mark wrapped in open/close, and "..." where it was cut.
std::string render_snippet(const Snippet& s, std::string_view open, std::string_view close);

}  // namespace flops::search
