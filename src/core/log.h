#pragma once
// Leveled logging to stderr with fmt formatting: log::info("loaded {} tensors", n).
// The level is one of the two globals the project allows (with the FLOP counter).
// Lines are written with a single stdio call, so lines from threads do not interleave.
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <fmt/format.h>

namespace flops::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level l);
Level level();
inline bool enabled(Level l) { return l != Level::off && (int)l >= (int)level(); }
// "debug", "info", "warn"/"warning", "error", "off"/"quiet" (case-sensitive); nullopt otherwise.
std::optional<Level> parse_level(std::string_view s);
std::string_view level_name(Level l);

// The exact text written for a message, newline included: info is unprefixed (it is
// the CLI's normal chatter), the others say what they are: "warning: ...".
std::string format_line(Level l, std::string_view msg);
void write(Level l, std::string_view msg);

// Where lines go; stderr unless a test redirects it. Not owned.
void set_stream(std::FILE* f);

// A progress bar drawn on the terminal's current line registers itself here so a
// log line first erases it (the bar redraws itself on its next update).
void set_status_line_active(bool active);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::debug)) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::info)) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::warn)) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::error)) write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace flops::log
