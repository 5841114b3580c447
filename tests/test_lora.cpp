// LoRA training: the gradients of A and B agree with finite differences of a naive reference
// that merges W + s B A in double (on F32 and on quantized bases, whose weights stay quantized),
// the frozen product kernel matches a naive one, FLOPs are counted as executed, a tiny model
// learns one batch through its adapters alone, resume is bit-exact, and the adapter file has
// llama.cpp's layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/mmap_file.h"
#include "core/quant.h"
#include "core/threads.h"
#include "model/gguf.h"
#include "model/lora_adapter.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "test_util.h"
#include "train/blas.h"
#include "train/lora.h"
#include "train/optim.h"
#include "train/rng.h"
#include "train/trainer.h"
#include "train_reference.h"

using namespace flops;
namespace fs = std::filesystem;
namespace tr = flops::train;

namespace {

ModelConfig tiny_config(Arch arch = Arch::Llama) {
  ModelConfig c;
  c.arch = arch;
  c.arch_name = arch == Arch::Qwen2 ? "qwen2" : "llama";
  c.n_vocab = 260;  // the synthetic byte tokenizer needs >= 258
  c.n_embd = 32;    // block types need rows of multiples of 32
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = 8;
  c.rope_theta = 100.0f;
  return c;
}

std::unique_ptr<flops::Model> tiny_base(DType t, Arch arch = Arch::Llama, float std = 0.3f, bool tied = true) {
  SyntheticOptions o;
  o.matrix_type = t;
  o.init_std = std;
  o.seed = 3;
  o.tied_output = tied;
  return load_synthetic_model(tiny_config(arch), o, "tiny-base");
}

// The base's weights as doubles (exactly what the pass multiplies by: block types dequantized),
// plus s * B A for every adapter tensor of p.
std::vector<double> merged(const tr::Model& ref, const tr::Model& p, float alpha) {
  std::vector<double> w(ref.w.begin(), ref.w.end());
  for (const tr::TensorRef& a : p.tensors) {
    if (!a.name.ends_with(".lora_a")) continue;
    const std::string base = a.name.substr(0, a.name.size() - 7);
    const tr::TensorRef* b = p.find(base + ".lora_b");
    const tr::TensorRef* W = ref.find(base);
    const int64_t cols = a.shape[0], r = a.shape[1], rows = b->shape[1];
    const double s = alpha / (double)r;
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) {
        double d = 0;
        for (int64_t k = 0; k < r; k++) d += (double)p.w[b->offset + i * r + k] * p.w[a.offset + k * cols + j];
        w[W->offset + i * cols + j] += s * d;
      }
  }
  return w;
}

void random_tokens(int N, int V, std::vector<int32_t>& tok, std::vector<int32_t>& tgt, uint64_t seed) {
  tok.resize(N);
  tgt.resize(N);
  tr::Rng r(seed);
  for (int i = 0; i < N; i++) tok[i] = (int32_t)(r.next() % V), tgt[i] = (int32_t)(r.next() % V);
}

void check_lora_gradients(DType t, Arch arch, const std::vector<std::string>& targets) {
  auto base = tiny_base(t, arch);
  tr::Model ref = tr::load_gguf_model(base->gguf);  // dequantized copy for the reference only
  tr::LoraSpec spec;
  spec.rank = 3;
  spec.alpha = 6.0f;
  spec.targets = targets;
  tr::Model p = tr::make_lora_params(*base, spec, 5);
  // B starts at zero; a nonzero B makes A's gradient nonzero too.
  tr::Rng r(17);
  for (float& v : p.w) v = (float)(0.3 * r.normal());
  const int B = 2, T = 8, N = B * T;
  std::vector<int32_t> tok, tgt;
  random_tokens(N, base->cfg.n_vocab, tok, tgt, 4);
  tgt[5] = tr::kIgnoreTarget;

  const tr::Net net = tr::lora_net(*base, p, spec.alpha);
  tr::Activations a;
  const double loss = tr::forward(net, a, tok.data(), tgt.data(), B, T);
  std::fill(p.g.begin(), p.g.end(), 0.0f);
  tr::backward(net, a, tok.data(), tgt.data(), 1.0f);

  std::vector<double> w = merged(ref, p, spec.alpha);
  const double want = tr::ref_loss(ref, w, tok, tgt, B, T);
  EXPECT_NEAR(loss, want, 1e-5 * std::abs(want)) << "forward with the adapter differs from the merged reference";

  const double h = 1e-4;
  for (const tr::TensorRef& tref : p.tensors) {
    const size_t stride = std::max<size_t>(1, tref.count / 24);
    double err2 = 0, ref2 = 0;
    for (size_t i = 0; i < tref.count; i += stride) {
      const size_t j = tref.offset + i;
      const float keep = p.w[j];
      p.w[j] = keep + (float)h;
      const double lp = tr::ref_loss(ref, merged(ref, p, spec.alpha), tok, tgt, B, T);
      p.w[j] = keep - (float)h;
      const double lm = tr::ref_loss(ref, merged(ref, p, spec.alpha), tok, tgt, B, T);
      p.w[j] = keep;
      const double dh = ((double)(keep + (float)h) - (double)(keep - (float)h));  // the step actually taken in float
      const double fd = (lp - lm) / dh, an = p.g[j];
      err2 += (fd - an) * (fd - an);
      ref2 += fd * fd;
    }
    ASSERT_GT(ref2, 1e-12) << tref.name << " receives no gradient";
    EXPECT_LT(std::sqrt(err2 / ref2), 2e-3) << tref.name;
  }
}

