#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <unistd.h>

#include "core/log.h"
#include "core/progress.h"

using namespace flops;

TEST(Progress, FormatSi) {
  EXPECT_EQ(format_si(0), "0");
  EXPECT_EQ(format_si(7), "7");
  EXPECT_EQ(format_si(999), "999");
  EXPECT_EQ(format_si(0.25), "0.25");
  EXPECT_EQ(format_si(12.5), "12.5");
  EXPECT_EQ(format_si(1000), "1.00k");
  EXPECT_EQ(format_si(1234), "1.23k");
  EXPECT_EQ(format_si(12345), "12.3k");
  EXPECT_EQ(format_si(123456), "123k");
  EXPECT_EQ(format_si(999499), "999k");
  EXPECT_EQ(format_si(999999), "1.00M");  // rounds up into the next unit, never "1000k"
  EXPECT_EQ(format_si(1.5e9), "1.50G");
  EXPECT_EQ(format_si(2e12), "2.00T");
  EXPECT_EQ(format_si(-1500), "-1.50k");
  EXPECT_EQ(format_si(INFINITY), "?");
  EXPECT_EQ(format_si(NAN), "?");
}

TEST(Progress, FormatRate) {
  EXPECT_EQ(format_rate(812.4, "tok"), "812 tok/s");
  EXPECT_EQ(format_rate(1050, "tok"), "1.05k tok/s");
  EXPECT_EQ(format_rate(2.5e6, "B"), "2.50M B/s");
  EXPECT_EQ(format_rate(12.34, "tok"), "12.3 tok/s");
  EXPECT_EQ(format_rate(0.25, "step"), "0.25 step/s");
  EXPECT_EQ(format_rate(0, "tok"), "0.00 tok/s");
  EXPECT_EQ(format_rate(NAN, "tok"), "? tok/s");
  EXPECT_EQ(format_rate(INFINITY, "tok"), "? tok/s");
  EXPECT_EQ(format_rate(-3, "tok"), "? tok/s");
}

TEST(Progress, FormatDuration) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(7.2), "0:07");
  EXPECT_EQ(format_duration(59.6), "1:00");
  EXPECT_EQ(format_duration(754), "12:34");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(3 * 86400 + 4 * 3600 + 59), "3d04h");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(INFINITY), "?");
  EXPECT_EQ(format_duration(NAN), "?");
}

TEST(Progress, Eta) {
  EXPECT_DOUBLE_EQ(eta_seconds(25, 100, 10), 30);  // 2.5 per second, 75 left
  EXPECT_DOUBLE_EQ(eta_seconds(100, 100, 10), 0);
  EXPECT_DOUBLE_EQ(eta_seconds(150, 100, 10), 0);
  EXPECT_LT(eta_seconds(0, 100, 10), 0);  // no rate yet
  EXPECT_LT(eta_seconds(10, 0, 10), 0);   // unknown total
  EXPECT_LT(eta_seconds(10, 100, NAN), 0);
}

TEST(Progress, RenderLine) {
  EXPECT_EQ(render_progress("ppl", 40, 100, "tok", 2.0, "loss 3.21", 200),
            "ppl [########------------]  40%  40/100 tok  20.0 tok/s  ETA 0:03  loss 3.21");
  // Past the total: the bar is full, not overflowing.
  EXPECT_EQ(render_progress("x", 150, 100, "tok", 1.0, "", 200), "x [####################] 100%  150/100 tok  150 tok/s  ETA 0:00");
  // Unknown total: count and rate only.
  EXPECT_EQ(render_progress("gen", 57, 0, "tok", 0.5, "", 200), "gen  57 tok  114 tok/s");
  // The final line reports the time taken instead of an ETA; no elapsed time yet -> unknown rate.
  EXPECT_EQ(render_progress("train", 12000, 12000, "step", 754, "", 200),
            "train [####################] 100%  12.0k/12.0k step  15.9 step/s  ETA 0:00");
  EXPECT_EQ(render_progress("train", 12000, 12000, "step", 754, "", 200, true),
            "train [####################] 100%  12.0k/12.0k step  15.9 step/s  in 12:34");
  EXPECT_EQ(render_progress("a", 1, 10, "tok", 0, "", 200), "a [##------------------]  10%  1/10 tok  ? tok/s  ETA 0:00");
  // Cut to the terminal width so the line never wraps.
  EXPECT_EQ(render_progress("ppl", 40, 100, "tok", 2.0, "loss 3.21", 12), "ppl [#######");
}

TEST(Progress, SilentWhenDisabledOrNotATerminal) {
  Progress off("x", 10, "tok", false);
  EXPECT_FALSE(off.active());
  off.update(5);
  off.finish();
  Progress on("x", 10);
  EXPECT_EQ(on.active(), (bool)isatty(STDERR_FILENO));
}

namespace {
// Captures what the logger writes, restoring stream and level afterwards.
struct LogCapture {
  std::FILE* f = std::tmpfile();
  log::Level saved = log::level();
  LogCapture() { log::set_stream(f); }
  ~LogCapture() {
    log::set_stream(nullptr);
    log::set_level(saved);
    std::fclose(f);
  }
  std::string text() {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[256];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    return s;
  }
};
}  // namespace

TEST(Log, ParseAndNameLevels) {
  EXPECT_EQ(log::parse_level("debug"), log::Level::debug);
  EXPECT_EQ(log::parse_level("warning"), log::Level::warn);
  EXPECT_EQ(log::parse_level("quiet"), log::Level::off);
  EXPECT_FALSE(log::parse_level("verbose").has_value());
  EXPECT_FALSE(log::parse_level("").has_value());
  for (auto l : {log::Level::debug, log::Level::info, log::Level::warn, log::Level::error, log::Level::off})
    EXPECT_EQ(log::parse_level(log::level_name(l)), l);
}

TEST(Log, FormatLine) {
  EXPECT_EQ(log::format_line(log::Level::info, "loaded 3 tensors"), "loaded 3 tensors\n");
  EXPECT_EQ(log::format_line(log::Level::warn, "slow"), "warning: slow\n");
  EXPECT_EQ(log::format_line(log::Level::error, "bad"), "error: bad\n");
  EXPECT_EQ(log::format_line(log::Level::debug, "x\n"), "debug: x\n");  // no doubled newline
}

TEST(Log, LevelFilters) {
  LogCapture cap;
  log::set_level(log::Level::warn);
  log::debug("d {}", 1);
  log::info("i {}", 2);
  log::warn("w {} {}", 3, "three");
  log::error("e {:.2f}", 4.0);
  EXPECT_EQ(cap.text(), "warning: w 3 three\nerror: e 4.00\n");
  log::set_level(log::Level::debug);
  log::debug("now {}", "visible");
  EXPECT_EQ(cap.text(), "warning: w 3 three\nerror: e 4.00\ndebug: now visible\n");
  log::set_level(log::Level::off);
  EXPECT_FALSE(log::enabled(log::Level::error));
  log::error("hidden");
  EXPECT_EQ(cap.text(), "warning: w 3 three\nerror: e 4.00\ndebug: now visible\n");
}
