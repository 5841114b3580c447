#include "core/machine.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/mmap_file.h"
#include "core/threads.h"

// Weak: not every BLAS providing cblas.h has it.
extern "C" char* openblas_get_corename(void) __attribute__((weak));

namespace flops {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Sets the thread count for one measurement and puts the previous one back afterwards.
struct ThreadScope {
  int prev = get_threads();
  explicit ThreadScope(int n) { set_threads(n); }
  ~ThreadScope() { set_threads(prev); }
};

// Runs f repeatedly (at least 3 times, then until `seconds` have passed) and returns the
// shortest time: the least disturbed run on a machine shared with other work.
template <typename F>
double best_time(double seconds, F&& f) {
  double best = 1e30, start = now_s();
  for (int i = 0; i < 3 || now_s() - start < seconds; i++) {
    double t0 = now_s();
    f();
    best = std::min(best, now_s() - t0);
    if (i > 1000) break;
  }
  return best;
}

}  // namespace

double measure_sgemm_flops(int threads, double seconds) {
  ThreadScope ts(threads);
  const int n = 1024;
  std::vector<float> a((size_t)n * n), b((size_t)n * n), c((size_t)n * n);
  for (size_t i = 0; i < a.size(); i++) {
    a[i] = (float)((i * 7) % 13) * 0.1f - 0.6f;
    b[i] = (float)((i * 5) % 11) * 0.1f - 0.5f;
  }
  // One untimed call so OpenBLAS has started its threads and touched its buffers.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  double t = best_time(seconds, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(),
                n);
  });
  return 2.0 * n * n * n / t;
}

namespace {

// Streams a 256 MB buffer 16 MB at a time, each piece split over the threads and timed on
// its own; returns the best bytes/s of one piece. Short timed pieces keep the measurement
// meaningful when the cores are shared: a whole-buffer pass almost always loses its core
// for a while, a 16 MB piece usually does not. The buffer is 8x the L3, so every piece
// comes from DRAM. `work(lo, hi)` processes bytes [lo, hi) and returns a value to keep.
template <typename Work>
double stream_rate(int threads, double seconds, size_t bytes_per_byte, Work&& work) {
  const size_t total = (size_t)256 << 20, piece = (size_t)16 << 20;
  const int nt = std::max(1, threads);
  double best = 1e30, sink = 0.0, start = now_s();
  for (int pass = 0; pass < 2 || now_s() - start < seconds; pass++) {
    for (size_t off = 0; off < total; off += piece) {
      double t0 = now_s(), part = 0.0;
#pragma omp parallel num_threads(nt) reduction(+ : part)
      {
        int tid = 0, cnt = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        cnt = omp_get_num_threads();
#endif
        part += work(off + piece * tid / cnt, off + piece * (tid + 1) / cnt);
      }
      best = std::min(best, now_s() - t0);
      sink += part;
    }
    if (pass > 100) break;
  }
  if (sink == -1.0) std::abort();  // keeps the reads observable
  return (double)(piece * bytes_per_byte) / best;
}

}  // namespace

double measure_copy_bandwidth(int threads, double seconds) {
  ThreadScope ts(threads);
  const size_t bytes = (size_t)256 << 20;
  std::unique_ptr<char[]> src(new char[bytes]), dst(new char[bytes]);
  std::memset(src.get(), 1, bytes);
  std::memset(dst.get(), 0, bytes);
  return stream_rate(threads, seconds, 2, [&](size_t lo, size_t hi) {
    std::memcpy(dst.get() + lo, src.get() + lo, hi - lo);
    return 0.0;
  });
}

double measure_read_bandwidth(int threads, double seconds) {
  ThreadScope ts(threads);
  const size_t n = ((size_t)256 << 20) / sizeof(float);
  std::unique_ptr<float[]> buf(new float[n]);
  for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 1023);
  return stream_rate(threads, seconds, 1, [&](size_t lo, size_t hi) {
    // 32 independent sums (several vector registers) so the adds keep up with the loads.
    const float* p = buf.get();
    float s[32] = {};
    size_t i = lo / 4, end = hi / 4;
    for (; i + 32 <= end; i += 32)
      for (int k = 0; k < 32; k++) s[k] += p[i + k];
    for (; i < end; i++) s[0] += p[i];
    double t = 0.0;
    for (int k = 0; k < 32; k++) t += s[k];
    return t;
  });
}

std::string blas_core_name() {
  const char* n = openblas_get_corename ? openblas_get_corename() : nullptr;
  return n ? std::string(n) : "unknown";
}

std::string cpu_model_name() {
  std::string text;
  try {
    text = read_text_file("/proc/cpuinfo");
  } catch (...) {
    return "unknown";
  }
  size_t p = text.find("model name");
  if (p == std::string::npos) return "unknown";
  size_t colon = text.find(':', p), eol = text.find('\n', p);
  if (colon == std::string::npos || colon > eol) return "unknown";
  std::string name = text.substr(colon + 1, eol - colon - 1);
  size_t a = name.find_first_not_of(" \t"), b = name.find_last_not_of(" \t\r");
  return a == std::string::npos ? "unknown" : name.substr(a, b - a + 1);
}

}  // namespace flops