std::string fresh_dir(const std::string& name) {
  std::string d = test::temp_dir() + "/" + name;
  fs::remove_all(d);
  return d;
}

}  // namespace

TEST(Lora, GradientsMatchFiniteDifferencesOnF32Base) {
  check_lora_gradients(DType::F32, Arch::Llama, {"q", "k", "v", "o", "gate", "up", "down"});
}

TEST(Lora, GradientsMatchFiniteDifferencesOnQuantizedBases) {
  check_lora_gradients(DType::Q8_0, Arch::Llama, {"q", "k", "v", "o", "gate", "up", "down"});
  check_lora_gradients(DType::Q4_0, Arch::Llama, {"v", "down"});
  check_lora_gradients(DType::F16, Arch::Llama, {"q", "up"});
}

TEST(Lora, GradientsMatchFiniteDifferencesOnQwen2) {
  check_lora_gradients(DType::F32, Arch::Qwen2, {"q", "k", "o"});
}

TEST(Lora, OnlyUpperLayersTrainedSkipsTheRest) {
  // Adapters on layer 1's FFN only: nothing reaches layer 0, and the count says so.
  auto base = tiny_base(DType::F32);
  tr::LoraSpec spec;
  spec.rank = 2;
  spec.targets = {"down"};
  tr::Model p = tr::make_lora_params(*base, spec, 1);
  EXPECT_EQ(p.tensors.size(), 4u);  // down of layers 0 and 1, A and B each
  EXPECT_EQ(p.tensors[0].name, "blk.0.ffn_down.weight.lora_a");
  EXPECT_EQ(p.tensors[0].shape, (std::vector<int64_t>{64, 2}));
  EXPECT_EQ(p.tensors[1].shape, (std::vector<int64_t>{2, 32}));
  for (size_t i = p.tensors[1].offset; i < p.tensors[1].offset + p.tensors[1].count; i++) ASSERT_EQ(p.w[i], 0.0f);
}

TEST(Lora, FrozenBackwardMatchesNaiveForEveryType) {
  // Enough rows for several dequantized tiles (tile = 2^18 / cols rows).
  const int rows = 300, cols = 2048, N = 5;
  tr::Rng r(2);
  std::vector<float> wf((size_t)rows * cols), dy((size_t)N * rows);
  for (float& v : wf) v = (float)r.normal();
  for (float& v : dy) v = (float)r.normal();
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0}) {
    const size_t rb = dtype_row_bytes(t, cols);
    std::vector<uint8_t> w(rb * rows);
    std::vector<float> deq((size_t)rows * cols);
    for (int i = 0; i < rows; i++) {
      quantize_row(t, wf.data() + (size_t)i * cols, w.data() + i * rb, cols);
      dequantize_row(t, w.data() + i * rb, deq.data() + (size_t)i * cols, cols);
    }
    for (bool acc : {false, true}) {
      std::vector<float> dx((size_t)N * cols, 0.5f);
      counter::Scope fc;
      tr::frozen_backward_dx(t, w.data(), rows, cols, dy.data(), N, dx.data(), acc);
      EXPECT_EQ(fc.elapsed().model(), 2ull * N * rows * cols);
      double err = 0, ref = 0;
      for (int n = 0; n < N; n++)
        for (int j = 0; j < cols; j++) {
          double s = acc ? 0.5 : 0.0;
          for (int i = 0; i < rows; i++) s += (double)dy[(size_t)n * rows + i] * deq[(size_t)i * cols + j];
          err += (s - dx[(size_t)n * cols + j]) * (s - dx[(size_t)n * cols + j]);
          ref += s * s;
        }
      EXPECT_LT(std::sqrt(err / ref), 1e-5) << dtype_name(t) << (acc ? " accumulating" : "");
    }
  }
}

