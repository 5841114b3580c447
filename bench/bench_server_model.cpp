// Writes the random-weight models the server benchmark serves, in Q4_0, which llama.cpp loads
// too: S, a llama of about 24M parameters (32,000-token byte-level vocabulary, 384 wide, 6 layers,
// tied output), whose 13 MB of weights fit in a 32 MB L3, so that a decode step is bound by
// arithmetic; and M, bench_vs_llama's M shape (768 wide, 12 layers, FFN 2048, about 134M
// parameters, 76 MB), whose one-sequence decode step is bound by reading the weights, as every
// real model's is on a CPU.
//   bench_server_model OUT.gguf [S|M]
#include <cstdio>
#include <cstring>

#include "model/synthetic.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && std::strcmp(argv[2], "S") && std::strcmp(argv[2], "M"))) {
    std::fprintf(stderr, "usage: %s OUT.gguf [S|M]\n", argv[0]);
    return 2;
  }
  const bool m_size = argc == 3 && !std::strcmp(argv[2], "M");
  flops::ModelConfig c;
  c.n_vocab = 32000;
  c.n_embd = m_size ? 768 : 384;
  c.n_layer = m_size ? 12 : 6;
  c.n_head = c.n_head_kv = m_size ? 12 : 6;
  c.n_ff = m_size ? 2048 : 1024;
  c.n_ctx_train = 2048;
  c.n_rot = 64;
  flops::SyntheticOptions o;
  o.matrix_type = flops::DType::Q4_0;
  o.tied_output = !m_size;
  auto w = flops::synthetic_model(c, o);
  w.write(argv[1]);
  auto m = flops::load_model(argv[1]);
  std::printf("%s: %lld parameters\n", argv[1], (long long)m->n_params());
  return 0;
}
