#include "search/analyze.h"

#include <libstemmer.h>

#include "core/error.h"

namespace flops::search {

namespace {

// Decodes one UTF-8 code point at s[i] (the text is already validated); returns its length.
int decode_cp(std::string_view s, size_t i, uint32_t& cp) {
  unsigned char c = (unsigned char)s[i];
  int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  if (i + n > s.size()) n = 1;
  cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
  for (int k = 1; k < n; k++) cp = cp << 6 | ((unsigned char)s[i + k] & 0x3F);
  return n;
}

bool is_word_cp(uint32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  // Latin-1 punctuation and symbols, general punctuation, symbols, arrows, box drawing,
  // CJK punctuation, full-width ASCII punctuation, specials: not word characters.
  if (cp < 0xC0) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
  if (cp == 0xD7 || cp == 0xF7) return false;
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;
  if (cp >= 0x3000 && cp <= 0x303F) return false;
  if (cp >= 0xFF00 && cp <= 0xFF0F) return false;
  if (cp >= 0xFFF0) return false;
  if (cp >= 0x1F000 && cp <= 0x1FAFF) return false;  // emoji and pictographs
  return true;
}

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string ascii_lower(std::string_view w) {
  std::string s(w);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
  return s;
}

}  // namespace

std::vector<Word> split_words(std::string_view s) {
  std::vector<Word> out;
  size_t i = 0;
  int64_t start = -1;
  while (i < s.size()) {
    uint32_t cp;
    int n = decode_cp(s, i, cp);
    bool word = is_word_cp(cp);
    // "don't", "o'clock": an apostrophe between two ASCII letters stays inside the word.
    if (!word && cp == '\'' && start >= 0 && i > 0 && is_ascii_letter(s[i - 1]) && i + 1 < s.size() &&
        is_ascii_letter(s[i + 1]))
      word = true;
    if (word && start < 0) start = (int64_t)i;
    if (!word && start >= 0) {
      out.push_back({(uint32_t)start, (uint32_t)i});
      start = -1;
    }
    i += n;
  }
  if (start >= 0) out.push_back({(uint32_t)start, (uint32_t)s.size()});
  return out;
}

Analyzer::Analyzer(AnalyzerConfig c) : cfg_(std::move(c)) {
  if (cfg_.stemmer != "none") {
    stemmer_ = sb_stemmer_new(cfg_.stemmer.c_str(), "UTF_8");
    if (!stemmer_) fail("unknown stemmer '{}' (libstemmer has e.g. english, porter, french, german; or none)", cfg_.stemmer);
  }
}

Analyzer::~Analyzer() {
  if (stemmer_) sb_stemmer_delete(stemmer_);
}

Analyzer::Analyzer(Analyzer&& o) noexcept : cfg_(std::move(o.cfg_)), stemmer_(o.stemmer_) { o.stemmer_ = nullptr; }

Analyzer& Analyzer::operator=(Analyzer&& o) noexcept {
  if (this != &o) {
    if (stemmer_) sb_stemmer_delete(stemmer_);
    cfg_ = std::move(o.cfg_);
    stemmer_ = o.stemmer_;
    o.stemmer_ = nullptr;
  }
  return *this;
}

std::string Analyzer::stem(std::string_view w) const {
  if (!stemmer_) return std::string(w);
  const sb_symbol* r = sb_stemmer_stem(stemmer_, reinterpret_cast<const sb_symbol*>(w.data()), (int)w.size());
  if (!r) fail("the stemmer ran out of memory");
  return std::string(reinterpret_cast<const char*>(r), (size_t)sb_stemmer_length(stemmer_));
}

std::vector<Term> Analyzer::analyze(std::string_view text) const {
  std::vector<Term> out;
  for (const Word& w : split_words(text)) {
    std::string lower = ascii_lower(text.substr(w.start, w.end - w.start));
    if (cfg_.stopwords && is_stopword(lower)) continue;
    out.push_back({stem(lower), w.start, w.end});
  }
  return out;
}

std::vector<std::string> Analyzer::stopwords_in(std::string_view text) const {
  std::vector<std::string> out;
  if (!cfg_.stopwords) return out;
  for (const Word& w : split_words(text)) {
    std::string lower = ascii_lower(text.substr(w.start, w.end - w.start));
    if (is_stopword(lower)) out.push_back(lower);
  }
  return out;
}

}  // namespace flops::search
