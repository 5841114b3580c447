// Unicode categories, UTF-8 and the byte-level alphabet used by the tokenizers.
#include <algorithm>
#include <array>

#include "model/tokenizer_internal.h"

namespace flops {

namespace ucat {
extern const uint32_t kCategoryRuns[];
extern const size_t kCategoryRunCount;

static constexpr std::array<uint8_t, 128> ascii_table() {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    uint8_t k = C;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) k = L;
    else if (c >= '0' && c <= '9') k = N;
    else if (c == ' ') k = Z;
    else if (c < 32 || c == 127) k = C;
    else if (c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '`' || c == '|' || c == '~') k = S;
    else k = P;
    t[c] = k;
  }
  return t;
}
static constexpr auto kAscii = ascii_table();

Cat category(uint32_t cp) {
  if (cp < 128) return Cat(kAscii[cp]);
  if (cp > 0x10FFFF) return C;
  // Runs are sorted by first code point; the run holding cp is the last one starting at or before it.
  const uint32_t key = (cp << 3) | 7;
  const uint32_t* end = kCategoryRuns + kCategoryRunCount;
  const uint32_t* it = std::upper_bound(kCategoryRuns, end, key);
  return Cat(it[-1] & 7);
}

bool is_space(uint32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}
}  // namespace ucat

void utf8_decode(std::string_view s, std::vector<uint32_t>& cps, std::vector<uint32_t>& offsets) {
  cps.clear();
  offsets.clear();
  cps.reserve(s.size());
  offsets.reserve(s.size() + 1);
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = p[i];
    uint32_t cp;
    size_t len = utf8_len(c);
    if (i + len > s.size()) len = s.size() - i;  // callers validate first; never read past the end
    switch (len) {
      case 1: cp = c; break;
      case 2: cp = ((c & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu); break;
      case 3: cp = ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu); break;
      default:
        cp = ((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
    }
    offsets.push_back((uint32_t)i);
    cps.push_back(cp);
    i += len;
  }
  offsets.push_back((uint32_t)s.size());
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Printable Latin-1 bytes stand for themselves; the 68 others are moved, in order, to U+0100 onwards,
// so that every byte has a visible, non-space character (the GPT-2 convention all byte-level vocabularies share).
static constexpr bool byte_is_printable(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}
static constexpr std::array<uint16_t, 256> byte_table() {
  std::array<uint16_t, 256> t{};
  int next = 256;
  for (int b = 0; b < 256; ++b) t[b] = byte_is_printable(b) ? uint16_t(b) : uint16_t(next++);
  return t;
}
static constexpr auto kByteToUnicode = byte_table();

uint32_t byte_to_unicode(uint8_t b) { return kByteToUnicode[b]; }

int unicode_to_byte(uint32_t cp) {
  if (cp < 256) return byte_is_printable((int)cp) ? (int)cp : -1;
  if (cp < 256 + 68) {
    for (int b = 0; b < 256; ++b)
      if (kByteToUnicode[b] == cp) return b;
  }
  return -1;
}

}  // namespace flops
