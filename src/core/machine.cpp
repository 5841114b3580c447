#include "core/machine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>
#include <cblas.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#include <unistd.h>

#include "core/mmap_file.h"
#include "core/thread_pool.h"
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

namespace {

// Reads [p, p + bytes) (a multiple of 128) and folds it into one value: four independent
// 256-bit adds per 128 bytes keep Zen's two load ports busy with no stores at all, so the
// rate is that of reading alone (a copy also writes, and a write first reads the line).
uint64_t read_fold(const uint8_t* p, size_t bytes) {
#if defined(__AVX2__)
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= bytes; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i*)(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i*)(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i*)(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i*)(p + i + 96)));
  }
  __m256i a = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256((__m256i*)lanes, a);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
#else
  const uint64_t* q = (const uint64_t*)p;
  uint64_t s[8] = {};
  for (size_t i = 0; i + 16 <= bytes / 8; i += 16)
    for (int k = 0; k < 8; k++) s[k] += q[i + k] + q[i + k + 8];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
#endif
}

}  // namespace

double measure_read_bandwidth(int threads, double seconds, size_t bytes) {
  const size_t piece = (size_t)16 << 20, total = std::max<size_t>(1, (bytes + piece - 1) / piece) * piece;
  const int nt = std::max(1, threads);
  std::unique_ptr<uint8_t, decltype(&std::free)> buf((uint8_t*)std::aligned_alloc(4096, total), &std::free);
  for (size_t i = 0; i < total; i += 8) std::memcpy(buf.get() + i, &i, 8);
  // The project's own pool, as the decode kernels use it: the figure is what they could reach.
  ThreadPool pool(nt);
  const size_t part = piece / (size_t)nt / 128 * 128;
  std::atomic<uint64_t> sink{0};
  double best = 1e30, start = now_s();
  for (int pass = 0; pass < 2 || now_s() - start < seconds; pass++) {
    for (size_t off = 0; off + piece <= total; off += piece) {
      double t0 = now_s();
      pool.parallel_for(nt, 1, [&](int64_t b, int64_t) {
        sink.fetch_add(read_fold(buf.get() + off + (size_t)b * part, part), std::memory_order_relaxed);
      });
      best = std::min(best, now_s() - t0);
    }
    if (pass > 100) break;
  }
  if (sink.load() == 1) std::abort();  // keeps the reads observable
  return (double)(part * (size_t)nt) / best;
}

size_t last_level_cache_bytes() {
  size_t best = 0;
  for (int i = 0; i < 8; i++) {
    std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
    std::string s;
    if (!(f >> s) || s.empty()) continue;
    size_t v = std::strtoull(s.c_str(), nullptr, 10);
    if (s.back() == 'K') v <<= 10;
    else if (s.back() == 'M') v <<= 20;
    best = std::max(best, v);
  }
#if defined(_SC_LEVEL3_CACHE_SIZE)
  if (best == 0) best = (size_t)std::max(0L, sysconf(_SC_LEVEL3_CACHE_SIZE));
#endif
  return best;
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
