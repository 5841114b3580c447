// Batched decoding: one step of N sequences (one new token each) through forward_multi, as the
// server's scheduler runs it, for N = 1..8, on the server benchmark's model shape (24M llama,
// 32,000 vocabulary, 384 wide, 6 layers, tied output) in the given weight types; then the
// matrix products alone (the layer shapes and the output matrix) for T = 1..8 rows. Types with a
// packed form (core/repack.h: Q4_0) are timed both row-major and repacked 8 rows at a time.
// "x N=1" is the step's tokens/s over one sequence's: the speed-up continuous batching can give.
//   bench_batch [-t THREADS] [--cpu] [--kv f32|f16] [--profile N] [--size S|M] [--prompt 32] [TYPE...]   (types: Q4_0 Q8_0 Q4_K Q6_K F32 ...; default Q4_0)
// --cpu (with -t 1) times by the calling thread's CPU time instead of the wall clock: on a
// machine shared with other work, the kernels' cost without the time slices lost to others.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <ctime>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/repack.h"
#include "core/thread_pool.h"
#include "core/threads.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/synthetic.h"

using namespace flops;
using clk = std::chrono::steady_clock;

namespace {

bool g_cpu = false;
DType g_kv = DType::F32;  // --kv: the caches' type
int g_profile = 0;        // --profile N: only N-sequence packed steps, for 10 s, for a profiler
int g_prompt = 32;        // --prompt N: tokens in each sequence's cache before the timed steps
bool g_m = false;         // --size M: bench_server_model's M shape (768 wide, 12 layers, untied)

double now_s() {
  if (g_cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
  }
  return std::chrono::duration<double>(clk::now().time_since_epoch()).count();
}

// Median of per-call times over at least `reps` calls and `seconds`.
template <typename F>
double median_time(double seconds, int reps, F&& f) {
  std::vector<double> ts;
  const double start = now_s();
  while ((int)ts.size() < reps || now_s() - start < seconds) {
    const double t0 = now_s();
    f();
    ts.push_back(now_s() - t0);
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

// Rows of the matmul table: the decode batches of the server (1..8 sequences), then prompt-sized
// products, where matmul switches to dequantize-then-sgemm past kMatmulMatvecMaxT.
const std::vector<int> kTs = {1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64};

DType parse_type(const std::string& s) {
  for (uint32_t i = 0; i < kDTypeIdLimit; i++)
    if (dtype_known(i) && s == std::string(dtype_name((DType)i))) return (DType)i;
  std::fprintf(stderr, "unknown type %s\n", s.c_str());
  std::exit(2);
}

}  // namespace

int run(int argc, char** argv) {
  restart_with_passive_omp_wait(argv);
  int threads = 2;
  std::vector<DType> types;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "-t") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--cpu")) g_cpu = true;
    else if (!std::strcmp(argv[i], "--profile") && i + 1 < argc) g_profile = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--prompt") && i + 1 < argc) g_prompt = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--size") && i + 1 < argc) {
      const std::string sz = argv[++i];
      if (sz != "S" && sz != "M") {
        std::fprintf(stderr, "--size must be S or M, got %s\n", sz.c_str());
        return 2;
      }
      g_m = sz == "M";
    } else if (!std::strcmp(argv[i], "--kv") && i + 1 < argc) g_kv = kv_cache_type_from_name(argv[++i], "--kv");
    else types.push_back(parse_type(argv[i]));
  }
  if (types.empty()) types.push_back(DType::Q4_0);
  set_threads(threads);
  set_pool_threads(threads);
  if (g_cpu && threads != 1) {
    std::fprintf(stderr, "--cpu needs -t 1 (only the calling thread's time is counted)\n");
    return 2;
  }
  std::printf("threads %d, %s time\n", threads, g_cpu ? "CPU" : "wall");

  for (DType ty : types) {
    ModelConfig c;
    c.n_vocab = 32000;
    c.n_embd = 384;
    c.n_layer = 6;
    c.n_head = c.n_head_kv = 6;
    c.n_ff = 1024;
    c.n_ctx_train = 2048;
    c.n_rot = 64;
    if (g_m) c.n_embd = 768, c.n_layer = 12, c.n_head = c.n_head_kv = 12, c.n_ff = 2048;
    SyntheticOptions o;
    o.matrix_type = ty;
    o.tied_output = !g_m;
    auto m = load_synthetic_model(c, o);
    // Median time of one decode step of n sequences (one new token each, after a --prompt-token prompt).
    auto step_time = [&](const Model& mm, int n) {
      std::vector<KVCache> kv;
      for (int i = 0; i < n; i++) kv.push_back(make_kv_cache(c, 512, {g_kv, g_kv}));
      std::vector<std::vector<float>> logits;
      {
        std::vector<SeqInput> pre(n);
        for (int i = 0; i < n; i++) {
          pre[i].kv = &kv[i];
          for (int t = 0; t < g_prompt; t++) pre[i].tokens.push_back(1 + (t * 7 + i) % 250);
        }
        forward_multi(mm, pre, logits);
      }
      int step = 0;
      return median_time(g_profile ? 10.0 : 1.0, 20, [&] {
        std::vector<SeqInput> in(n);
        for (int i = 0; i < n; i++) {
          in[i].kv = &kv[i];
          in[i].tokens = {1 + (step + i) % 250};
        }
        forward_multi(mm, in, logits);
        if (++step % 64 == 0)
          for (auto& k : kv) k.truncate(g_prompt);
      });
    };
    // The same model with its matrices repacked for decoding (model.h: repack_for_decode), timed
    // alternately with the row-major one, step count by step count.
    auto packed = load_synthetic_model(c, o);
    const bool has_packed = repack_for_decode(*packed) > 0;
    std::printf("\n%s: forward_multi, N sequences x 1 new token (after a %d-token prompt each)%s\n", std::string(dtype_name(ty)).c_str(), g_prompt,
                has_packed ? "; row-major weights, then repacked 8 rows at a time" : "");
    std::printf("%3s %10s %10s %8s", "N", "step ms", "tok/s", "x N=1");
    if (has_packed) std::printf(" %12s %10s %8s %9s", "packed ms", "tok/s", "x N=1", "speed-up");
    std::printf("\n");
    double base = 0, base_p = 0;
    if (g_profile) {
      std::printf("%3d %10.3f (packed)\n", g_profile, 1e3 * step_time(has_packed ? *packed : *m, g_profile));
      continue;
    }
    for (int n = 1; n <= 8; n++) {
      const double t = step_time(*m, n);
      const double tps = n / t;
      if (n == 1) base = tps;
      std::printf("%3d %10.3f %10.0f %7.2fx", n, t * 1e3, tps, tps / base);
      if (has_packed) {
        const double tp = step_time(*packed, n), tpp = n / tp;
        if (n == 1) base_p = tpp;
        std::printf(" %12.3f %10.0f %7.2fx %8.2fx", tp * 1e3, tpp, tpp / base_p, t / tp);
      }
      std::printf("\n");
    }

    std::printf("\n%s: matmul alone, microseconds per call (x T=1: time over T=1's)\n", std::string(dtype_name(ty)).c_str());
    const int64_t shapes[][2] = {{384, 384}, {1024, 384}, {384, 1024}, {32000, 384}};
    std::printf("%14s", "rows x cols");
    for (int T : kTs) std::printf(" %9s%-3d", "T=", T);
    std::printf("\n");
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& s : shapes) {
      const int64_t rows = s[0], cols = s[1];
      std::vector<float> wf(rows * cols);
      for (auto& v : wf) v = 0.02f * nd(rng);
      std::vector<uint8_t> w(dtype_row_bytes(ty, cols) * rows);
      for (int64_t r = 0; r < rows; r++) quantize_row(ty, wf.data() + r * cols, w.data() + r * dtype_row_bytes(ty, cols), cols);
      std::vector<float> x(kTs.back() * cols), y(kTs.back() * rows);
      for (auto& v : x) v = nd(rng);
      std::printf("%7lld x %4lld", (long long)rows, (long long)cols);
      double t1 = 0;
      for (int T : kTs) {
        const double t = median_time(0.3, 10, [&] { matmul(ty, w.data(), rows, cols, x.data(), T, y.data()); });
        if (T == 1) t1 = t;
        std::printf(" %6.0f %5.1fx", t * 1e6, t / t1);
      }
      std::printf("\n");
      if (!rows8_packable(ty, rows, cols)) continue;
      std::vector<uint8_t> wp(w.size());
      pack_rows8(ty, w.data(), rows, cols, wp.data());
      std::printf("%14s", "packed");
      for (int T : kTs) {
        const double t = median_time(0.3, 10, [&] { matmul_rows8(ty, wp.data(), rows, cols, x.data(), T, y.data()); });
        std::printf(" %6.0f %5.1fx", t * 1e6, t / t1);
      }
      std::printf("   (x: over the row-major T=1)\n");
    }
  }
  return 0;
}

// A model shape the type cannot hold (Q4_K, Q6_K: rows of 256) is a one-line error, after the
// lines already printed (stdout is flushed first).
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "bench_batch: %s\n", e.what());
    return 1;
  }
}
