#include "cli/common.h"

#include <filesystem>
#include <iostream>
#include <iterator>
#include <unistd.h>

#include "core/error.h"
#include "core/mmap_file.h"
#include "core/threads.h"

namespace flops::cli {

void add_model_opts(CLI::App* cmd, ModelOpts& o) {
  cmd->add_option("-m,--model", o.model, "GGUF model file (default: $FLOPS_MODEL or the shipped model)");
  cmd->add_option("-t,--threads", o.threads, "threads (default: all cores)");
  cmd->add_flag("--json", o.json, "print one JSON object on stdout");
  cmd->add_flag("--quiet", o.quiet, "no progress bar and no cost receipt");
}

std::string resolve_model_path(const std::string& given) {
  namespace fs = std::filesystem;
  if (!given.empty()) return given;
  if (const char* env = std::getenv("FLOPS_MODEL"); env && *env) return env;
  // The shipped model sits in models/ of the source tree; the binary is in build*/.
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    fs::path cand = dir / "models" / "flops-a.gguf";
    if (fs::exists(cand)) return cand.string();
  }
  fail("no model given: pass -m MODEL.gguf or set FLOPS_MODEL");
}

std::unique_ptr<Model> open_model(const ModelOpts& o) {
  if (o.threads < 0) fail("--threads must be >= 0, got {}", o.threads);
  set_threads(o.threads);
  return load_model(resolve_model_path(o.model));
}

namespace {
void check_utf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n) fail("input text is not valid UTF-8 (byte offset {})", i);
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (int k = 1; k < len; k++) {
      unsigned char cc = (unsigned char)s[i + k];
      if ((cc >> 6) != 2) fail("input text is not valid UTF-8 (byte offset {})", i);
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      fail("input text is not valid UTF-8 (byte offset {})", i);
    i += len;
  }
}
}  // namespace

std::string read_input_text(const std::string& prompt, const std::string& file, bool allow_empty) {
  if (!prompt.empty() && !file.empty()) fail("give either -p/--prompt or -f/--file, not both");
  std::string text;
  if (!file.empty()) {
    if (file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      if (!std::filesystem::exists(file)) fail("file not found: '{}'", file);
      text = read_text_file(file);
    }
  } else {
    text = prompt;
  }
  if (text.empty() && !allow_empty) fail("the input text is empty");
  if (text.find('\0') != std::string::npos) fail("the input contains NUL bytes: binary data is not text");
  check_utf8(text);
  return text;
}

bool stdout_is_terminal() { return isatty(STDOUT_FILENO); }
bool stderr_is_terminal() { return isatty(STDERR_FILENO); }

}  // namespace flops::cli
