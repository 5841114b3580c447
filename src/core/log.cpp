#include "core/log.h"

#include <atomic>
#include <mutex>
#include <unistd.h>

namespace flops::log {

namespace {
std::atomic<int> g_level{(int)Level::info};
std::atomic<bool> g_status_active{false};
// Guards the stream pointer and makes erase-bar + line one unit.
std::mutex g_mu;
std::FILE* g_stream = nullptr;  // null means stderr (stderr is not a constant expression)
}  // namespace

void set_level(Level l) { g_level.store((int)l, std::memory_order_relaxed); }
Level level() { return (Level)g_level.load(std::memory_order_relaxed); }

std::optional<Level> parse_level(std::string_view s) {
  if (s == "debug") return Level::debug;
  if (s == "info") return Level::info;
  if (s == "warn" || s == "warning") return Level::warn;
  if (s == "error") return Level::error;
  if (s == "off" || s == "quiet") return Level::off;
  return std::nullopt;
}

std::string_view level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "?";
}

std::string format_line(Level l, std::string_view msg) {
  std::string out;
  switch (l) {
    case Level::debug: out = "debug: "; break;
    case Level::warn: out = "warning: "; break;
    case Level::error: out = "error: "; break;
    default: break;
  }
  out += msg;
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

void set_stream(std::FILE* f) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_stream = f;
}

void set_status_line_active(bool active) { g_status_active.store(active, std::memory_order_relaxed); }

void write(Level l, std::string_view msg) {
  std::string line = format_line(l, msg);
  std::lock_guard<std::mutex> lock(g_mu);
  std::FILE* f = g_stream ? g_stream : stderr;
  // Carriage return + erase-to-end-of-line removes a half-drawn progress bar.
  if (g_status_active.load(std::memory_order_relaxed) && f == stderr && isatty(STDERR_FILENO)) line.insert(0, "\r\033[K");
  std::fwrite(line.data(), 1, line.size(), f);
  std::fflush(f);
}

}  // namespace flops::log
