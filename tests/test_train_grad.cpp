// The training forward/backward against an independent, naive double-precision
// reference of the llama architecture: the losses agree, and every gradient
// agrees with central finite differences of the reference.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/threads.h"
#include "train/forward_backward.h"
#include "train/optim.h"
#include "train/rng.h"
#include "train/trainer.h"
#include "train_reference.h"

using namespace flops;
using namespace flops::train;

namespace {

ModelConfig tiny_config(Arch arch = Arch::Llama) {
  ModelConfig c;
  c.arch = arch;
  c.arch_name = arch == Arch::Qwen2 ? "qwen2" : "llama";
  c.n_vocab = 37;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 32;
  c.n_ctx_train = 8;
  c.rope_theta = 100.0f;  // a small base so that every rotary pair turns noticeably over 8 positions
  return c;
}

void randomize(Model& m, uint64_t seed) {
  Rng r(seed);
  for (auto& t : m.tensors) {
    bool norm = t.name.ends_with("norm.weight");
    bool bias = t.name.ends_with(".bias");
    for (size_t i = 0; i < t.count; i++) {
      double z = r.normal();
      m.w[t.offset + i] = (float)(norm ? 1.0 + 0.2 * z : bias ? 0.1 * z : 0.3 * z);
    }
  }
}

// ignore_every > 0: every ignore_every-th target is kIgnoreTarget (trained-on-answers-only).
void check_gradients(Model m, int B, int T, int ignore_every = 0) {
  randomize(m, 7);
  const int N = B * T, V = m.cfg.n_vocab;
  std::vector<int32_t> tok(N), tgt(N);
  Rng r(3);
  for (int i = 0; i < N; i++) tok[i] = (int32_t)(r.next() % V), tgt[i] = (int32_t)(r.next() % V);
  if (ignore_every > 0)
    for (int i = 0; i < N; i += ignore_every) tgt[i] = kIgnoreTarget;

  Activations a;
  double loss = forward(m, a, tok.data(), tgt.data(), B, T);
  std::fill(m.g.begin(), m.g.end(), 0.0f);
  backward(m, a, tok.data(), tgt.data(), 1.0f);

  std::vector<double> wd(m.w.begin(), m.w.end());
  double ref = ref_loss(m, wd, tok, tgt, B, T);
  EXPECT_NEAR(loss, ref, 1e-5 * std::abs(ref)) << "forward differs from the reference";

  const double h = 1e-5;
  for (const auto& t : m.tensors) {
    // Every element of small tensors, a deterministic spread of 48 in larger ones.
    const size_t stride = std::max<size_t>(1, t.count / 48);
    double err2 = 0, ref2 = 0, worst = 0;
    for (size_t i = 0; i < t.count; i += stride) {
      size_t j = t.offset + i;
      double keep = wd[j];
      wd[j] = keep + h;
      double lp = ref_loss(m, wd, tok, tgt, B, T);
      wd[j] = keep - h;
      double lm = ref_loss(m, wd, tok, tgt, B, T);
      wd[j] = keep;
      double fd = (lp - lm) / (2 * h);
      double an = m.g[j];
      err2 += (fd - an) * (fd - an);
      ref2 += fd * fd;
      worst = std::max(worst, std::abs(fd - an));
    }
    ASSERT_GT(ref2, 1e-12) << t.name << " receives no gradient";
    double rel = std::sqrt(err2 / ref2);
    EXPECT_LT(rel, 2e-3) << t.name << ": relative gradient error " << rel << " (worst abs " << worst << ")";
  }
}

}  // namespace

TEST(TrainGrad, LlamaTiedOutputMatchesFiniteDifferences) {
  check_gradients(make_model(tiny_config(), true), 2, 8);
}

TEST(TrainGrad, LlamaSeparateOutputMatchesFiniteDifferences) {
  check_gradients(make_model(tiny_config(), false), 1, 8);
}

TEST(TrainGrad, Qwen2NeoxRopeAndBiasesMatchFiniteDifferences) {
  check_gradients(make_model(tiny_config(Arch::Qwen2), false), 1, 8);
}

TEST(TrainGrad, PartialRotaryDimsMatchFiniteDifferences) {
  ModelConfig c = tiny_config();
  c.n_rot = 2;  // head dim 4: only the first pair of each head rotates
  check_gradients(make_model(c, true), 1, 6);
}

TEST(TrainGrad, IgnoredTargetsAddNothingToLossOrGradient) {
  // Every other target ignored: the reference loss skips them, so both the loss and the
  // finite-difference gradients must match it.
  check_gradients(make_model(tiny_config(), true), 2, 8, 2);
}

TEST(TrainGrad, MaskTargetsKeepsOnlyTheListedTokens) {
  std::vector<int32_t> y = {5, 7, 9, 7, 1};
  EXPECT_EQ(mask_targets(y.data(), y.size(), {}), 5);  // no list: everything counts
  EXPECT_EQ(y, (std::vector<int32_t>{5, 7, 9, 7, 1}));
  EXPECT_EQ(mask_targets(y.data(), y.size(), {1, 7}), 3);
  EXPECT_EQ(y, (std::vector<int32_t>{kIgnoreTarget, 7, kIgnoreTarget, 7, 1}));
}

TEST(TrainGrad, InitialLossIsNearLogVocab) {
  Model m = make_model(tiny_config(), true);
  init_weights(m, 1);
  std::vector<int32_t> tok(16), tgt(16);
  for (int i = 0; i < 16; i++) tok[i] = i, tgt[i] = (i * 5 + 1) % 37;
  Activations a;
  double mean = forward(m, a, tok.data(), tgt.data(), 2, 8) / 16;
  EXPECT_NEAR(mean, std::log(37.0), 0.05);
}

