// Quantized weights stay quantized in memory: a Q4_0 model's resident size is
// about its file size plus the KV cache, not the size of its F32 expansion.
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include "core/matmul.h"
#include "model/forward.h"
#include "model/synthetic.h"
#include "test_util.h"

using namespace flops;

namespace {
double resident_bytes() {
  std::ifstream f("/proc/self/statm");
  long pages_total = 0, pages_res = 0;
  f >> pages_total >> pages_res;
  return (double)pages_res * (double)sysconf(_SC_PAGESIZE);
}
}  // namespace

TEST(Memory, Q4_0ModelIsNotExpandedToF32) {
  ModelConfig c;
  c.n_vocab = 8000;
  c.n_embd = 512;
  c.n_layer = 4;
  c.n_head = c.n_head_kv = 8;
  c.n_ff = 1408;
  c.n_ctx_train = 256;
  c.n_rot = 64;
  std::string path = test::temp_dir() + "/q4.gguf";
  {
    SyntheticOptions o;
    o.matrix_type = DType::Q4_0;
    synthetic_model(c, o).write(path);
  }
  // Let OpenBLAS and the allocator set up their buffers before the baseline.
  {
    std::vector<float> w(512 * 512, 0.01f), x(64 * 512, 1.0f), y(64 * 512);
    matmul(DType::F32, w.data(), 512, 512, x.data(), 64, y.data());
  }
  double before = resident_bytes();
  auto m = load_model(path);
  KVCache kv = make_kv_cache(c, 64);
  std::vector<float> logits;
  forward(*m, kv, make_batch({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, false), logits);
  for (int i = 0; i < 8; i++) forward(*m, kv, make_batch({(int32_t)(20 + i)}, false), logits);
  double grown = resident_bytes() - before;
  double f32_size = (double)c.n_params_matmul() * 4 + (double)c.n_vocab * c.n_embd * 4;
  double allowed = (double)m->file_size + (double)kv.bytes() + 24e6;  // activations, tiles, logits
  EXPECT_LT(grown, allowed) << "file " << m->file_size << " B, KV " << kv.bytes() << " B";
  EXPECT_LT(grown, 0.5 * f32_size);
}

// An inference load (load_for_inference: ModelLoadOptions::repack) moves an F32 model's matrices out of the file
// mapping into the huge-page arena, without a second copy staying resident (the file's pages are
// released) and without changing a single logit (a copy, not a conversion). The untied
// embedding matrix stays in the file: only the rows of the tokens seen are read from it.
TEST(Memory, InferenceLoadMovesF32MatricesIntoTheArena) {
  ModelConfig c;
  c.n_vocab = 4000;
  c.n_embd = 256;
  c.n_layer = 3;
  c.n_head = c.n_head_kv = 4;
  c.n_ff = 704;
  c.n_ctx_train = 128;
  c.n_rot = 64;
  std::string path = test::temp_dir() + "/f32_arena.gguf";
  synthetic_model(c, SyntheticOptions{}).write(path);
  auto plain = load_model(path);
  double before = resident_bytes();
  auto moved = load_for_inference(path);
  const double grown = resident_bytes() - before;
  ASSERT_NE(moved->arena.data, nullptr);
  auto inside = [&](const Weight& w) {
    return (const uint8_t*)w.data >= moved->arena.data && (const uint8_t*)w.data < moved->arena.data + moved->arena.size;
  };
  EXPECT_TRUE(inside(moved->output));
  EXPECT_TRUE(inside(moved->layers[0].wq));
  EXPECT_TRUE(inside(moved->layers[2].w_down));
  EXPECT_FALSE(moved->layers[0].wq.rows8);
  EXPECT_NE(moved->layers[0].wq.file, nullptr);  // LoRA lookups still find it by its bytes in the file
  if (!moved->tied_output()) {
    EXPECT_FALSE(inside(moved->tok_embd));
  }
  const double matrices = (double)c.n_params_matmul() * 4;
  EXPECT_LT(grown, 1.5 * matrices) << "the file's pages were not released";
  // Where the CPU has the coded row dot, the matrices 128-multiple wide are coded (7/8 of the
  // bytes) and the others copied; either way the logits are the same bits, for a prompt of
  // decode size, one of GEMM size and single-token steps.
  EXPECT_EQ(moved->layers[0].wq.f32_coded, f32_coded_available());
  EXPECT_FALSE(moved->layers[0].w_down.f32_coded);  // 704 columns: not whole blocks of 128
  std::vector<float> a, b;
  KVCache ka = make_kv_cache(c, 64), kb = make_kv_cache(c, 64);
  forward(*plain, ka, make_batch({1, 2, 3, 4, 5}, false), a);
  forward(*moved, kb, make_batch({1, 2, 3, 4, 5}, false), b);
  EXPECT_EQ(a, b);
  std::vector<int32_t> long_prompt;
  for (int i = 0; i < 20; i++) long_prompt.push_back(7 + 13 * i);
  forward(*plain, ka, make_batch(long_prompt, false), a);
  forward(*moved, kb, make_batch(long_prompt, false), b);
  EXPECT_EQ(a, b);
  for (int32_t t : {42, 43}) {
    forward(*plain, ka, make_batch({t}, false), a);
    forward(*moved, kb, make_batch({t}, false), b);
    EXPECT_EQ(a, b) << "token " << t;
  }
}
