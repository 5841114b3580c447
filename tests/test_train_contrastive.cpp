// The contrastive (InfoNCE) objective: its gradient against central finite differences,
// padding that changes nothing, training that separates pairs, and the pair builders.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "core/threads.h"
#include "train/contrastive.h"

using namespace flops;
using namespace flops::train;

namespace {

ModelConfig tiny() {
  ModelConfig c;
  c.n_vocab = 40;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.n_ff = 24;
  c.n_ctx_train = 16;
  return c;
}

TokenPairs random_pairs(int n, uint64_t seed, bool related) {
  std::mt19937 rng((uint32_t)seed);
  TokenPairs p;
  for (int i = 0; i < n; i++) {
    std::vector<int32_t> a = {1}, b = {1};  // BOS
    int la = 3 + (int)(rng() % 6), lb = 3 + (int)(rng() % 6);
    int topic = 2 + (int)(rng() % 38);
    for (int k = 0; k < la; k++) a.push_back(related && k % 2 ? topic : 2 + (int)(rng() % 38));
    for (int k = 0; k < lb; k++) b.push_back(related && k % 2 == 0 ? topic : 2 + (int)(rng() % 38));
    p.a.push_back(a);
    p.b.push_back(b);
  }
  return p;
}

}  // namespace

TEST(TrainContrastive, GradientMatchesFiniteDifferences) {
  set_threads(1);
  Model m = make_model(tiny(), true);
  init_weights(m, 3, 0.3f);
  TokenPairs p = random_pairs(4, 5, false);
  std::vector<size_t> idx = {0, 1, 2, 3};
  ContrastiveOptions o;
  o.tau = 0.5f;
  Activations act;
  std::fill(m.g.begin(), m.g.end(), 0.0f);
  double loss = contrastive_batch(m, act, p, idx, o, true);
  EXPECT_GT(loss, 0);
  std::vector<float> g = m.g;
  const float h = 1e-2f;
  for (const auto& t : m.tensors) {
    const size_t stride = std::max<size_t>(1, t.count / 40);
    double err2 = 0, ref2 = 0;
    for (size_t i = 0; i < t.count; i += stride) {
      size_t j = t.offset + i;
      float keep = m.w[j];
      m.w[j] = keep + h;
      double lp = contrastive_batch(m, act, p, idx, o, false);
      m.w[j] = keep - h;
      double lm = contrastive_batch(m, act, p, idx, o, false);
      m.w[j] = keep;
      double fd = (lp - lm) / (2 * h);
      err2 += (fd - g[j]) * (fd - g[j]);
      ref2 += fd * fd;
    }
    ASSERT_GT(ref2, 1e-14) << t.name << " receives no gradient";
    EXPECT_LT(std::sqrt(err2 / ref2), 2e-2) << t.name;
  }
}

TEST(TrainContrastive, PaddingChangesNothing) {
  set_threads(1);
  Model m = make_model(tiny(), true);
  init_weights(m, 4, 0.3f);
  TokenPairs p = random_pairs(4, 9, false);
  std::vector<size_t> idx = {0, 1, 2, 3};
  ContrastiveOptions o;
  Activations act;
  o.pad_token = 0;
  double a = contrastive_batch(m, act, p, idx, o, false);
  o.pad_token = 7;
  EXPECT_NEAR(contrastive_batch(m, act, p, idx, o, false), a, 1e-6);
  // A longer text elsewhere in the batch pads the others more: their embeddings stay the same.
  TokenPairs q = p;
  q.b[3].resize(15, 5);
  std::vector<size_t> three = {0, 1, 2};
  double l3 = contrastive_batch(m, act, p, three, o, false);
  TokenPairs r = p;
  r.a.push_back(q.b[3]);
  r.b.push_back(q.b[3]);
  EXPECT_NEAR(contrastive_batch(m, act, r, three, o, false), l3, 1e-6);
}

TEST(TrainContrastive, TrainingSeparatesRelatedPairs) {
  set_threads(1);
  Model m = make_model(tiny(), true);
  init_weights(m, 1, 0.2f);
  TokenPairs train = random_pairs(256, 1, true), val = random_pairs(64, 2, true);
  ContrastiveOptions o;
  o.steps = 150;
  o.batch = 16;
  o.lr = 3e-3f;
  o.min_lr = 3e-4f;
  o.warmup = 10;
  o.tau = 0.1f;
  o.eval_every = 150;
  Activations act;
  std::vector<size_t> idx;
  for (size_t i = 0; i < 16; i++) idx.push_back(i);
  double before_acc = 0;
  contrastive_batch(m, act, val, idx, o, false, &before_acc);
  auto h = train_contrastive(m, train, val, o);
  ASSERT_EQ(h.size(), 150u);
  EXPECT_LT(h.back().val_loss, h.front().loss);
  EXPECT_GT(h.back().val_acc, before_acc + 0.3) << "before " << before_acc;
  EXPECT_GT(h.back().val_acc, 0.6);
}

TEST(TrainContrastive, PairsFromText) {
  std::string text =
      "The wing lifts the aircraft. It does so by turning the air downwards over its whole span, as every "
      "textbook says at length.\n\nA second paragraph follows here with enough words to be a passage of its "
      "own in the list.\n\nshort one\n";
  auto pairs = make_text_pairs(text, {"opening", "neighbour"});
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].a, "The wing lifts the aircraft.");
  EXPECT_EQ(pairs[0].b.substr(0, 10), "It does so");
  EXPECT_EQ(pairs[1].b.substr(0, 8), "A second");
  EXPECT_THROW(make_text_pairs(text, {"sideways"}), Error);
  TokenPairs one = random_pairs(1, 1, false);
  Model m = make_model(tiny(), true);
  Activations act;
  EXPECT_THROW(contrastive_batch(m, act, one, {0}, ContrastiveOptions{}, false), Error);
}
