// Python str semantics over UTF-8. Character properties and case mappings come from ICU, which
// follows the same Unicode data Python's unicodedata does (full case mappings, final sigma).
#include "model/jinja_pystr.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "model/jinja_value.h"
#include "model/tokenizer_internal.h"

namespace flops::jinja::py {

std::vector<uint32_t> code_points(std::string_view s) {
  std::vector<uint32_t> cps, off;
  utf8_decode(s, cps, off);
  return cps;
}

std::string from_code_points(const uint32_t* cps, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) utf8_append(out, cps[i]);
  return out;
}

size_t cp_count(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if (((uint8_t)c & 0xC0) != 0x80) ++n;
  return n;
}

size_t cp_offset(std::string_view s, size_t i) {
  size_t k = 0, at = 0;
  while (at < s.size() && k < i) {
    at += utf8_len((uint8_t)s[at]);
    ++k;
  }
  return std::min(at, s.size());
}

bool isspace(uint32_t c) {
  if (c < 128) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  UCharDirection d = u_charDirection((UChar32)c);
  return u_charType((UChar32)c) == U_SPACE_SEPARATOR || d == U_WHITE_SPACE_NEUTRAL || d == U_BLOCK_SEPARATOR ||
         d == U_SEGMENT_SEPARATOR;
}

bool isalpha(uint32_t c) {
  int8_t t = u_charType((UChar32)c);
  return t == U_UPPERCASE_LETTER || t == U_LOWERCASE_LETTER || t == U_TITLECASE_LETTER || t == U_MODIFIER_LETTER ||
         t == U_OTHER_LETTER;
}

bool isdigit(uint32_t c) {
  int v = u_getIntPropertyValue((UChar32)c, UCHAR_NUMERIC_TYPE);
  return v == U_NT_DECIMAL || v == U_NT_DIGIT;
}

bool isalnum(uint32_t c) {
  return isalpha(c) || u_getIntPropertyValue((UChar32)c, UCHAR_NUMERIC_TYPE) != U_NT_NONE;
}

bool all_chars(std::string_view s, bool (*pred)(uint32_t)) {
  auto cps = code_points(s);
  if (cps.empty()) return false;
  for (uint32_t c : cps)
    if (!pred(c)) return false;
  return true;
}

