// Kernel throughput table: sgemm and copy bandwidth (the machine's ceilings), matvec weight
// streaming per type (with its ratio to Q4_0), T=512 matmul per type relative to plain sgemm, at
// 1 and 2 threads, and one matvec in every kernel variant the CPU runs (scalar, AVX2, AVX-512).
//
// matvec "cold" rotates over enough copies of the weight matrix (>= 512 MB) that every call
// streams from DRAM, as in decoding a model larger than the caches; each call is timed and
// the median and the fastest decile are shown (on a shared machine many calls lose their core
// part way). "hot" repeats one matrix (best run), which stays in L2/L3 when small enough.
// The environment variables that change the numbers (OPENBLAS_CORETYPE, OMP_WAIT_POLICY)
// are printed with the table.
//
// `bench_kernels decode` prints only the decode-product table (decode_table below).
// `bench_kernels rows8` prints only the packed-weight table: small-batch products (T = 1, 4, 8
// activation rows) on one thread, row-major (matmul) against packed 8 rows at a time
// (matmul_rows8, core/repack.h), the minimum thread CPU time of N calls, for every packed type.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/f32_coded.h"
#include "core/huge_pages.h"
#include "core/machine.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/repack.h"
#include "core/threads.h"

using namespace flops;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename F>
double best_time(double seconds, int min_reps, F&& f) {
  double best = 1e30, start = now_s();
  for (int i = 0; i < min_reps || now_s() - start < seconds; i++) {
    double t0 = now_s();
    f();
    best = std::min(best, now_s() - t0);
  }
  return best;
}

const auto& kTypes = kAllDTypes;

std::vector<uint8_t> make_matrix(DType t, int64_t rows, int64_t cols) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> row((size_t)cols);
  const size_t stride = dtype_row_bytes(t, cols);
  std::vector<uint8_t> w(stride * rows);
  for (int64_t r = 0; r < rows; r++) {
    for (auto& v : row) v = nd(rng);
    quantize_row(t, row.data(), w.data() + r * stride, cols);
  }
  return w;
}

struct Shape {
  int64_t rows, cols;
};

double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Minimum thread CPU time of f over at least `reps` calls and `seconds` of wall time.
template <typename F>
double min_cpu_time(double seconds, int reps, F&& f) {
  double best = 1e30, start = now_s();
  for (int i = 0; i < reps || now_s() - start < seconds; i++) {
    const double t0 = thread_cpu_s();
    f();
    best = std::min(best, thread_cpu_s() - t0);
  }
  return best;
}

// Row-major against packed small-batch products, one thread. The K-quants cannot take 288
// columns (not a multiple of 256): their "S output" shape is 32000 x 256.
void rows8_table() {
  set_threads(1);
  std::printf("\nsmall-batch product, 1 thread, min thread CPU time of N calls (us): row-major / packed 8 rows\n");
  std::printf("%-12s %-5s %4s %10s %10s %7s\n", "shape", "type", "T", "row-major", "packed", "ratio");
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q6_K, DType::Q4_K}) {
    const Shape shapes[] = {{32000, dtype_super_block(t) ? 256 : 288}, {768, 2048}};
    for (const Shape& s : shapes) {
      auto w = make_matrix(t, s.rows, s.cols);
      std::vector<uint8_t> wp(w.size());
      pack_rows8(t, w.data(), s.rows, s.cols, wp.data());
      std::vector<float> X((size_t)(8 * s.cols)), Y((size_t)(8 * s.rows));
      for (size_t i = 0; i < X.size(); i++) X[i] = std::sin((double)i * 0.37);
      for (int64_t T : {1, 4, 8}) {
        const double a = min_cpu_time(0.3, 20, [&] { matmul(t, w.data(), s.rows, s.cols, X.data(), T, Y.data()); });
        const double b = min_cpu_time(0.3, 20, [&] { matmul_rows8(t, wp.data(), s.rows, s.cols, X.data(), T, Y.data()); });
        std::printf("%5lldx%-6lld %-5s %4lld %10.1f %10.1f %6.2fx\n", (long long)s.rows, (long long)s.cols,
                    std::string(dtype_name(t)).c_str(), (long long)T, a * 1e6, b * 1e6, a / b);
      }
    }
  }
}

