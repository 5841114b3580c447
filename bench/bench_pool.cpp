// Fork-join cost of the project's ThreadPool against an OpenMP parallel region (the way the
// kernels split work before the pool), side by side in one run: an empty job, and a job the
// size of one of model M's decode matrix-vector products (768 x 2048 Q4_0 ~ 0.9 MB read).
// Run it quiet, and again with `yes > /dev/null &` holding a core.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/thread_pool.h"

using namespace flops;
using clk = std::chrono::steady_clock;

namespace {

double now_us() { return std::chrono::duration<double, std::micro>(clk::now().time_since_epoch()).count(); }

template <typename F>
double median_us(int reps, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; i++) {
    double t0 = now_us();
    f();
    t.push_back(now_us() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const size_t bytes = 768 * 2048 / 2 + 768 * 2048 / 32 * 2;
  std::vector<uint8_t> w(bytes, 1);
  std::vector<uint64_t> out(64);
  auto work = [&](int64_t b, int64_t e) {  // reads rows [b, e) of 768 rows
    uint64_t s = 0;
    const size_t rb = bytes / 768;
    for (int64_t r = b; r < e; r++)
      for (size_t i = 0; i < rb; i += 8) s += *(const uint64_t*)(w.data() + r * rb + i);
    out[(size_t)b % 64] += s;
  };
  std::printf("threads %d; median microseconds per job over 20,000 jobs (OpenMP: OMP_WAIT_POLICY=%s)\n", threads,
              std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "(default)");
  std::printf("%-30s %10s %10s\n", "", "empty", "matvec");
  for (bool stall : {false, true})
    for (int spin : {0, 20, 200, 2000}) {
      ThreadPool pool(threads);
      pool.set_spin_us(spin);
      if (!stall) pool.set_stall(0, 0);
      double e = median_us(20000, [&] { pool.parallel_for(threads, 1, [&](int64_t, int64_t) {}); });
      double m = median_us(20000, [&] { pool.parallel_for(768, 32, work); });
      std::printf("pool, spin %4d us, stall %-3s %10.2f %10.2f\n", spin, stall ? "on" : "off", e, m);
    }
  double e = median_us(20000, [&] {
#pragma omp parallel num_threads(threads)
    { out[(size_t)omp_get_thread_num()]++; }
  });
  double m = median_us(20000, [&] {
#pragma omp parallel for schedule(dynamic, 32) num_threads(threads)
    for (int64_t r = 0; r < 768; r += 32) work(r, r + 32);
  });
  std::printf("OpenMP parallel for            %10.2f %10.2f\n", e, m);
  double one = median_us(20000, [&] { work(0, 768); });
  std::printf("one thread, no split           %10s %10.2f\n", "-", one);
  return (int)(out[0] == 12345);
}
