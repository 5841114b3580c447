#pragma once
// The text of a generation as it may be shown: stop strings cut it (and are not shown), and
// bytes that might begin a stop string or an unfinished UTF-8 character are held back until
// the next token decides.
#include <string>
#include <vector>

namespace flops::server {

struct StopText {
  std::vector<std::string> stops;
  std::string text;  // everything generated so far (cut at a stop string once found)
  size_t shown = 0;  // bytes of text already handed out
  bool stopped = false;

  // Appends a token's bytes; returns the new text that may be shown now.
  std::string add(const std::string& piece);
  // The end of generation: whatever is still held back.
  std::string flush();
};

// Length of the longest prefix of s that is whole UTF-8 characters (an unfinished last one cut).
size_t utf8_complete_prefix(const std::string& s);

}  // namespace flops::server
