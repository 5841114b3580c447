// Cost of in-context learning against the number of demonstrations N, on a random-weight
// llama model: structured prompting (groups of L tokens: encoding grows as M * L^2, linear
// in N) against one long context holding all N demonstrations (quadratic in N), and the
// per-test cost of each (a test token attends to every demonstration key either way).
//   bench_icl [--threads T] [--max-n N] [--demo-tokens K] [--group-tokens L]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/flop_counter.h"
#include "core/threads.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "prompt/icl.h"

using namespace flops;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Row {
  double enc_flops = 0, enc_s = 0, test_flops = 0, test_s = 0, kv_mb = 0;
};

template <typename Encode>
Row measure(const Model& m, Encode encode, const std::vector<int32_t>& test, const std::vector<std::vector<int32_t>>& labels) {
  Row r;
  counter::Scope s;
  double t0 = now();
  prompt::DemoCache dc = encode();
  r.enc_s = now() - t0;
  r.enc_flops = (double)s.elapsed().model();
  r.kv_mb = dc.kv.bytes() / 1e6;
  counter::Scope s2;
  t0 = now();
  prompt::score_choices(m, dc, test, labels);
  r.test_s = now() - t0;
  r.test_flops = (double)s2.elapsed().model();
  return r;
}
}  // namespace

int main(int argc, char** argv) {
  int threads = 0, max_n = 4096, demo_tokens = 6, L = 256, max_long = 8192;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--threads") threads = v;
    else if (a == "--max-n") max_n = v;
    else if (a == "--demo-tokens") demo_tokens = v;
    else if (a == "--group-tokens") L = v;
    else if (a == "--max-long-tokens") max_long = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 1;
    }
  }
  set_threads(threads);
  ModelConfig c;
  c.arch = Arch::Llama;
  c.arch_name = "llama";
  c.n_vocab = 512;
  c.n_embd = 128;
  c.n_layer = 4;
  c.n_head = 4;
  c.n_head_kv = 4;
  c.n_ff = 352;
  c.n_ctx_train = L + 32;
  c.n_rot = 32;
  c.rope_theta = 10000.0f;
  c.norm_eps = 1e-5f;
  auto m = load_synthetic_model(c, {}, "bench");

  std::vector<int32_t> test = {5, 6, 7, 8};
  std::vector<std::vector<int32_t>> labels = {{9}, {10}, {11}, {12}};
  std::printf("model: llama dim %d, %d layers, random weights; %d tokens per demonstration, groups of <= %d tokens, %d threads\n",
              c.n_embd, c.n_layer, demo_tokens, L, get_threads());
  std::printf("%6s %5s | %-40s | %-40s\n", "N", "M", "structured: encode FLOP, s | test FLOP, s", "one long context: encode FLOP, s | test FLOP, s");
  for (int n = 16; n <= max_n; n *= 2) {
    std::vector<int32_t> all;
    for (int i = 0; i < n * demo_tokens; i++) all.push_back((i * 31 + 7) % 256);
    int per_group = L / demo_tokens;
    std::vector<std::vector<int32_t>> groups;
    for (int i = 0; i < n; i += per_group) {
      int k = std::min(per_group, n - i);
      groups.emplace_back(all.begin() + (size_t)i * demo_tokens, all.begin() + (size_t)(i + k) * demo_tokens);
    }
    const int M = (int)groups.size();
    Row s = measure(*m, [&] { return prompt::encode_structured(*m, groups, (float)M, 8); }, test, labels);
    std::printf("%6d %5d | %9.3g %8.4f | %9.3g %8.5f", n, M, s.enc_flops, s.enc_s, s.test_flops, s.test_s);
    if ((int)all.size() <= max_long) {
      Row l = measure(*m, [&] { return prompt::encode_conventional(*m, all, 8); }, test, labels);
      std::printf(" | %9.3g %8.4f | %9.3g %8.5f", l.enc_flops, l.enc_s, l.test_flops, l.test_s);
    } else {
      std::printf(" | %40s", "(skipped: longer than --max-long-tokens)");
    }
    std::printf("   KV %.1f MB\n", s.kv_mb);
    std::fflush(stdout);
  }
  return 0;
}
