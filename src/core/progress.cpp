#include "core/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sys/ioctl.h>
#include <unistd.h>
#include <fmt/format.h>

#include "core/log.h"

namespace flops {

std::string format_si(double x) {
  if (!std::isfinite(x)) return "?";
  if (x < 0) return "-" + format_si(-x);
  static const char* suffix[] = {"", "k", "M", "G", "T", "P", "E"};
  int i = 0;
  // Round first so 999.7 becomes "1.00k", not "1000".
  while (i < 6 && x >= 999.5) {
    x /= 1000;
    i++;
  }
  if (i == 0) {
    if (x == std::floor(x)) return fmt::format("{:.0f}", x);
    return x < 10 ? fmt::format("{:.2f}", x) : x < 100 ? fmt::format("{:.1f}", x) : fmt::format("{:.0f}", x);
  }
  if (x < 9.995) return fmt::format("{:.2f}{}", x, suffix[i]);
  if (x < 99.95) return fmt::format("{:.1f}{}", x, suffix[i]);
  return fmt::format("{:.0f}{}", x, suffix[i]);
}

std::string format_rate(double per_second, std::string_view unit) {
  if (!std::isfinite(per_second) || per_second < 0) return fmt::format("? {}/s", unit);
  // Integers read better without decimals, but a slow rate needs them: 0.25 tok/s.
  std::string v = per_second >= 999.5 ? format_si(per_second)
                  : per_second >= 100 ? fmt::format("{:.0f}", per_second)
                  : per_second >= 10  ? fmt::format("{:.1f}", per_second)
                                      : fmt::format("{:.2f}", per_second);
  return fmt::format("{} {}/s", v, unit);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds >= 1e9) return "?";
  auto s = (int64_t)std::llround(seconds);
  int64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  if (d > 0) return fmt::format("{}d{:02}h", d, h);
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, sec);
  return fmt::format("{}:{:02}", m, sec);
}

double eta_seconds(int64_t done, int64_t total, double elapsed) {
  if (total <= 0 || done <= 0 || !(elapsed >= 0)) return -1;
  if (done >= total) return 0;
  return elapsed * (double)(total - done) / (double)done;
}

std::string render_progress(std::string_view label, int64_t done, int64_t total, std::string_view unit,
                            double elapsed, std::string_view extra, int width, bool final) {
  std::string line(label);
  double rate = elapsed > 0 ? (double)done / elapsed : NAN;
  if (total > 0) {
    constexpr int kBar = 20;
    double frac = std::clamp((double)done / (double)total, 0.0, 1.0);
    int fill = (int)(frac * kBar);
    line += fmt::format(" [{}{}] {:3d}%  {}/{} {}", std::string(fill, '#'), std::string(kBar - fill, '-'), (int)(frac * 100),
                        format_si((double)done), format_si((double)total), unit);
  } else {
    line += fmt::format("  {} {}", format_si((double)done), unit);
  }
  line += "  " + format_rate(rate, unit);
  if (final) {
    line += "  in " + format_duration(elapsed);
  } else if (total > 0) {
    line += "  ETA " + format_duration(eta_seconds(done, total, elapsed));
  }
  if (!extra.empty()) {
    line += "  ";
    line += extra;
  }
  if (width > 0 && (int)line.size() > width) line.resize((size_t)width);
  return line;
}

namespace {
int terminal_width() {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}
}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit, bool enabled)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  active_ = enabled && isatty(STDERR_FILENO);
  start_ = Clock::now();
  last_draw_ = start_;
}

Progress::~Progress() { finish(); }

void Progress::update(int64_t done, std::string extra) {
  if (!active_) return;
  done_ = done;
  extra_ = std::move(extra);
  auto now = Clock::now();
  // The first draw also waits 100 ms, so a task that ends at once prints nothing.
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  if (!active_) return;
  // Only a bar that was ever shown gets its final line: quick tasks stay silent.
  if (drawn_) draw(true);
  active_ = false;
}

void Progress::draw(bool final) {
  double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  // One column spare: writing into the last column makes some terminals wrap.
  std::string line = render_progress(label_, done_, total_, unit_, elapsed, extra_, terminal_width() - 1, final);
  std::string out = "\r" + line + "\033[K" + (final ? "\n" : "");
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
  drawn_ = true;
  log::set_status_line_active(!final);
}

}  // namespace flops