TEST(TrainGrad, InitStdSetsTheSpreadOfTheMatrices) {
  // The std of a plain matrix (the token embedding) follows the option; residual projections
  // are scaled down by 1/sqrt(2 * layers); norm gains stay 1.
  for (float sd : {0.02f, 0.125f}) {
    Model m = make_model(tiny_config(), true);
    init_weights(m, 1, sd);
    auto spread = [&](const TensorRef& t) {
      double ss = 0;
      for (size_t i = 0; i < t.count; i++) ss += (double)m.w[t.offset + i] * m.w[t.offset + i];
      return std::sqrt(ss / (double)t.count);
    };
    const TensorRef* emb = m.find(tensor_names::token_embd);
    ASSERT_NE(emb, nullptr);
    EXPECT_NEAR(spread(*emb), sd, 0.1 * sd);
    const TensorRef* wo = m.find("blk.0." + std::string(tensor_names::attn_output));
    ASSERT_NE(wo, nullptr);
    EXPECT_NEAR(spread(*wo), sd / std::sqrt(2.0 * m.cfg.n_layer), 0.15 * sd);
    EXPECT_EQ(m.w[m.find(tensor_names::output_norm)->offset], 1.0f);
  }
  Model m = make_model(tiny_config(), true);
  try {
    init_weights(m, 1, 0.0f);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("init std must be a positive number"), std::string::npos) << e.what();
  }
}

TEST(TrainGrad, CountsTheAnalyticFlops) {
  Model m = make_model(tiny_config(), false);
  init_weights(m, 1);
  std::vector<int32_t> tok(16, 3), tgt(16, 4);
  Activations a;
  counter::Scope s;
  forward(m, a, tok.data(), tgt.data(), 2, 8);
  backward(m, a, tok.data(), tgt.data(), 1.0f / 16);
  EXPECT_EQ((double)s.elapsed().model(), train_flops_per_step(m.cfg, 2, 8));
}

TEST(TrainGrad, RejectsOutOfVocabularyTokens) {
  Model m = make_model(tiny_config(), true);
  std::vector<int32_t> tok(8, 3), tgt(8, 37);
  Activations a;
  try {
    forward(m, a, tok.data(), tgt.data(), 1, 8);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("outside the vocabulary"), std::string::npos) << e.what();
  }
}

TEST(TrainGrad, TinyModelOverfitsOneBatch) {
  ModelConfig c = tiny_config();
  c.n_embd = 32;
  c.n_ff = 64;
  c.n_ctx_train = 16;
  Model m = make_model(c, true);
  init_weights(m, 5);
  const int B = 2, T = 16;
  std::vector<int32_t> tok(B * T), tgt(B * T);
  Rng r(11);
  for (int i = 0; i < B * T; i++) tok[i] = (int32_t)(r.next() % 37);
  for (int b = 0; b < B; b++) {
    tok[b * T] = b;  // distinct first tokens so that every target is determined by its prefix
    for (int t = 0; t < T; t++) tgt[b * T + t] = t + 1 < T ? tok[b * T + t + 1] : 36 - b;
  }
  Activations a;
  AdamState st;
  AdamWConfig oc;
  oc.weight_decay = 0;
  double first = 0, last = 0;
  for (int step = 0; step < 300; step++) {
    double loss = forward(m, a, tok.data(), tgt.data(), B, T) / (B * T);
    if (step == 0) first = loss;
    last = loss;
    std::fill(m.g.begin(), m.g.end(), 0.0f);
    backward(m, a, tok.data(), tgt.data(), 1.0f / (B * T));
    clip_grad_norm(m.g, 1.0f);
    adamw_update(m, st, lr_at(step, 10, 300, 1e-2f, 1e-3f), oc);
  }
  EXPECT_GT(first, 3.0);
  EXPECT_LT(last, 0.02) << "did not overfit one batch";
}

TEST(TrainGrad, ParallelPathsMatchOneThread) {
  // Large enough for the banded sgemm and the per-head attention tasks to run in parallel.
  ModelConfig c = tiny_config();
  c.n_embd = 128;
  c.n_ff = 256;
  c.n_vocab = 300;
  c.n_ctx_train = 128;
  const int B = 4, T = 128;
  std::vector<int32_t> tok(B * T), tgt(B * T);
  Rng r(8);
  for (int i = 0; i < B * T; i++) tok[i] = (int32_t)(r.next() % 300), tgt[i] = (int32_t)(r.next() % 300);
  auto run = [&](int threads, double* loss) {
    set_threads(threads);
    Model m = make_model(c, false);
    randomize(m, 2);
    Activations a;
    *loss = forward(m, a, tok.data(), tgt.data(), B, T);
    backward(m, a, tok.data(), tgt.data(), 1.0f / (B * T));
    return m.g;
  };
  double l1, l2;
  std::vector<float> g1 = run(1, &l1), g2 = run(2, &l2);
  set_threads(0);
  EXPECT_NEAR(l1, l2, 1e-5 * l1);
  double err = 0, ref = 0;
  for (size_t i = 0; i < g1.size(); i++) err += (g1[i] - g2[i]) * (double)(g1[i] - g2[i]), ref += (double)g1[i] * g1[i];
  EXPECT_LT(std::sqrt(err / ref), 1e-5);
  // The same thread count twice gives identical bits.
  double l3;
  std::vector<float> g3 = run(2, &l3);
  set_threads(0);
  EXPECT_EQ(l2, l3);
  EXPECT_EQ(g2, g3);
}
