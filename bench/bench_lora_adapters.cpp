// Writes the adapters the many-adapter server benchmark serves: N random rank-R LoRA adapters
// of BASE on every matrix (B nonzero, as after training), DIR/a1.gguf ... DIR/aN.gguf, in
// llama.cpp's adapter format. Serving costs depend on the rank and the matrices, not on the
// values, so random adapters measure what trained ones would.
//   bench_lora_adapters BASE.gguf DIR [N=8] [RANK=8]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "model/lora_adapter.h"
#include "model/model.h"
#include "train/lora.h"
#include "train/rng.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: %s BASE.gguf DIR [N=8] [RANK=8]\n", argv[0]);
    return 2;
  }
  try {
    const int n = argc > 3 ? std::atoi(argv[3]) : 8, rank = argc > 4 ? std::atoi(argv[4]) : 8;
    if (n < 1 || rank < 1) flops::fail("N and RANK must be >= 1");
    auto base = flops::load_model(argv[1]);
    std::filesystem::create_directories(argv[2]);
    for (int i = 1; i <= n; i++) {
      flops::train::LoraSpec s;
      s.rank = rank;
      s.targets = {"q", "k", "v", "o", "gate", "up", "down"};
      flops::train::Model p = flops::train::make_lora_params(*base, s, 1000 + i);
      flops::train::Rng r(1000 + i);
      for (float& v : p.w) v = (float)(0.03 * r.normal());
      const std::string path = std::string(argv[2]) + "/a" + std::to_string(i) + ".gguf";
      flops::save_lora_adapter(flops::train::lora_adapter_of(p, "llama", 2.0f * rank), path, "a" + std::to_string(i));
    }
    std::printf("%d rank-%d adapters of %s in %s\n", n, rank, argv[1], argv[2]);
  } catch (const flops::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