TEST(Lora, CountsTheFlopsItExecutes) {
  for (DType t : {DType::F32, DType::Q8_0}) {
    auto base = tiny_base(t);
    tr::LoraSpec spec;
    spec.rank = 4;
    spec.targets = {"k", "o", "up"};
    tr::Model p = tr::make_lora_params(*base, spec, 1);
    const tr::Net net = tr::lora_net(*base, p, 4.0f);
    std::vector<int32_t> tok, tgt;
    random_tokens(16, 260, tok, tgt, 1);
    tr::Activations a;
    counter::Scope fc;
    tr::forward(net, a, tok.data(), tgt.data(), 2, 8);
    tr::backward(net, a, tok.data(), tgt.data(), 1.0f / 16);
    EXPECT_DOUBLE_EQ((double)fc.elapsed().model(), tr::net_step_flops(net, 2, 8)) << dtype_name(t);
    // Less than full training of the same model: no dW, and nothing below layer 0's k.
    EXPECT_LT(tr::net_step_flops(net, 2, 8), tr::train_flops_per_step(base->cfg, 2, 8));
  }
  // For a whole model the view counts what full training counts.
  tr::Model m = tr::make_model(tiny_config(), true);
  EXPECT_DOUBLE_EQ(tr::net_step_flops(tr::net_of(m), 2, 8), tr::train_flops_per_step(m.cfg, 2, 8));
}

TEST(Lora, TinyModelLearnsOneBatchThroughAdaptersAlone) {
  ModelConfig c = tiny_config();
  c.n_ctx_train = 16;
  SyntheticOptions so;
  // The frozen tied output caps the logits at |final norm| * |embedding row|: rows must be long
  // enough for a confident prediction.
  so.init_std = 0.5f;
  so.tied_output = true;
  auto base = load_synthetic_model(c, so, "tiny");
  const std::vector<uint8_t> before(base->gguf.image, base->gguf.image + base->gguf.size);
  tr::LoraSpec spec;
  spec.rank = 8;
  tr::Model p = tr::make_lora_params(*base, spec, 9);
  const tr::Net net = tr::lora_net(*base, p, (float)spec.rank);
  const int B = 2, T = 16;
  std::vector<int32_t> tok, tgt;
  random_tokens(B * T, 260, tok, tgt, 11);
  for (int b = 0; b < B; b++) {
    tok[b * T] = b;
    for (int t = 0; t < T; t++) tgt[b * T + t] = t + 1 < T ? tok[b * T + t + 1] : 259 - b;
  }
  tr::Activations a;
  tr::AdamState st;
  tr::AdamWConfig oc;
  oc.weight_decay = 0;
  double first = 0, last = 0;
  for (int step = 0; step < 200; step++) {
    double loss = tr::forward(net, a, tok.data(), tgt.data(), B, T) / (B * T);
    if (step == 0) first = loss;
    last = loss;
    std::fill(p.g.begin(), p.g.end(), 0.0f);
    tr::backward(net, a, tok.data(), tgt.data(), 1.0f / (B * T));
    tr::clip_grad_norm(p.g, 1.0f);
    tr::adamw_update(p, st, tr::lr_at(step, 10, 200, 2e-2f, 2e-3f), oc);
  }
  EXPECT_GT(first, 3.0);
  EXPECT_LT(last, 0.1) << "the adapters did not fit one batch";
  EXPECT_EQ(std::memcmp(before.data(), base->gguf.image, before.size()), 0) << "the base changed";
  EXPECT_EQ(st.m.size(), p.w.size()) << "optimizer state is for the adapter only";
}

