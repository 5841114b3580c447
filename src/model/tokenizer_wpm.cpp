// WordPiece ("bert" tokenizer model) as llama.cpp runs it, which is what the BERT-family GGUF
// files are made for: the vocabulary is in the converter's phantom-space form (word-initial
// pieces start with U+2581, continuation pieces lost their "##").
//
// Normalisation, character by character: NFD keeping only the first character of each
// decomposition (so precomposed letters lose their accents, "é" -> "e", while a separately
// written combining accent stays and makes its word [UNK]), then lowercase; NUL, U+FFFD and
// control/format characters are dropped. Words end at whitespace; every punctuation character,
// ASCII symbol and CJK ideograph is a word of its own. Each word, with "▁" in front, is cut
// greedily from the left into the longest pieces in the vocabulary; if some position cannot be
// matched, the whole word becomes [UNK].
#include <unicode/uchar.h>
#include <unicode/unorm2.h>

#include "core/error.h"
#include "model/tokenizer.h"
#include "model/tokenizer_internal.h"

namespace flops {

namespace {

uint32_t nfd_first(uint32_t cp) {
  if (cp < 0xC0) return cp;
  static const UNormalizer2* nfd = [] {
    UErrorCode st = U_ZERO_ERROR;
    const UNormalizer2* n = unorm2_getNFDInstance(&st);
    if (U_FAILURE(st)) fail("ICU NFD normaliser unavailable: {}", u_errorName(st));
    return n;
  }();
  UChar buf[32];
  UErrorCode st = U_ZERO_ERROR;
  int32_t len = unorm2_getDecomposition(nfd, (UChar32)cp, buf, 32, &st);
  if (U_FAILURE(st) || len <= 0) return cp;
  uint32_t c = buf[0];
  if (c >= 0xD800 && c < 0xDC00 && len > 1) c = 0x10000 + ((c - 0xD800) << 10) + (buf[1] - 0xDC00);
  return c;
}

bool is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

void Tokenizer::encode_wpm(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<uint32_t> cps, off;
  utf8_decode(text, cps, off);
  std::vector<std::string> words(1);
  for (uint32_t c : cps) {
    uint32_t d = nfd_first(c);
    if (ucat::is_space(d)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    ucat::Cat cat = ucat::category(d);
    if (d == 0 || d == 0xFFFD || cat == ucat::C) continue;
    std::string s;
    utf8_append(s, (uint32_t)u_tolower((UChar32)d));
    if (cat == ucat::P || (d < 0x7F && cat == ucat::S) || is_cjk(d)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  std::string w;
  for (const std::string& word : words) {
    if (word.empty()) continue;
    w = "\xE2\x96\x81" + word;
    const size_t n = w.size(), start = out.size();
    bool ok = true;
    for (size_t i = 0; i < n && ok;) {
      ok = false;
      for (size_t j = std::min(n, i + max_token_len_); j > i; --j) {
        auto it = any_id_.find(std::string_view(w).substr(i, j - i));
        if (it == any_id_.end()) continue;
        out.push_back(it->second);
        i = j;
        ok = true;
        break;
      }
    }
    if (!ok) {
      out.resize(start);
      if (unk_ >= 0) out.push_back(unk_);
    }
  }
}

}  // namespace flops
