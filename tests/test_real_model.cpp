// The engine on a real pretrained model (stories260K, see ../shared/data/models/SOURCE.md):
// greedy text and perplexities must agree with llama.cpp's figures.
#include <gtest/gtest.h>

#include "core/mmap_file.h"
#include "eval/perplexity.h"
#include "model/generate.h"
#include "test_util.h"

using namespace flops;

namespace {
std::unique_ptr<Model> stories() {
  std::string d = test::shared_data_dir();
  if (d.empty()) return nullptr;
  return load_model(d + "/models/stories260K.gguf");
}
}  // namespace

TEST(RealModel, GreedyGenerationMatchesReference) {
  auto m = stories();
  if (!m) GTEST_SKIP() << "../shared/data not present";
  SamplingParams sp;
  sp.temp = 0;
  GenerateResult r = generate(*m, "Once upon a time", 40, 512, sp, true);
  std::string full = "Once upon a time" + r.text;
  const std::string want =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";
  EXPECT_EQ(full.substr(0, want.size()), want) << full;
}

TEST(RealModel, PerplexityMatchesLlamaCpp) {
  auto m = stories();
  if (!m) GTEST_SKIP() << "../shared/data not present";
  std::string text = read_text_file(test::shared_data_dir() + "/tinystories-slices/tinystories_valid_head.txt");
  std::vector<int32_t> toks = m->tok.encode(text, true);
  // llama.cpp reports n_chunks * C = 392,960 tokens for C = 128 and 256, and 392,704 for C = 512.
  EXPECT_EQ(toks.size() / 128 * 128, 392960u);
  EXPECT_EQ(toks.size() / 512 * 512, 392704u);
  PerplexityResult r128 = perplexity_chunks(*m, toks, 128, m->tok.bos());
  EXPECT_EQ(r128.n_chunks, 3070);
  EXPECT_NEAR(r128.ppl, 4.9693, 0.00005 + 1e-4);
  EXPECT_NEAR(r128.ppl_err, 0.0243, 0.0001);
  PerplexityResult r256 = perplexity_chunks(*m, toks, 256, m->tok.bos());
  EXPECT_NEAR(r256.ppl, 4.8752, 1.5e-4);
}
