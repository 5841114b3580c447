#pragma once
// This machine's peak: the FP32 matmul rate OpenBLAS reaches (sgemm), measured
// once by `flops calibrate` and cached as JSON in $XDG_CACHE_HOME/flops/ (or
// ~/.cache/flops/), per thread count. Receipts divide achieved FLOP/s by it.
#include <optional>
#include <string>

namespace flops::cost {

struct Calibration {
  double sgemm_flops = 0;  // FLOP/s
  int threads = 0;
  int n = 0;               // square matrix size timed
  double seconds = 0;      // time spent measuring
  std::string cpu_model;
  std::string measured_at;  // ISO 8601 UTC
  std::string path;         // cache file it was read from or written to
  bool from_cache = false;
};

std::string calibration_cache_path();
std::string cpu_model();
// The cached figure for `threads`, or nullopt when there is none or it was
// measured on a different CPU model. A corrupt cache is treated as absent.
std::optional<Calibration> load_calibration(int threads);
// Times n x n sgemm repeatedly for about `seconds` and keeps the best rate.
Calibration measure_calibration(int threads, double seconds = 0.5, int n = 0);
// Merges `c` into the cache file (atomic write). Returns the path.
std::string save_calibration(const Calibration& c);
// Cache, or measure now (short) and save.
Calibration machine_peak(int threads);

}  // namespace flops::cost
