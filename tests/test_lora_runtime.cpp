// LoRA adapters applied by the engine at run time: the same logits as the merged model (1e-5),
// several adapters add up, and in one multi-sequence pass each sequence gets its own adapter
// (or none) with the logits it would get alone.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/mmap_file.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/lora_adapter.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "test_util.h"
#include "train/lora.h"
#include "train/rng.h"

using namespace flops;
namespace fs = std::filesystem;

namespace {

ModelConfig config() {
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 128;
  c.n_ctx_train = 64;
  return c;
}

struct Files {
  std::string dir, base, a1, a2;
};

// A base (F32, separate output) and two random adapters (rank 4 on all matrices; rank 2 on v, up).
Files make_files(const std::string& name) {
  Files f;
  f.dir = test::temp_dir() + "/" + name;
  fs::remove_all(f.dir);
  fs::create_directories(f.dir);
  f.base = f.dir + "/base.gguf";
  SyntheticOptions o;
  o.init_std = 0.1f;
  synthetic_model(config(), o).write(f.base);
  auto base = load_model(f.base);
  auto adapter = [&](int rank, std::vector<std::string> targets, uint64_t seed, const std::string& path) {
    train::LoraSpec s;
    s.rank = rank;
    s.targets = std::move(targets);
    train::Model p = train::make_lora_params(*base, s, seed);
    train::Rng r(seed);
    for (float& v : p.w) v = (float)(0.1 * r.normal());
    save_lora_adapter(train::lora_adapter_of(p, "llama", 2.0f * rank), path, "t");
  };
  f.a1 = f.dir + "/a1.gguf";
  f.a2 = f.dir + "/a2.gguf";
  adapter(4, {"q", "k", "v", "o", "gate", "up", "down"}, 1, f.a1);
  adapter(2, {"v", "up"}, 2, f.a2);
  return f;
}

std::vector<int32_t> tokens(int n, uint64_t seed) {
  train::Rng r(seed);
  std::vector<int32_t> t(n);
  for (int& x : t) x = (int32_t)(r.next() % 300);
  return t;
}

std::vector<float> run(const Model& m, const std::vector<int32_t>& toks) {
  KVCache kv = make_kv_cache(m.cfg, 64);
  std::vector<float> logits;
  forward(m, kv, make_batch(toks, true), logits);
  return logits;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); i++) d = std::max(d, (double)std::abs(a[i] - b[i]));
  return d;
}

}  // namespace

TEST(LoraRuntime, UnmergedEqualsMerged) {
  Files f = make_files("lora-rt-merge");
  const std::string merged = f.dir + "/merged.gguf";
  train::merge_lora(f.base, {{f.a1, 0.5f}, {f.a2, 1.0f}}, merged, "m");
  auto base = load_model(f.base);
  auto mm = load_model(merged);
  const auto toks = tokens(20, 3);
  const std::vector<float> plain = run(*base, toks);
  base->lora = load_lora_set(*base, {f.a1 + ":0.5", f.a2});
  counter::Scope fc;
  const std::vector<float> with = run(*base, toks);
  const uint64_t flops_with = fc.elapsed().model();
  const std::vector<float> want = run(*mm, toks);
  EXPECT_LT(max_diff(with, want), 1e-5) << "unmerged adapters differ from the merged model";
  EXPECT_GT(max_diff(with, plain), 1e-2) << "the adapters changed nothing";
  // The low-rank products are counted: 2 R r (in + out) per adapted matrix and adapter.
  counter::Scope fb;
  auto base2 = load_model(f.base);
  run(*base2, toks);
  const ModelConfig c = config();
  const uint64_t R = 20, d = 64, kv = 32, ff = 128;
  const uint64_t per_layer_a1 = 2 * R * 4 * ((d + d) * 2 + (d + kv) * 2 + (d + ff) * 2 + (ff + d));
  const uint64_t per_layer_a2 = 2 * R * 2 * ((d + kv) + (d + ff));
  EXPECT_EQ(flops_with - fb.elapsed().model(), c.n_layer * (per_layer_a1 + per_layer_a2));
  // Decode (one row at a time) agrees too.
  KVCache k1 = make_kv_cache(base->cfg, 64), k2 = make_kv_cache(mm->cfg, 64);
  std::vector<float> l1, l2;
  for (int t = 0; t < 6; t++) {
    forward(*base, k1, make_batch({toks[t]}, false), l1);
    forward(*mm, k2, make_batch({toks[t]}, false), l2);
    EXPECT_LT(max_diff(l1, l2), 1e-4) << "decode step " << t;  // quantized-free matvec vs sgemm rounding
  }
}

TEST(LoraRuntime, EachSequenceOfOneBatchGetsItsOwnAdapter) {
  Files f = make_files("lora-rt-multi");
  auto base = load_model(f.base);
  auto s1 = load_lora_set(*base, {f.a1});
  auto s2 = load_lora_set(*base, {f.a2 + ":1.5"});
  const std::vector<std::vector<int32_t>> toks = {tokens(7, 1), tokens(5, 2), tokens(9, 3), tokens(4, 4)};
  const LoraSet* sets[4] = {s1.get(), nullptr, s2.get(), s1.get()};
  // Alone: each sequence with its adapter on the model.
  std::vector<std::vector<float>> alone;
  for (int i = 0; i < 4; i++) {
    base->lora = sets[i] == s1.get() ? s1 : sets[i] == s2.get() ? s2 : nullptr;
    std::vector<float> lg = run(*base, toks[i]);
    alone.emplace_back(lg.end() - base->cfg.n_vocab, lg.end());
  }
  base->lora = nullptr;
  std::vector<KVCache> kvs;
  for (int i = 0; i < 4; i++) kvs.push_back(make_kv_cache(base->cfg, 64));
  std::vector<SeqInput> in(4);
  for (int i = 0; i < 4; i++) {
    in[i].kv = &kvs[i];
    in[i].tokens = toks[i];
    in[i].lora = sets[i];
  }
  std::vector<std::vector<float>> logits;
  forward_multi(*base, in, logits);
  for (int i = 0; i < 4; i++) EXPECT_LT(max_diff(logits[i], alone[i]), 1e-5) << "sequence " << i;
}

TEST(LoraRuntime, RefusesAdaptersOfAnotherModel) {
  Files f = make_files("lora-rt-wrong");
  ModelConfig other = config();
  other.n_ff = 192;
  auto m = load_synthetic_model(other, {}, "other");
  try {
    load_lora_set(*m, {f.a1});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another base model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_lora_set(*m, {f.dir + "/missing.gguf"}), Error);
  EXPECT_EQ(load_lora_set(*m, {}), nullptr);
}
