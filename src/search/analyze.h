#pragma once
// Text -> index terms, the same way for documents and queries:
//   words  = maximal runs of letters and digits (ASCII letters and digits, every non-ASCII code
//            point that is not punctuation or a symbol, and an apostrophe between two letters);
//   lower  = ASCII lowercase (the Snowball English stemmer expects it; other scripts pass through);
//   stop   = common English function words dropped (stopwords.cpp, checked before stemming);
//   stem   = Snowball (libstemmer) in the configured language, e.g. "flows" -> "flow".
// Each term keeps the byte span of its word in the source text, for snippets and highlighting.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct sb_stemmer;

namespace flops::search {

struct AnalyzerConfig {
  std::string stemmer = "english";  // a libstemmer algorithm name, or "none"
  bool stopwords = true;
};

struct Term {
  std::string text;     // the index term
  uint32_t start = 0;   // byte span of the word in the analysed text
  uint32_t end = 0;
};

struct Word {
  uint32_t start = 0, end = 0;
};

// Word spans of the text (no lowercasing, stop words kept).
std::vector<Word> split_words(std::string_view text);
bool is_stopword(std::string_view lower_word);
// The stop word list itself (for the README and tests).
const std::vector<std::string_view>& stopword_list();

class Analyzer {
 public:
  // Fails naming the algorithm when libstemmer does not have it.
  explicit Analyzer(AnalyzerConfig c = {});
  ~Analyzer();
  Analyzer(Analyzer&&) noexcept;
  Analyzer& operator=(Analyzer&&) noexcept;

  // Terms in text order. Not thread-safe (the stemmer keeps state): one Analyzer per thread.
  std::vector<Term> analyze(std::string_view text) const;
  // The words the analyzer dropped as stop words (for "the query is only stop words").
  std::vector<std::string> stopwords_in(std::string_view text) const;
  std::string stem(std::string_view lower_word) const;
  const AnalyzerConfig& config() const { return cfg_; }

 private:
  AnalyzerConfig cfg_;
  sb_stemmer* stemmer_ = nullptr;
};

}  // namespace flops::search
