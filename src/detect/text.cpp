#include "detect/text.h"

#include <algorithm>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/utf8.h"

#if __has_include(<unicode/brkiter.h>)
#include <unicode/brkiter.h>
#include <unicode/utext.h>
#define FLOPS_HAVE_ICU 1
#endif

namespace flops::detect {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

void validate_text(std::string_view s) {
  if (s.empty()) fail("the input text is empty");
  if (s.find('\0') != std::string_view::npos) fail("the input contains NUL bytes: binary data is not text");
  if (size_t bad = utf8_invalid_offset(s); bad != std::string_view::npos)
    fail("input text is not valid UTF-8 (byte offset {})", bad);
  bool any_visible = false;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = (unsigned char)s[i];
    // Control characters other than whitespace are a sign of binary data.
    if (c < 0x20 && !is_space((char)c) && c != 0x1b)
      fail("the input contains control byte 0x{:02x} at offset {}: binary data is not text", c, i);
    if (!is_space((char)c)) any_visible = true;
  }
  if (!any_visible) fail("the input text is only whitespace");
}

Span trim(std::string_view text, Span s) {
  while (s.begin < s.end && is_space(text[s.begin])) s.begin++;
  while (s.end > s.begin && is_space(text[s.end - 1])) s.end--;
  return s;
}

namespace {

// A copy where a lone line break (not part of a blank line) is a space: same length,
// so offsets into it are offsets into the original.
std::string unwrap_lines(std::string_view text) {
  std::string t(text);
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i] != '\n') continue;
    size_t a = i, b = i + 1;
    while (a > 0 && (t[a - 1] == ' ' || t[a - 1] == '\t' || t[a - 1] == '\r')) a--;
    while (b < t.size() && (t[b] == ' ' || t[b] == '\t' || t[b] == '\r')) b++;
    bool blank_before = a > 0 && t[a - 1] == '\n';
    bool blank_after = b < t.size() && t[b] == '\n';
    if (!blank_before && !blank_after && a > 0 && b < t.size()) {
      t[i] = ' ';
      if (i > 0 && t[i - 1] == '\r') t[i - 1] = ' ';
    }
  }
  return t;
}

#ifndef FLOPS_HAVE_ICU
// Fallback when ICU is absent: break after . ! ? (and closing quotes) followed by whitespace.
std::vector<size_t> simple_breaks(const std::string& t) {
  std::vector<size_t> b;
  for (size_t i = 0; i < t.size(); i++) {
    char c = t[i];
    if (c == '.' || c == '!' || c == '?' || (c == '\n' && i + 1 < t.size() && t[i + 1] == '\n')) {
      size_t j = i + 1;
      while (j < t.size() && (t[j] == '"' || t[j] == '\'' || t[j] == ')')) j++;
      if (j < t.size() && !is_space(t[j])) continue;
      while (j < t.size() && is_space(t[j])) j++;
      if (j < t.size()) b.push_back(j);
      i = j - 1;
    }
  }
  b.push_back(t.size());
  return b;
}
#endif

}  // namespace

std::vector<Span> split_sentences(std::string_view text) {
  std::vector<Span> out;
  if (text.empty()) return out;
  std::string t = unwrap_lines(text);
  std::vector<size_t> ends;
#ifdef FLOPS_HAVE_ICU
  if (t.size() > (size_t)INT32_MAX) fail("text too long for sentence splitting ({} bytes)", t.size());
  UErrorCode st = U_ZERO_ERROR;
  UText* ut = utext_openUTF8(nullptr, t.data(), (int64_t)t.size(), &st);
  if (U_FAILURE(st)) fail("ICU cannot open the text: {}", u_errorName(st));
  std::unique_ptr<icu::BreakIterator> bi(icu::BreakIterator::createSentenceInstance(icu::Locale("en@ss=standard"), st));
  if (U_FAILURE(st) || !bi) {
    utext_close(ut);
    fail("ICU sentence iterator unavailable: {}", u_errorName(st));
  }
  bi->setText(ut, st);
  if (U_FAILURE(st)) {
    utext_close(ut);
    fail("ICU cannot iterate the text: {}", u_errorName(st));
  }
  bi->first();
  for (int32_t e = bi->next(); e != icu::BreakIterator::DONE; e = bi->next()) ends.push_back((size_t)e);
  bi.reset();
  utext_close(ut);
  if (ends.empty() || ends.back() != t.size()) ends.push_back(t.size());
#else
  ends = simple_breaks(t);
#endif
  size_t b = 0;
  for (size_t e : ends) {
    if (e <= b) continue;
    Span s{b, e};
    Span tr = trim(text, s);
    if (tr.begin == tr.end && !out.empty()) {
      out.back().end = e;  // whitespace only: belongs to the previous sentence
    } else {
      out.push_back(s);
    }
    b = e;
  }
  return out;
}

std::vector<Span> token_spans(const Tokenizer& tok, std::string_view text, const std::vector<int32_t>& tokens) {
  std::vector<size_t> len(tokens.size());
  size_t total = 0;
  bool first_visible = true, shift = false;
  for (size_t i = 0; i < tokens.size(); i++) {
    std::string piece = tok.token_to_piece(tokens[i]);
    len[i] = piece.size();
    if (first_visible && !piece.empty()) {
      // SPM puts a space in front of the text that is not in the text itself.
      shift = tok.kind() == Tokenizer::Kind::SPM && tok.add_space_prefix() && piece[0] == ' ' &&
              (text.empty() || text[0] != ' ');
      first_visible = false;
    }
    total += piece.size();
  }
  std::vector<Span> out(tokens.size());
  size_t pos = 0;
  for (size_t i = 0; i < tokens.size(); i++) {
    size_t b = pos, e = pos + len[i];
    if (shift) {
      b = b > 0 ? b - 1 : 0;
      e = e > 0 ? e - 1 : 0;
    }
    out[i] = {std::min(b, text.size()), std::min(e, text.size())};
    pos += len[i];
  }
  (void)total;
  return out;
}

}  // namespace flops::detect
