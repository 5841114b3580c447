#pragma once
// Timing and memory helpers shared by the search benchmarks (bench_search, bench_dense_scale).
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>

namespace flops::bench {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// CPU time of the whole process (all threads): on a machine shared with other jobs, wall-clock
// latency includes the time spent waiting for a core; CPU time is the work itself.
inline double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// A line of /proc/self/status in MB, e.g. "VmRSS:" or "VmHWM:".
inline double status_mb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key))) / 1024.0;
  return 0;
}

}  // namespace flops::bench
