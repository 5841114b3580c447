// Engine benchmark: random-weight llama models S and M written with the project's
// GGUF writer, in F32, Q8_0 and Q4_0; prompt processing (512 tokens) and decoding
// (128 tokens) at 1 and 2 threads, against sgemm FLOP/s and copy bandwidth
// measured in the same run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/flop_counter.h"
#include "core/machine.h"
#include "core/threads.h"
#include "model/forward.h"
#include "model/synthetic.h"

using namespace flops;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }

int main(int argc, char** argv) {
  restart_with_passive_omp_wait(argv);
  int pp_tokens = 512, tg_tokens = 128;
  std::vector<std::string> only;
  for (int i = 1; i < argc; i++) only.push_back(argv[i]);  // e.g. "S" or "M"
  struct Size {
    const char* name;
    int dim, layers, heads, ffn;
  };
  std::vector<Size> sizes = {{"S", 288, 6, 6, 768}, {"M", 768, 12, 12, 2048}};
  std::vector<DType> types = {DType::F32, DType::Q8_0, DType::Q4_0};
  std::string dir = std::filesystem::temp_directory_path() / "flops_bench";
  std::filesystem::create_directories(dir);

  std::printf("machine: %s\n", cpu_model_name().c_str());
  double sgemm[3], bw[3];
  for (int t : {1, 2}) {
    set_threads(t);
    sgemm[t] = measure_sgemm_flops(t, 1.0);
    bw[t] = measure_copy_bandwidth(t, 1.0);
    std::printf("threads %d: OpenBLAS sgemm %.1f GFLOP/s, copy bandwidth %.1f GB/s\n", t, sgemm[t] / 1e9, bw[t] / 1e9);
  }
  std::printf("\n%-4s %-5s %3s %10s %12s %9s %10s %11s %8s\n", "size", "type", "thr", "file MB", "pp tok/s", "pp/sgemm",
              "tg tok/s", "tg GB/s", "tg/copy");
  for (auto& s : sizes) {
    if (!only.empty() && std::find(only.begin(), only.end(), s.name) == only.end()) continue;
    for (DType ty : types) {
      ModelConfig c;
      c.n_vocab = 32000;
      c.n_embd = s.dim;
      c.n_layer = s.layers;
      c.n_head = c.n_head_kv = s.heads;
      c.n_ff = s.ffn;
      c.n_ctx_train = 1024;
      c.n_rot = s.dim / s.heads;
      SyntheticOptions o;
      o.matrix_type = ty;
      std::string path = dir + "/" + s.name + "_" + std::string(dtype_name(ty)) + ".gguf";
      synthetic_model(c, o).write(path);
      auto m = load_model(path);
      // Bytes a decode step streams: every matrix except the embedding table (one row of it).
      double wbytes = 0;
      for (auto& t : m->gguf.tensors)
        if (t.shape.size() == 2 && t.name != "token_embd.weight") wbytes += (double)t.n_bytes;
      if (m->tied_output()) wbytes += (double)m->gguf.find_tensor("token_embd.weight")->n_bytes;
      for (int th : {1, 2}) {
        set_threads(th);
        std::vector<int32_t> prompt(pp_tokens);
        for (int i = 0; i < pp_tokens; i++) prompt[i] = (i * 7919) % c.n_vocab;
        KVCache kv = make_kv_cache(c, pp_tokens + tg_tokens);
        std::vector<float> logits;
        forward(*m, kv, make_batch({1, 2, 3, 4, 5, 6, 7, 8}, false), logits);  // warm-up
        kv.clear();
        counter::Scope fl;
        auto t0 = clk::now();
        forward(*m, kv, make_batch(prompt, false), logits);
        double pp_s = secs(t0);
        double pp_flops = (double)fl.elapsed().model() / pp_s;
        auto t1 = clk::now();
        for (int i = 0; i < tg_tokens; i++) forward(*m, kv, make_batch({(int32_t)(i % 256)}, false), logits);
        double tg_s = secs(t1);
        double kv_bytes = 2.0 * c.n_layer * (double)c.kv_dim() * 4 * (pp_tokens + tg_tokens / 2.0);
        double tg_bw = (wbytes + kv_bytes) * tg_tokens / tg_s;
        std::printf("%-4s %-5s %3d %10.1f %12.1f %8.0f%% %10.1f %11.2f %7.0f%%\n", s.name, std::string(dtype_name(ty)).c_str(),
                    th, m->file_size / 1e6, pp_tokens / pp_s, 100.0 * pp_flops / sgemm[th], tg_tokens / tg_s, tg_bw / 1e9,
                    100.0 * tg_bw / bw[th]);
        std::fflush(stdout);
      }
      std::filesystem::remove(path);
    }
  }
  std::printf("\npp/sgemm: prompt-processing FLOP/s (matmuls + attention, counted) over sgemm FLOP/s at the same thread count.\n");
  std::printf("tg GB/s: weight + KV-cache bytes streamed per decoded token x tokens/s; tg/copy: that over the copy bandwidth.\n");
  return 0;
}
