#include "server/stop_text.h"

#include <algorithm>

namespace flops::server {

size_t utf8_complete_prefix(const std::string& s) {
  size_t n = s.size();
  // Look back at most 3 bytes for a lead byte whose sequence is cut.
  for (size_t back = 1; back <= 4 && back <= n; back++) {
    unsigned char c = (unsigned char)s[n - back];
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return back < len ? n - back : n;
  }
  return n;
}

std::string StopText::add(const std::string& piece) {
  if (stopped) return "";
  size_t from = text.size();
  text += piece;
  size_t cut = std::string::npos;
  for (auto& s : stops) {
    // A new match must end inside the new bytes.
    size_t start = from >= s.size() ? from - s.size() + 1 : 0;
    size_t p = text.find(s, start);
    if (p != std::string::npos) cut = std::min(cut, p);
  }
  if (cut != std::string::npos) {
    text.resize(cut);
    stopped = true;
    return flush();
  }
  size_t hold = 0;
  for (auto& s : stops)
    for (size_t k = std::min(s.size() - 1, text.size()); k > hold; k--)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  size_t safe = std::min(text.size() - hold, utf8_complete_prefix(text));
  if (safe <= shown) return "";
  std::string out = text.substr(shown, safe - shown);
  shown = safe;
  return out;
}

std::string StopText::flush() {
  if (shown >= text.size()) return "";
  std::string out = text.substr(shown);
  shown = text.size();
  return out;
}

}  // namespace flops::server
