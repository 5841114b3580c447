// Prompt-sized products against Q4_0 weights: the row-major matmul (dequantize tiles, then
// sgemm) against matmul_rows8 on the packed weights (the int8 GEMM kernel, and with
// FLOPS_NO_GEMM8 set the 4-row dot_rows8 kernel it replaces), on the layer and output shapes of
// bench_vs_llama's S (288 wide, FFN 768) and M (768 wide, FFN 2048) models, vocabulary 32,000.
//   bench_gemm8 [-T ROWS] [-t 1,2] [-r SECONDS]
// Each figure is the fastest of repeated calls over the given time (min-of-N: on a shared
// machine the fastest run is the one that kept its cores), in GFLOP/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/repack.h"
#include "core/thread_pool.h"
#include "core/threads.h"

using namespace flops;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <typename F>
double best_time(double seconds, F&& f) {
  double best = 1e30, start = now_s();
  for (int i = 0; i < 3 || now_s() - start < seconds; i++) {
    const double t0 = now_s();
    f();
    best = std::min(best, now_s() - t0);
  }
  return best;
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> v;
  for (const char* p = s; *p;) {
    v.push_back(std::atoi(p));
    while (*p && *p != ',') p++;
    if (*p) p++;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  restart_with_passive_omp_wait(argv);
  int64_t T = 512;
  double secs = 0.5;
  std::vector<int> threads = {1, 2};
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "-T") && i + 1 < argc) T = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "-t") && i + 1 < argc) threads = parse_list(argv[++i]);
    else if (!std::strcmp(argv[i], "-r") && i + 1 < argc) secs = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "usage: bench_gemm8 [-T ROWS] [-t 1,2] [-r SECONDS]\n");
      return 2;
    }
  }
  const DType ty = DType::Q4_0;
  const int64_t shapes[][2] = {{288, 288}, {768, 288}, {288, 768}, {32000, 288},
                               {768, 768}, {2048, 768}, {768, 2048}, {32000, 768}};
  std::printf("Q4_0, T=%lld: GFLOP/s (best of %.1f s), row-major sgemm path / packed 4-row kernel / packed GEMM\n",
              (long long)T, secs);
  std::printf("%14s %3s %10s %10s %10s %8s\n", "rows x cols", "thr", "sgemm", "rows8x4", "gemm8", "gemm/sg");
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& s : shapes) {
    const int64_t rows = s[0], cols = s[1];
    const size_t stride = dtype_row_bytes(ty, cols);
    std::vector<float> wf((size_t)cols);
    std::vector<uint8_t> w(stride * rows), packed(stride * rows);
    for (int64_t r = 0; r < rows; r++) {
      for (auto& v : wf) v = 0.02f * nd(rng);
      quantize_row(ty, wf.data(), w.data() + r * stride, cols);
    }
    pack_rows8(ty, w.data(), rows, cols, packed.data());
    std::vector<float> x((size_t)(T * cols)), y((size_t)(T * rows));
    for (auto& v : x) v = nd(rng);
    const double flop = 2.0 * (double)rows * (double)cols * (double)T;
    for (int th : threads) {
      set_threads(th);
      set_pool_threads(th);
      const double sg = best_time(secs, [&] { matmul(ty, w.data(), rows, cols, x.data(), T, y.data()); });
      setenv("FLOPS_NO_GEMM8", "1", 1);
      const double r8 = best_time(secs, [&] { matmul_rows8(ty, packed.data(), rows, cols, x.data(), T, y.data()); });
      unsetenv("FLOPS_NO_GEMM8");
      const double g8 = best_time(secs, [&] { matmul_rows8(ty, packed.data(), rows, cols, x.data(), T, y.data()); });
      std::printf("%6lld x %5lld %3d %10.1f %10.1f %10.1f %7.2fx\n", (long long)rows, (long long)cols, th, flop / sg / 1e9,
                  flop / r8 / 1e9, flop / g8 / 1e9, sg / g8);
      std::fflush(stdout);
    }
  }
  return 0;
}