// Python: at least one cased character and no uppercase (islower) / lowercase (isupper) one.
static bool cased_test(std::string_view s, bool want_lower) {
  bool cased = false;
  for (uint32_t c : code_points(s)) {
    if (u_isULowercase((UChar32)c) || u_hasBinaryProperty((UChar32)c, UCHAR_LOWERCASE)) {
      if (!want_lower) return false;
      cased = true;
    } else if (u_isUUppercase((UChar32)c) || u_charType((UChar32)c) == U_TITLECASE_LETTER) {
      if (want_lower) return false;
      cased = true;
    }
  }
  return cased;
}
bool islower_str(std::string_view s) { return cased_test(s, true); }
bool isupper_str(std::string_view s) { return cased_test(s, false); }

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  std::vector<uint32_t> set;
  if (chars) set = code_points(*chars);
  auto drop = [&](uint32_t c) {
    if (!chars) return isspace(c);
    for (uint32_t x : set)
      if (x == c) return true;
    return false;
  };
  std::vector<uint32_t> cps, off;
  utf8_decode(s, cps, off);
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && drop(cps[b])) ++b;
  if (right)
    while (e > b && drop(cps[e - 1])) --e;
  return std::string(s.substr(off[b], off[e] - off[b]));
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) raise(0, "ValueError", "empty separator");
    size_t at = 0;
    while (maxsplit < 0 || (int64_t)out.size() < maxsplit) {
      size_t k = s.find(*sep, at);
      if (k == std::string_view::npos) break;
      out.emplace_back(s.substr(at, k - at));
      at = k + sep->size();
    }
    out.emplace_back(s.substr(at));
    return out;
  }
  std::vector<uint32_t> cps, off;
  utf8_decode(s, cps, off);
  size_t i = 0, n = cps.size();
  while (true) {
    while (i < n && isspace(cps[i])) ++i;
    if (i >= n) break;
    if (maxsplit >= 0 && (int64_t)out.size() == maxsplit) {
      // The remainder keeps its trailing whitespace, as CPython's split does.
      out.emplace_back(s.substr(off[i]));
      break;
    }
    size_t j = i;
    while (j < n && !isspace(cps[j])) ++j;
    out.emplace_back(s.substr(off[i], off[j] - off[i]));
    i = j;
  }
  return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  if (maxsplit < 0) return split(s, sep, -1);
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) raise(0, "ValueError", "empty separator");
    size_t end = s.size();
    while ((int64_t)out.size() < maxsplit) {
      size_t k = end >= sep->size() ? s.rfind(*sep, end - sep->size()) : std::string_view::npos;
      if (k == std::string_view::npos) break;
      out.emplace_back(s.substr(k + sep->size(), end - k - sep->size()));
      end = k;
    }
    out.emplace_back(s.substr(0, end));
  } else {
    std::vector<uint32_t> cps, off;
    utf8_decode(s, cps, off);
    size_t e = cps.size();
    while (true) {
      while (e > 0 && isspace(cps[e - 1])) --e;
      if (e == 0) break;
      if ((int64_t)out.size() == maxsplit) {
        out.emplace_back(s.substr(0, off[e]));
        break;
      }
      size_t b = e;
      while (b > 0 && !isspace(cps[b - 1])) --b;
      out.emplace_back(s.substr(off[b], off[e] - off[b]));
      e = b;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

static bool is_line_break(uint32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
         c == 0x2028 || c == 0x2029;
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  std::vector<uint32_t> cps, off;
  utf8_decode(s, cps, off);
  std::vector<std::string> out;
  size_t start = 0, i = 0, n = cps.size();
  while (i < n) {
    if (!is_line_break(cps[i])) {
      ++i;
      continue;
    }
    size_t brk = i + (cps[i] == '\r' && i + 1 < n && cps[i + 1] == '\n' ? 2 : 1);
    size_t end = keepends ? brk : i;
    out.emplace_back(s.substr(off[start], off[end] - off[start]));
    start = i = brk;
  }
  if (start < n) out.emplace_back(s.substr(off[start]));
  return out;
}

std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` before every character and at the end.
    std::vector<uint32_t> cps, off;
    utf8_decode(s, cps, off);
    int64_t done = 0;
    for (size_t k = 0; k < cps.size(); ++k) {
      if (count < 0 || done < count) out.append(to), ++done;
      out.append(s.substr(off[k], off[k + 1] - off[k]));
    }
    if (count < 0 || done < count) out.append(to);
    return out;
  }
  size_t at = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t k = s.find(from, at);
    if (k == std::string_view::npos) break;
    out.append(s.substr(at, k - at));
    out.append(to);
    at = k + from.size();
    ++done;
  }
  out.append(s.substr(at));
  return out;
}

// ICU works in UTF-16.
static std::u16string to_u16(std::string_view s) {
  std::u16string out;
  for (uint32_t c : code_points(s)) {
    if (c >= 0x10000) {
      c -= 0x10000;
      out.push_back(char16_t(0xD800 + (c >> 10)));
      out.push_back(char16_t(0xDC00 + (c & 0x3FF)));
    } else {
      out.push_back(char16_t(c));
    }
  }
  return out;
}

static std::string from_u16(const std::u16string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t c = s[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < s.size()) c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00);
    utf8_append(out, c);
  }
  return out;
}

template <typename F>
static std::string icu_map(std::string_view s, F f) {
  std::u16string in = to_u16(s), out(in.size() * 3 + 4, u'\0');
  UErrorCode st = U_ZERO_ERROR;
  int32_t n = f((UChar*)out.data(), (int32_t)out.size(), (const UChar*)in.data(), (int32_t)in.size(), "", &st);
  if (U_FAILURE(st)) fail("case mapping failed: {}", u_errorName(st));
  out.resize(n);
  return from_u16(out);
}

std::string lower(std::string_view s) {
  bool ascii = true;
  for (char c : s) ascii &= (uint8_t)c < 128;
  if (ascii) {
    std::string o(s);
    for (char& c : o)
      if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return o;
  }
  return icu_map(s, u_strToLower);
}

std::string upper(std::string_view s) {
  bool ascii = true;
  for (char c : s) ascii &= (uint8_t)c < 128;
  if (ascii) {
    std::string o(s);
    for (char& c : o)
      if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    return o;
  }
  return icu_map(s, u_strToUpper);
}

std::string title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  for (uint32_t c : code_points(s)) {
    std::string one;
    utf8_append(one, c);
    if (prev_cased) out += lower(one);
    else utf8_append(out, (uint32_t)u_totitle((UChar32)c));
    prev_cased = u_hasBinaryProperty((UChar32)c, UCHAR_CASED);
  }
  return out;
}

std::string capitalize(std::string_view s) {
  auto cps = code_points(s);
  if (cps.empty()) return "";
  std::string out;
  utf8_append(out, (uint32_t)u_totitle((UChar32)cps[0]));
  out += lower(from_code_points(cps.data() + 1, cps.size() - 1));
  return out;
}

std::string swapcase(std::string_view s) {
  std::string out;
  for (uint32_t c : code_points(s)) {
    std::string one;
    utf8_append(one, c);
    if (u_isULowercase((UChar32)c)) out += upper(one);
    else if (u_isUUppercase((UChar32)c)) out += lower(one);
    else out += one;
  }
  return out;
}

int64_t find(std::string_view s, std::string_view sub, bool reverse) {
  size_t k = reverse ? s.rfind(sub) : s.find(sub);
  if (k == std::string_view::npos) return -1;
  return (int64_t)cp_count(s.substr(0, k));
}

int64_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return (int64_t)cp_count(s) + 1;
  int64_t n = 0;
  for (size_t at = s.find(sub); at != std::string_view::npos; at = s.find(sub, at + sub.size())) ++n;
  return n;
}

static bool printable(uint32_t c) {
  if (c == ' ') return true;
  if (c < 0x20 || c == 0x7F) return false;
  if (c < 0x7F) return true;
  switch (u_charType((UChar32)c)) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_SURROGATE:
    case U_PRIVATE_USE_CHAR:
    case U_UNASSIGNED:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
    case U_SPACE_SEPARATOR:
      return false;
    default:
      return true;
  }
}

std::string repr(std::string_view s) {
  char q = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
  std::string out(1, q);
  for (uint32_t c : code_points(s)) {
    if (c == (uint32_t)q || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!printable(c)) {
      char buf[16];
      if (c < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", c);
      else if (c < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", c);
      else std::snprintf(buf, sizeof buf, "\\U%08x", c);
      out += buf;
    } else {
      utf8_append(out, c);
    }
  }
  out += q;
  return out;
}

std::string float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  // The shortest digits that round-trip, laid out as Python's repr lays them out: positional
  // for exponents -4 <= e < 16, else d.ddde+XX.
  char buf[40];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  std::string m = buf;
  size_t e = m.find('e');
  int exp = std::atoi(m.c_str() + e + 1);
  std::string digits;
  bool neg = m[0] == '-';
  for (size_t k = neg ? 1 : 0; k < e; ++k)
    if (m[k] != '.') digits += m[k];
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(-exp - 1, '0') + digits;
    } else if ((int)digits.size() <= exp + 1) {
      out += digits + std::string(exp + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  }
  return out;
}

}  // namespace flops::jinja::py