TEST(Lora, MergedWeightsGiveTheSameLoss) {
  auto base = tiny_base(DType::F32, Arch::Llama, 0.3f, false);
  std::string dir = fresh_dir("lora-merge");
  fs::create_directories(dir);
  const std::string base_path = dir + "/base.gguf";
  write_file_atomic(base_path, base->gguf.image, base->gguf.size);
  tr::LoraSpec spec;
  spec.rank = 4;
  spec.alpha = 8.0f;
  tr::Model p = tr::make_lora_params(*base, spec, 2);
  tr::Rng r(5);
  for (float& v : p.w) v = (float)(0.2 * r.normal());
  save_lora_adapter(tr::lora_adapter_of(p, "llama", spec.alpha), dir + "/adapter.gguf", "test");
  tr::merge_lora(base_path, {{dir + "/adapter.gguf", 0.5f}}, dir + "/merged.gguf", "merged");

  std::vector<int32_t> tok, tgt;
  random_tokens(16, 260, tok, tgt, 3);
  tr::Activations a1, a2;
  // Scale 0.5 on the command line = alpha 4 in the pass.
  const double l1 = tr::forward(tr::lora_net(*base, p, spec.alpha * 0.5f), a1, tok.data(), tgt.data(), 2, 8);
  tr::Model m = tr::load_gguf_model(dir + "/merged.gguf");
  const double l2 = tr::forward(m, a2, tok.data(), tgt.data(), 2, 8);
  EXPECT_NEAR(l1, l2, 1e-5 * std::abs(l1));
  double worst = 0;
  for (size_t i = 0; i < a1.probs.size(); i++) worst = std::max(worst, (double)std::abs(a1.probs[i] - a2.probs[i]));
  EXPECT_LT(worst, 1e-5);
  EXPECT_THROW(tr::merge_lora(base_path, {}, dir + "/x.gguf", ""), Error);
  EXPECT_FALSE(fs::exists(dir + "/x.gguf"));
}

TEST(Lora, AdapterFileHasLlamaCppLayoutAndRoundTrips) {
  auto base = tiny_base(DType::F32);
  tr::LoraSpec spec;
  spec.rank = 2;
  spec.targets = {"q", "gate"};
  tr::Model p = tr::make_lora_params(*base, spec, 4);
  std::string dir = fresh_dir("lora-file");
  fs::create_directories(dir);
  save_lora_adapter(tr::lora_adapter_of(p, "llama", 2.0f), dir + "/a.gguf", "x");
  GGUFFile g = gguf_open(dir + "/a.gguf");
  EXPECT_EQ(g.get_string("general.type"), "adapter");
  EXPECT_EQ(g.get_string("adapter.type"), "lora");
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.find("adapter.lora.alpha")->type, GGUFType::F32);
  EXPECT_FLOAT_EQ((float)g.get_float("adapter.lora.alpha"), 2.0f);
  ASSERT_EQ(g.tensors.size(), 8u);
  const GGUFTensorInfo* qa = g.find_tensor("blk.1.attn_q.weight.lora_a");
  const GGUFTensorInfo* gb = g.find_tensor("blk.1.ffn_gate.weight.lora_b");
  ASSERT_TRUE(qa && gb);
  EXPECT_EQ(qa->shape, (std::vector<int64_t>{32, 2}));  // ne = [cols of W, rank]
  EXPECT_EQ(gb->shape, (std::vector<int64_t>{2, 64}));  // ne = [rank, rows of W]
  EXPECT_EQ(qa->type, DType::F32);

  LoraAdapter ad = load_lora_adapter(dir + "/a.gguf");
  check_lora_fits(ad, *base);
  tr::Model back = tr::lora_params_of(*base, ad);
  ASSERT_EQ(back.w.size(), p.w.size());
  EXPECT_EQ(0, std::memcmp(back.w.data(), p.w.data(), p.w.size() * 4));
  EXPECT_EQ(ad.bytes(), p.w.size() * 4);
  EXPECT_FLOAT_EQ(ad.factor(ad.tensors.begin()->second, 0.5f), 0.5f);

  // A model of another shape is refused, naming the tensor.
  ModelConfig other = tiny_config();
  other.n_ff = 96;
  auto wrong = load_synthetic_model(other, {}, "other");
  try {
    check_lora_fits(ad, *wrong);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ffn_gate"), std::string::npos) << e.what();
  }
  // Not an adapter at all.
  const std::string model_path = dir + "/model.gguf";
  write_file_atomic(model_path, base->gguf.image, base->gguf.size);
  try {
    load_lora_adapter(model_path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a LoRA adapter"), std::string::npos) << e.what();
  }
  // A lora_a without its lora_b.
  GGUFWriter w;
  w.set_string("general.type", "adapter");
  w.set_string("adapter.type", "lora");
  std::vector<float> z(64, 0.0f);
  w.add_tensor("blk.0.attn_q.weight.lora_a", DType::F32, {32, 2}, z.data(), 256);
  w.write(dir + "/half.gguf");
  EXPECT_THROW(load_lora_adapter(dir + "/half.gguf"), Error);

  EXPECT_EQ(parse_lora_choice("a.gguf:0.5").scale, 0.5f);
  EXPECT_EQ(parse_lora_choice("a.gguf:0.5").path, "a.gguf");
  EXPECT_EQ(parse_lora_choice("dir:x/a.gguf").path, "dir:x/a.gguf");
  EXPECT_THROW(tr::parse_lora_targets("q,ffn"), Error);
  EXPECT_EQ(tr::parse_lora_targets("v,q,v").size(), 2u);
}

