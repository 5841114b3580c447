#pragma once
// A one-line progress bar on stderr:
//   perplexity [########------------]  40%  4.10k/10.2k tok  812 tok/s  ETA 0:07  ppl 12.3
// Drawn only when stderr is a terminal and the caller has not disabled it
// (--quiet / --json pass enabled=false), so piped output stays clean. Redraws at
// most ~10 times a second, so update() may be called every token. One thread only.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace flops {

struct Progress {
  // total <= 0 means unknown: no bar, percentage or ETA, only count and rate.
  Progress(std::string label, int64_t total, std::string unit = "tok", bool enabled = true);
  ~Progress();  // finishes the line if finish() was not called
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `extra` replaces the previous extra text (e.g. a running loss or perplexity).
  void update(int64_t done, std::string extra = "");
  // Draws the final state (with the average rate) and ends the line.
  void finish();
  bool active() const { return active_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_, unit_, extra_;
  int64_t total_ = 0, done_ = 0;
  bool active_ = false, drawn_ = false;
  Clock::time_point start_, last_draw_;
  void draw(bool final);
};

// ---- pure formatting helpers (exposed for tests and for one-line summaries) ----

// 3 significant digits with an SI suffix: 999, 1.23k, 45.6M, 789G. Negative -> "-" prefixed.
std::string format_si(double x);
// "12.3 tok/s", "1.05k tok/s", "0.25 tok/s"; "? tok/s" when not finite or negative.
std::string format_rate(double per_second, std::string_view unit);
// "0:07", "12:34", "1:02:03", "3d04h"; "?" when negative or not finite.
std::string format_duration(double seconds);
// Seconds left at the average rate so far; negative when unknown (nothing done yet, no total).
double eta_seconds(int64_t done, int64_t total, double elapsed_seconds);
// The whole status line (no \r, no newline), cut to `width` columns.
std::string render_progress(std::string_view label, int64_t done, int64_t total, std::string_view unit,
                            double elapsed_seconds, std::string_view extra, int width, bool final = false);

}  // namespace flops