// One decode-step product (T = 1) as the model runs it: the packed form for the packed types,
// row-major for the float types, and F32 also coded (core/f32_coded.h, "f32c", where the CPU
// has its kernel), over copies of the matrix in one huge-page arena of >= 512 MB (as a loaded
// model's matrices are), so that every call streams from DRAM. The fastest of 3 passes over
// all copies, in GB/s of the weights' bytes as the file holds them (f32c: F32's, so that it
// compares with the F32 row; it reads 7/8 of them) and as a fraction of the read bandwidth
// measured just before; "hot" repeats one copy (L2/L3), the rate of the arithmetic alone.
void decode_table() {
  const int thread_counts[] = {1, 2};
  double read[3] = {0, 0, 0};
  for (int th : thread_counts) read[th] = measure_read_bandwidth(th, 1.0);
  std::printf("\ndecode products (T = 1) from DRAM: GB/s of weights, best of 3 passes over >= 512 MB of copies\n");
  std::printf("read bandwidth: %.1f GB/s on 1 thread, %.1f on 2\n", read[1] / 1e9, read[2] / 1e9);
  std::printf("%-11s %-6s %4s %9s %9s %9s\n", "shape", "type", "thr", "cold", "cold/read", "hot");
  const Shape shapes[] = {{2048, 768}, {768, 2048}};
  struct Form {
    DType t;
    bool coded;
  };
  std::vector<Form> forms = {{DType::F32, false}};
  if (f32_coded_available()) forms.push_back({DType::F32, true});
  for (DType t : {DType::F16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K}) forms.push_back({t, false});
  for (const Shape& s : shapes) {
    std::vector<float> x((size_t)s.cols), y((size_t)s.rows);
    for (int64_t c = 0; c < s.cols; c++) x[c] = std::sin((double)c);
    for (const Form& f : forms) {
      const DType t = f.t;
      auto one = make_matrix(t, s.rows, s.cols);
      const size_t file_bytes = one.size();
      const bool packed = rows8_packable(t, s.rows, s.cols);
      if (packed) {
        std::vector<uint8_t> p(one.size());
        pack_rows8(t, one.data(), s.rows, s.cols, p.data());
        one.swap(p);
      }
      if (f.coded) {
        const F32CodedPlan plan = f32_coded_plan((const float*)one.data(), s.rows, s.cols);
        std::vector<uint8_t> c(plan.bytes);
        f32_coded_pack((const float*)one.data(), s.rows, s.cols, plan, c.data());
        one.swap(c);
      }
      const size_t bytes = (one.size() + 63) / 64 * 64, copies = ((size_t)512 << 20) / bytes + 1;
      HugePages arena(bytes * copies);
      for (size_t k = 0; k < copies; k++) std::memcpy(arena.data + k * bytes, one.data(), one.size());
      auto product = [&](const uint8_t* w) {
        if (packed) matmul_rows8(t, w, s.rows, s.cols, x.data(), 1, y.data());
        else if (f.coded) matmul_f32_coded(w, s.rows, s.cols, x.data(), 1, y.data());
        else matvec(t, w, s.rows, s.cols, x.data(), y.data());
      };
      for (int th : thread_counts) {
        set_threads(th);
        double best = 1e30;
        for (int pass = 0; pass < 3; pass++) {
          const double t0 = now_s();
          for (size_t k = 0; k < copies; k++) product(arena.data + k * bytes);
          best = std::min(best, now_s() - t0);
        }
        const double hot = best_time(0.2, 20, [&] { product(arena.data); });
        const double cold_gbs = (double)file_bytes * copies / best / 1e9;
        std::printf("%5lldx%-5lld %-6s %4d %9.1f %8.0f%% %9.1f\n", (long long)s.rows, (long long)s.cols,
                    f.coded ? "f32c" : std::string(dtype_name(t)).c_str(), th, cold_gbs, 100 * cold_gbs * 1e9 / read[th],
                    file_bytes / hot / 1e9);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "rows8") {
    rows8_table();
    return 0;
  }
  if (argc > 1 && std::string(argv[1]) == "decode") {
    decode_table();
    return 0;
  }
  const Shape shapes[] = {{4096, 4096}, {768, 2048}};
  const int thread_counts[] = {1, 2};
  const int64_t T = 512;
  std::printf("CPU: %s, %d hardware threads\n", cpu_description().c_str(), hardware_threads());
  std::printf("kernels: %s, chosen at run time (CPU has: %s)\n", kernel_variant_name(kernel_variant()),
              cpu_features_string().c_str());

  auto env = [](const char* k) { const char* v = std::getenv(k); return std::string(v ? v : "(unset)"); };
  std::printf("OpenBLAS kernels: %s (OPENBLAS_CORETYPE=%s), OMP_WAIT_POLICY=%s\n", blas_core_name().c_str(),
              env("OPENBLAS_CORETYPE").c_str(), env("OMP_WAIT_POLICY").c_str());
  double sgemm[3] = {0, 0, 0}, copy[3] = {0, 0, 0}, read[3] = {0, 0, 0};
  for (int th : thread_counts) {
    sgemm[th] = measure_sgemm_flops(th, 1.0);
    copy[th] = measure_copy_bandwidth(th, 1.0);
    read[th] = measure_read_bandwidth(th, 1.0);
  }
  std::printf("\n%-8s %16s %16s %16s\n", "threads", "sgemm GFLOP/s", "copy GB/s", "read GB/s");
  for (int th : thread_counts)
    std::printf("%-8d %16.1f %16.1f %16.1f\n", th, sgemm[th] / 1e9, copy[th] / 1e9, read[th] / 1e9);

  std::printf("\nmatvec: GB/s of weight bytes streamed (cold = rotating over >= 512 MB, hot = one matrix)\n");
  std::printf("(/Q4_0: GB/s of weights relative to Q4_0's, same shape and threads, this run)\n");
  std::printf("%-11s %-6s %9s %4s %10s %10s %10s %10s %10s %9s %9s\n", "shape", "type", "MB/matrix", "thr", "cold med",
              "cold p10", "hot best", "med/read", "us/call", "cold/Q4_0", "hot/Q4_0");
  for (const Shape& s : shapes) {
    std::vector<float> x((size_t)s.cols), y((size_t)s.rows);
    for (int64_t c = 0; c < s.cols; c++) x[c] = std::sin((double)c);
    // Q4_0 first, so that every other type's line can show its ratio to Q4_0.
    std::vector<DType> order = {DType::Q4_0};
    for (DType t : kTypes)
      if (t != DType::Q4_0) order.push_back(t);
    double q4_cold[3] = {0, 0, 0}, q4_hot[3] = {0, 0, 0};
    for (DType t : order) {
      auto one = make_matrix(t, s.rows, s.cols);
      const size_t bytes = one.size();
      const size_t copies = std::max<size_t>(1, ((size_t)512 << 20) / bytes + 1);
      std::vector<uint8_t> many(bytes * copies);
      for (size_t k = 0; k < copies; k++) std::memcpy(many.data() + k * bytes, one.data(), bytes);
      for (int th : thread_counts) {
        set_threads(th);
        std::vector<double> times;
        double start = now_s();
        for (int pass = 0; pass < 3 || now_s() - start < 0.5; pass++) {
          for (size_t k = 0; k < copies; k++) {
            double t0 = now_s();
            matvec(t, many.data() + k * bytes, s.rows, s.cols, x.data(), y.data());
            times.push_back(now_s() - t0);
          }
        }
        std::sort(times.begin(), times.end());
        const double med = times[times.size() / 2], p10 = times[times.size() / 10];
        double hot = best_time(0.2, 20, [&] { matvec(t, one.data(), s.rows, s.cols, x.data(), y.data()); });
        const double cold_gbs = bytes / med / 1e9, hot_gbs = bytes / hot / 1e9;
        if (t == DType::Q4_0) q4_cold[th] = cold_gbs, q4_hot[th] = hot_gbs;
        std::printf("%5lldx%-5lld %-6s %9.2f %4d %10.2f %10.2f %10.2f %10.2f %10.1f %9.2f %9.2f\n", (long long)s.rows,
                    (long long)s.cols, std::string(dtype_name(t)).c_str(), bytes / 1048576.0, th, cold_gbs,
                    bytes / p10 / 1e9, hot_gbs, bytes / med / read[th], med * 1e6, cold_gbs / q4_cold[th],
                    hot_gbs / q4_hot[th]);
      }
    }
  }

  std::printf("\nmatmul T=%lld: GFLOP/s and fraction of the 1024^3 sgemm rate\n", (long long)T);
  std::printf("%-11s %-6s %4s %10s %10s\n", "shape", "type", "thr", "GFLOP/s", "/sgemm");
  for (const Shape& s : shapes) {
    std::vector<float> X((size_t)(T * s.cols)), Y((size_t)(T * s.rows));
    for (size_t i = 0; i < X.size(); i++) X[i] = std::sin((double)i * 0.37);
    for (DType t : kTypes) {
      auto w = make_matrix(t, s.rows, s.cols);
      for (int th : thread_counts) {
        set_threads(th);
        double sec = best_time(1.0, 3, [&] { matmul(t, w.data(), s.rows, s.cols, X.data(), T, Y.data()); });
        double gf = 2.0 * s.rows * s.cols * T / sec;
        std::printf("%5lldx%-5lld %-6s %4d %10.1f %10.2f\n", (long long)s.rows, (long long)s.cols,
                    std::string(dtype_name(t)).c_str(), th, gf / 1e9, gf / sgemm[th]);
      }
    }
  }

  // The same matvec in every kernel variant this CPU runs (one thread, hot): what the vector
  // code gains over the scalar fallback. AVX-512 appears only on CPUs that have it.
  std::printf("\nmatvec 768x2048, 1 thread, hot: GB/s of weights per kernel variant\n%-6s", "type");
  const auto variants = supported_kernel_variants();
  for (KernelVariant v : variants) std::printf(" %10s", kernel_variant_name(v));
  std::printf("\n");
  const KernelVariant prev = kernel_variant();
  set_threads(1);
  for (DType t : kTypes) {
    auto w = make_matrix(t, 768, 2048);
    std::vector<float> x(2048, 0.5f), y(768);
    std::printf("%-6s", std::string(dtype_name(t)).c_str());
    for (KernelVariant v : variants) {
      set_kernel_variant(v);
      double sec = best_time(0.2, 5, [&] { matvec(t, w.data(), 768, 2048, x.data(), y.data()); });
      std::printf(" %10.2f", w.size() / sec / 1e9);
    }
    std::printf("\n");
  }
  set_kernel_variant(prev);
  rows8_table();
  return 0;
}
