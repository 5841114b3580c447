// Training throughput: tokens/s and MFU (counted model FLOP/s over this machine's sgemm
// FLOP/s, measured in the same run) for one training step (forward + backward + AdamW)
// of dim 512, 8 layers, 8 heads, FFN 1376, context 256, vocab 4096, batch 16.
// Usage: bench_train [steps=3] [threads...=1 2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/flop_counter.h"
#include "core/machine.h"
#include "core/threads.h"
#include "train/forward_backward.h"
#include "train/optim.h"
#include "train/rng.h"

using namespace flops;
using namespace flops::train;

int main(int argc, char** argv) {
  int steps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  std::vector<int> thread_counts;
  for (int i = 2; i < argc; i++) thread_counts.push_back(std::atoi(argv[i]));
  if (thread_counts.empty()) thread_counts = {1, 2};

  ModelConfig c;
  c.n_vocab = 4096;
  c.n_embd = 512;
  c.n_layer = 8;
  c.n_head = 8;
  c.n_head_kv = 8;
  c.n_ff = 1376;
  c.n_ctx_train = 256;
  const int B = 16, T = 256;
  Model m = make_model(c, true);
  init_weights(m, 1);
  std::vector<int32_t> tok(B * T), tgt(B * T);
  Rng r(2);
  for (auto& t : tok) t = (int32_t)(r.next() % c.n_vocab);
  for (auto& t : tgt) t = (int32_t)(r.next() % c.n_vocab);
  Activations a;
  AdamState st;
  std::printf("model: %zu parameters, %.1f GFLOP per step (B=%d T=%d)\n", m.n_params(),
              train_flops_per_step(c, B, T) / 1e9, B, T);
  for (int th : thread_counts) {
    // The machine is shared: sgemm is measured before and after the steps and the higher figure
    // kept; steps are timed one by one and both the mean and the best are reported.
    double sgemm = measure_sgemm_flops(th, 1.0);
    set_threads(th);
    auto step = [&] {
      forward(m, a, tok.data(), tgt.data(), B, T);
      std::fill(m.g.begin(), m.g.end(), 0.0f);
      backward(m, a, tok.data(), tgt.data(), 1.0f / (B * T));
      clip_grad_norm(m.g, 1.0f);
      adamw_update(m, st, 1e-4f, AdamWConfig{});
    };
    step();  // warm-up: allocation, page faults
    double total = 0, best = 1e30, flops = 0;
    for (int i = 0; i < steps; i++) {
      counter::Scope fs;
      auto t0 = std::chrono::steady_clock::now();
      step();
      double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      flops = (double)fs.elapsed().model();
      total += sec;
      best = std::min(best, sec);
    }
    sgemm = std::max(sgemm, measure_sgemm_flops(th, 1.0));
    double mean = total / steps;
    std::printf("threads %d: sgemm %.1f GFLOP/s | step mean %.2f s, best %.2f s | %.0f tokens/s (best %.0f) | "
                "%.1f GFLOP/s (best %.1f) | MFU %.1f%% (best %.1f%%)\n",
                th, sgemm / 1e9, mean, best, B * T / mean, B * T / best, flops / mean / 1e9, flops / best / 1e9,
                100.0 * flops / mean / sgemm, 100.0 * flops / best / sgemm);
    std::fflush(stdout);
  }
  return 0;
}