namespace {

// run_training of the adapter p of base, as flops train --lora-rank runs it (adapter.gguf in o.out_dir).
tr::TrainResult train_adapter(const flops::Model& base, tr::Model& p, const tr::TokenData& data, const tr::TrainOptions& o,
                              float alpha, float lr_ratio = 1.0f) {
  tr::TrainHooks hooks;
  hooks.net = [&](tr::Model& m) { return tr::lora_net(base, m, alpha); };
  hooks.salt = tr::base_identity(base);
  hooks.lr_ratio = lr_ratio;
  hooks.save = [&](const tr::Model& m, const std::function<void(GGUFWriter&)>& meta) {
    save_lora_adapter(tr::lora_adapter_of(m, "llama", alpha), o.out_dir + "/adapter.gguf", "t", meta);
  };
  return tr::run_training(p, data, o, nullptr, {}, &hooks);
}

}  // namespace

TEST(Lora, ResumeEqualsUninterruptedBitForBit) {
  auto base = tiny_base(DType::Q8_0, Arch::Llama, 0.1f);
  tr::TokenData data;
  data.n_vocab = 260;
  tr::Rng r(9);
  int32_t cur = 0;
  for (int i = 0; i < 3000; i++) {
    cur = (r.next() % 5 == 0) ? (int32_t)(r.next() % 260) : (cur + 1) % 260;
    (i < 2700 ? data.train : data.val).push_back(cur);
  }
  tr::LoraSpec spec;
  spec.rank = 4;
  auto run = [&](const std::string& dir, int64_t stop_at, bool resume, tr::Model& p) {
    tr::TrainOptions o;
    o.steps = 8;
    o.batch = 4;
    o.micro_batch = 2;
    o.lr = 1e-2f;
    o.warmup = 2;
    o.seed = 7;
    o.checkpoint_every = 4;
    o.eval_every = 4;
    o.eval_windows = 4;
    o.out_dir = dir;
    o.stop_at = stop_at;
    o.resume = resume;
    return train_adapter(*base, p, data, o, 4.0f);
  };
  tr::Model full = tr::make_lora_params(*base, spec, 7);
  tr::TrainResult rf = run(fresh_dir("lora-full"), 0, false, full);
  const tr::TensorRef& b0 = full.tensors[1];  // a lora_b: zero at the start, trained since
  EXPECT_NE(*std::max_element(full.w.begin() + b0.offset, full.w.begin() + b0.offset + b0.count), 0.0f);
  const std::string dir = fresh_dir("lora-split");
  tr::Model a = tr::make_lora_params(*base, spec, 7);
  run(dir, 4, false, a);
  tr::Model b = tr::make_lora_params(*base, spec, 99);
  tr::TrainResult r2 = run(dir, 0, true, b);
  EXPECT_EQ(r2.start_step, 4);
  EXPECT_EQ(0, std::memcmp(b.w.data(), full.w.data(), b.w.size() * 4));
  EXPECT_EQ(r2.final_val_loss, rf.final_val_loss);
  EXPECT_FALSE(fs::exists(dir + "/model.gguf")) << "a LoRA run writes the adapter, not a model";
  LoraAdapter ad = load_lora_adapter(dir + "/adapter.gguf");
  tr::Model back = tr::lora_params_of(*base, ad);
  EXPECT_EQ(0, std::memcmp(back.w.data(), full.w.data(), full.w.size() * 4));
  GGUFFile g = gguf_open(dir + "/adapter.gguf");
  EXPECT_EQ(g.get_int("flops.train.step"), 8);
  EXPECT_NEAR(g.get_float("flops.train.flops"), rf.total_flops, 1e-9 * rf.total_flops);

  // The checkpoint of one base is refused on another.
  auto other = tiny_base(DType::F32, Arch::Llama, 0.1f);
  tr::Model c = tr::make_lora_params(*other, spec, 7);
  tr::TrainOptions o;
  o.steps = 8;
  o.batch = 4;
  o.seed = 7;
  o.out_dir = dir;
  o.resume = true;
  tr::TrainHooks h;
  h.net = [&](tr::Model& m) { return tr::lora_net(*other, m, 4.0f); };
  h.salt = tr::base_identity(*other);
  EXPECT_THROW(tr::run_training(c, data, o, nullptr, {}, &h), Error);
}

