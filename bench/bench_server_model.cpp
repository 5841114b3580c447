// Writes the random-weight model the server benchmark serves: a llama of about 24M parameters
// (32,000-token byte-level vocabulary, 384 wide, 6 layers) in Q4_0, which llama.cpp loads too.
//   bench_server_model OUT.gguf
#include <cstdio>

#include "model/synthetic.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.gguf\n", argv[0]);
    return 2;
  }
  flops::ModelConfig c;
  c.n_vocab = 32000;
  c.n_embd = 384;
  c.n_layer = 6;
  c.n_head = 6;
  c.n_head_kv = 6;
  c.n_ff = 1024;
  c.n_ctx_train = 2048;
  c.n_rot = 64;
  flops::SyntheticOptions o;
  o.matrix_type = flops::DType::Q4_0;
  o.tied_output = true;
  auto w = flops::synthetic_model(c, o);
  w.write(argv[1]);
  auto m = flops::load_model(argv[1]);
  std::printf("%s: %lld parameters\n", argv[1], (long long)m->n_params());
  return 0;
}
