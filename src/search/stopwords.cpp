// English stop words: articles, pronouns, auxiliary and modal verbs, prepositions,
// conjunctions and a few adverbs that carry no topic. Written for this project; kept short on
// purpose (BM25's idf already discounts frequent words, the list only saves index space and
// keeps "what is the ..." out of query scores). Sorted, so lookup is a binary search.
#include <algorithm>

#include "search/analyze.h"

namespace flops::search {

namespace {

const std::vector<std::string_view> kWords = [] {
  std::vector<std::string_view> w = {
      "a",       "about",   "above",  "after",  "again",   "against", "all",     "am",     "an",
      "and",     "any",     "are",    "as",     "at",      "be",      "been",    "before", "being",
      "below",   "between", "both",   "but",    "by",      "can",     "could",   "did",    "do",
      "does",    "doing",   "down",   "during", "each",    "few",     "for",     "from",   "further",
      "had",     "has",     "have",   "having", "he",      "her",     "here",    "hers",   "herself",
      "him",     "himself", "his",    "how",    "i",       "if",      "in",      "into",   "is",
      "it",      "its",     "itself", "just",   "me",      "more",    "most",    "my",     "myself",
      "no",      "nor",     "not",    "now",    "of",      "off",     "on",      "once",   "only",
      "or",      "other",   "our",    "ours",   "ourselves", "out",   "over",    "own",    "same",
      "she",     "should",  "so",     "some",   "such",    "than",    "that",    "the",    "their",
      "theirs",  "them",    "themselves", "then", "there", "these",   "they",    "this",   "those",
      "through", "to",      "too",    "under",  "until",   "up",      "very",    "was",    "we",
      "were",    "what",    "when",   "where",  "which",   "while",   "who",     "whom",   "why",
      "will",    "with",    "would",  "you",    "your",    "yours",   "yourself", "yourselves",
      "also",    "may",     "might",  "must",   "shall",   "upon",    "via",     "whether", "yet"};
  std::sort(w.begin(), w.end());
  w.erase(std::unique(w.begin(), w.end()), w.end());
  return w;
}();

}  // namespace

const std::vector<std::string_view>& stopword_list() { return kWords; }

bool is_stopword(std::string_view w) { return std::binary_search(kWords.begin(), kWords.end(), w); }

}  // namespace flops::search