// LoRA+: with known gradients, one AdamW step moves every B by exactly lr_ratio times what it
// moves at ratio 1 (decay included), and every A as at ratio 1. From a zero state the first step
// has mhat = g and vhat = g^2, so the move of w is lr_t * (g / (|g| + eps) + wd * w).
TEST(Lora, LoraPlusStepMovesBByTheRatio) {
  auto base = tiny_base(DType::F32);
  const float ratio = 16.0f, lr = 1e-3f;
  tr::AdamWConfig c;
  auto step = [&](float r) {
    tr::LoraSpec spec;
    spec.rank = 4;
    spec.lr_ratio = r;
    tr::Model p = tr::make_lora_params(*base, spec, 5);
    for (size_t i = 0; i < p.w.size(); i++) {
      p.g[i] = (float)std::sin(0.37 * (double)i) * 1e-2f;  // mixed signs and sizes
      if (p.w[i] == 0.0f) p.w[i] = 0.05f * (float)std::cos(0.11 * (double)i);  // B nonzero: decay moves it too
    }
    const std::vector<float> before = p.w;
    tr::AdamState s;
    tr::adamw_update(p, s, lr, c);
    std::vector<float> d(p.w.size());
    for (size_t i = 0; i < d.size(); i++) d[i] = p.w[i] - before[i];
    return std::make_pair(p, std::make_pair(before, d));
  };
  auto [p1, r1] = step(1.0f);
  auto [pr, rr] = step(ratio);
  ASSERT_EQ(r1.first, rr.first);  // the same start
  int nb = 0;
  for (const tr::TensorRef& t : p1.tensors) {
    const bool is_b = t.name.ends_with(".lora_b");
    nb += is_b;
    for (size_t i = t.offset; i < t.offset + t.count; i++) {
      const double g = p1.g[i], w = r1.first[i];
      const double want1 = -(double)lr * (g / (std::fabs(g) + c.eps) + c.weight_decay * w);
      ASSERT_NEAR(r1.second[i], want1, 1e-6 * std::fabs(want1) + 1e-7) << t.name << " " << i;  // w - before: w's ulp
      if (is_b)
        ASSERT_NEAR(rr.second[i], ratio * r1.second[i], 1e-5 * std::fabs(ratio * r1.second[i]) + 2e-7) << t.name << " " << i;
      else
        ASSERT_EQ(rr.second[i], r1.second[i]) << t.name << " " << i;  // A: bit for bit
    }
  }
  EXPECT_EQ(nb, 2 * 7);  // every B of both layers
}

// The ratio is part of the checkpoint: a resume with another one is refused by name, the same resumes.
TEST(Lora, ResumeRefusesAnotherLoraPlusRatio) {
  auto base = tiny_base(DType::F32, Arch::Llama, 0.1f);
  tr::TokenData data;
  data.n_vocab = 260;
  for (int i = 0; i < 600; i++) (i < 500 ? data.train : data.val).push_back((i * 7) % 260);
  const std::string dir = fresh_dir("lora-plus-resume");
  auto run = [&](float ratio, bool resume, int64_t stop_at) {
    tr::LoraSpec spec;
    spec.rank = 2;
    spec.lr_ratio = ratio;
    tr::Model p = tr::make_lora_params(*base, spec, 7);
    tr::TrainOptions o;
    o.steps = 4;
    o.batch = 2;
    o.warmup = 1;
    o.seed = 7;
    o.eval_windows = 1;
    o.out_dir = dir;
    o.stop_at = stop_at;
    o.resume = resume;
    return train_adapter(*base, p, data, o, 2.0f, ratio);
  };
  run(8.0f, false, 2);
  EXPECT_EQ(tr::read_optimizer_state(dir + "/optimizer.bin").lora_lr_ratio, 8.0f);
  try {
    run(1.0f, true, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("trained with --lora-lr-ratio 8, not 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(run(8.0f, true, 0).start_step, 2);
  tr::LoraSpec bad;
  bad.lr_ratio = 0;
  EXPECT_THROW(tr::make_lora_params(*base, bad, 1), Error);
}
