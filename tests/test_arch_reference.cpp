// Every architecture's reference model against llama.cpp c392e509's own outputs
// (../shared/data/llama-reference, see its SOURCE.md): next-token log-probabilities of the
// ids64 and text300 sequences, perplexity at -c 128 on the reference text, and bert's hidden
// states and pooled embeddings.
//
// Tolerances, and why they differ by file type:
//  * F32 files against *.kvf32.ref.json (llama.cpp with an F32 KV cache): max |d logprob| 1e-4,
//    the arithmetic itself.
//  * F16 files against *.ref.json: llama.cpp kept K and V in F16 and so rounded Q and the softmax
//    probabilities to F16 too, and converted every activation to F16 before an F16 matmul; flops
//    keeps all activations in F32. The bounds below are what that rounding leaves (measured:
//    see the README's architecture table).
//  * Quantized files need the K-quant types; until they are loadable those cases skip naming
//    the missing type.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/ops.h"
#include "eval/perplexity.h"
#include "model/forward.h"
#include "test_util.h"

using namespace flops;
using json = nlohmann::json;

namespace {

std::string ref_dir() {
  std::string d = test::shared_data_dir();
  return d.empty() ? "" : d + "/llama-reference";
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct Case {
  const char* file;     // <model>.<type>
  const char* ref;      // reference JSON beside it
  double logprob_tol;   // max |d next-token logprob| over both sequences
  double ppl_rel_tol;   // |ppl / ppl_ref - 1|; 0: perplexity not run (an F32 file of the family has it)
  double mean_tol = 0;  // mean |d logprob|; 0: logprob_tol
};

std::ostream& operator<<(std::ostream& o, const Case& c) { return o << c.file; }

// Loads a reference file; quantized types flops cannot read yet make the test skip.
std::unique_ptr<Model> load_or_skip(const std::string& path, bool quantized, bool tokenizer, std::string& skip) {
  try {
    ModelLoadOptions o;
    o.tokenizer = tokenizer;
    return load_model(path, o);
  } catch (const Error& e) {
    if (!quantized) throw;
    skip = std::string("needs a tensor type flops does not read yet (the quant helper's K-quants): ") + e.what();
    return nullptr;
  }
}

class ArchReference : public ::testing::TestWithParam<Case> {};

// F32 files with flops's F16 KV cache against llama.cpp with its default F16 cache (*.f32.ref.json):
// both round K and V to halves; llama.cpp also rounds Q and the softmax weights (see above).
TEST(ArchReferenceF16Cache, F32FilesAgreeWithLlamaCppsDefaultCache) {
  const std::string dir = ref_dir();
  if (dir.empty()) GTEST_SKIP() << "shared data (../shared/data) not present";
  for (const char* file : {"llama.f32", "llama-rope31.f32", "qwen2.f32", "phi3.f32"}) {
    const std::string path = dir + "/" + file + ".gguf", refp = dir + "/" + file + ".ref.json";
    if (!std::filesystem::exists(path) || !std::filesystem::exists(refp)) continue;
    auto m = load_model(path);
    const json ref = read_json(refp);
    const int V = m->cfg.n_vocab;
    double f32_mean = 0;
    for (const KVCacheTypes types : {KVCacheTypes{}, KVCacheTypes{DType::F16, DType::F16}}) {
      double worst = 0, sum = 0;
      int n = 0;
      for (const json& seq : ref["sequences"]) {
        const std::vector<int32_t> ids = seq["token_ids"].get<std::vector<int32_t>>();
        KVCache kv = make_kv_cache(m->cfg, ref["n_ctx"].get<int>(), types);
        std::vector<float> logits;
        forward(*m, kv, make_batch(ids), logits);
        for (const json& p : seq["positions"]) {
          if (p["next_token"].is_null()) continue;
          const double lp = log_softmax_at(logits.data() + (int64_t)p["pos"].get<int>() * V, V, p["next_token"].get<int>());
          const double d = std::fabs(lp - p["next_logprob"].get<double>());
          worst = std::max(worst, d);
          sum += d;
          n++;
        }
      }
      std::printf("%-18s cache %s vs llama.cpp's F16 cache: max |d logprob| %.2e  mean %.2e\n", file,
                  kv_cache_type_name(types.k), worst, sum / n);
      // Measured (max, mean) with F16: llama 2.0e-3/2.9e-4, rope31 1.4e-3/2.1e-4, qwen2 9.3e-3/1.7e-3,
      // phi3 1.8e-3/2.4e-4; each mean 17-24% below the F32 cache's.
      if (types.k == DType::F16) {
        EXPECT_LT(worst, 1.5e-2) << file;
        EXPECT_LT(sum / n, 2.5e-3) << file;
        EXPECT_LT(sum / n, f32_mean) << file << ": the F16 cache should be closer to llama.cpp's than the F32 one";
      } else {
        f32_mean = sum / n;
      }
    }
  }
}

TEST_P(ArchReference, LogprobsAndPerplexityMatchLlamaCpp) {
  const Case& c = GetParam();
  const std::string dir = ref_dir();
  if (dir.empty()) GTEST_SKIP() << "shared data (../shared/data) not present";
  const std::string path = dir + "/" + c.file + ".gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  std::string skip;
  auto m = load_or_skip(path, std::string(c.file).find(".q") != std::string::npos, true, skip);
  if (!m) GTEST_SKIP() << skip;
  const json ref = read_json(dir + "/" + c.ref);
  const int V = m->cfg.n_vocab;
  ASSERT_EQ(V, ref["n_vocab"].get<int>());
  for (const json& seq : ref["sequences"]) {
    const std::vector<int32_t> ids = seq["token_ids"].get<std::vector<int32_t>>();
    KVCache kv = make_kv_cache(m->cfg, ref["n_ctx"].get<int>());
    std::vector<float> logits;
    forward(*m, kv, make_batch(ids), logits);
    double worst = 0, sum = 0;
    int n = 0;
    for (const json& p : seq["positions"]) {
      if (p["next_token"].is_null()) continue;
      const int pos = p["pos"].get<int>(), next = p["next_token"].get<int>();
      const double lp = log_softmax_at(logits.data() + (int64_t)pos * V, V, next);
      const double d = std::fabs(lp - p["next_logprob"].get<double>());
      worst = std::max(worst, d);
      sum += d;
      n++;
    }
    std::printf("%-24s %-8s max |d logprob| %.2e  mean %.2e  (%d positions)\n", c.file, seq["name"].get<std::string>().c_str(),
                worst, sum / n, n);
    EXPECT_LT(worst, c.logprob_tol) << c.file << " " << seq["name"];
    EXPECT_LT(sum / n, c.mean_tol > 0 ? c.mean_tol : c.logprob_tol) << c.file << " " << seq["name"];
  }
  const json& pp = ref["perplexity"];
  if (pp["ppl"].is_null() || c.ppl_rel_tol == 0) return;
  const std::string text = read_text(dir + "/" + pp["text"].get<std::string>());
  PerplexityResult r = perplexity_chunks(*m, m->tok.encode(text), pp["n_ctx"].get<int>(),
                                         m->tok.add_bos_default() ? m->tok.bos() : -1);
  const double want = pp["ppl"].get<double>();
  std::printf("%-24s ppl %.4f  llama.cpp %.4f  (%+.4f%%)\n", c.file, r.ppl, want, 100.0 * (r.ppl / want - 1));
  EXPECT_LT(std::fabs(r.ppl / want - 1), c.ppl_rel_tol) << c.file;
}

INSTANTIATE_TEST_SUITE_P(
    Files, ArchReference,
    ::testing::Values(Case{"llama.f32", "llama.f32.kvf32.ref.json", 1e-4, 1e-3},
                      Case{"llama-rope31.f32", "llama-rope31.f32.kvf32.ref.json", 1e-4, 1e-3},
                      Case{"qwen2.f32", "qwen2.f32.kvf32.ref.json", 1e-4, 1e-3},
                      Case{"phi3.f32", "phi3.f32.kvf32.ref.json", 1e-4, 1e-3},
                      Case{"llama.f16", "llama.f16.ref.json", 2e-2, 0},
                      Case{"llama-rope31.f16", "llama-rope31.f16.ref.json", 2e-2, 0},
                      Case{"qwen2.f16", "qwen2.f16.ref.json", 2e-2, 0},
                      Case{"phi3.f16", "phi3.f16.ref.json", 2e-2, 0},
                      // No F32 file shipped for these two: the F16 file carries the perplexity check.
                      Case{"gemma2.f16", "gemma2.f16.ref.json", 2e-2, 1e-3},
                      Case{"gpt2.f16", "gpt2.f16.ref.json", 2e-2, 1e-3},
                      // Q4_K_M: llama.cpp multiplies with activations rounded to Q8_K and keeps an
                      // F16 KV cache; flops's batch path uses fp32 activations and an F32 cache.
                      // Int8 rounding is discontinuous, so these differences reach 0.1-0.5 at the
                      // worst position (see test_quant_reference.cpp); the bounds are ~1.5x what
                      // was measured (max, mean): rope31 0.19/0.036, qwen2 0.51/0.10 (its
                      // near-uniform output, ppl 1.75e5, amplifies), phi3 0.13/0.039,
                      // gemma2 0.22/0.052, gpt2 0.16/0.034.
                      Case{"llama-rope31.q4_k_m", "llama-rope31.q4_k_m.ref.json", 0.3, 3e-3, 0.055},
                      Case{"qwen2.q4_k_m", "qwen2.q4_k_m.ref.json", 0.8, 3e-3, 0.15},
                      Case{"phi3.q4_k_m", "phi3.q4_k_m.ref.json", 0.3, 3e-3, 0.06},
                      Case{"gemma2.q4_k_m", "gemma2.q4_k_m.ref.json", 0.35, 3e-3, 0.08},
                      Case{"gpt2.q4_k_m", "gpt2.q4_k_m.ref.json", 0.25, 3e-3, 0.055}),
    [](const auto& info) {
      std::string s = info.param.file;
      for (char& ch : s)
        if (!isalnum((unsigned char)ch)) ch = '_';
      return s;
    });

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); i++) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

struct BertCase {
  const char* file;
  double min_cosine;  // pooled embeddings (CLS and mean) against llama.cpp's
  double hidden_tol;  // first 16 values of every token's final hidden state
};

std::ostream& operator<<(std::ostream& o, const BertCase& c) { return o << c.file; }

class BertReference : public ::testing::TestWithParam<BertCase> {};

// bert's tokenizer (WordPiece) is not in flops yet: the model runs on the reference token ids.
TEST_P(BertReference, HiddenStatesAndPooledEmbeddingsMatchLlamaCpp) {
  const std::string dir = ref_dir();
  if (dir.empty()) GTEST_SKIP() << "shared data (../shared/data) not present";
  const std::string file = GetParam().file;
  const std::string path = dir + "/" + file + ".gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  std::string skip;
  auto m = load_or_skip(path, file.find(".q4") != std::string::npos, false, skip);
  if (!m) GTEST_SKIP() << skip;
  EXPECT_EQ(m->cfg.pooling_type, 2);  // CLS
  EXPECT_FALSE(m->cfg.causal);
  const json ref = read_json(dir + "/" + file + ".ref.json");
  const int64_t d = m->cfg.n_embd;
  for (const json& seq : ref["sequences"]) {
    const std::vector<int32_t> ids = seq["token_ids"].get<std::vector<int32_t>>();
    KVCache kv = make_kv_cache(m->cfg, (int)ids.size());
    std::vector<float> logits, hidden;
    Batch b = make_batch(ids);
    b.logits = false;
    b.hidden = &hidden;
    forward(*m, kv, b, logits);
    const int64_t T = (int64_t)ids.size();
    ASSERT_EQ((int64_t)hidden.size(), T * d);
    double worst_norm = 0;
    for (int64_t t = 0; t < T; t++) {
      double ss = 0;
      for (int64_t i = 0; i < d; i++) ss += (double)hidden[t * d + i] * hidden[t * d + i];
      const double want = seq["hidden_norm"][t].get<double>();
      worst_norm = std::max(worst_norm, std::fabs(std::sqrt(ss) / want - 1));
      for (int i = 0; i < 16; i++) EXPECT_NEAR(hidden[t * d + i], seq["hidden_first16"][t][i].get<double>(), GetParam().hidden_tol);
    }
    std::vector<double> cls(hidden.begin(), hidden.begin() + d), mean(d, 0.0);
    for (int64_t t = 0; t < T; t++)
      for (int64_t i = 0; i < d; i++) mean[i] += hidden[t * d + i] / (double)T;
    const double c_cls = cosine(cls, seq["pooled"]["embedding"].get<std::vector<double>>());
    const double c_mean = cosine(mean, seq["mean"]["embedding"].get<std::vector<double>>());
    std::printf("%-16s %-8s cosine cls %.8f mean %.8f, worst relative hidden norm %.1e\n", file.c_str(),
                seq["name"].get<std::string>().c_str(), c_cls, c_mean, worst_norm);
    EXPECT_GE(c_cls, GetParam().min_cosine) << file << " " << seq["name"];
    EXPECT_GE(c_mean, GetParam().min_cosine) << file << " " << seq["name"];
  }
}

// Q8_0: llama.cpp also quantizes the activations to 8 bits before each product, flops's prompt
// path multiplies them in F32 with the dequantized weights.
INSTANTIATE_TEST_SUITE_P(Files, BertReference,
                         ::testing::Values(BertCase{"bert.f32", 0.99999, 2e-3}, BertCase{"bert.f16", 0.99999, 2e-3},
                                           BertCase{"bert.q8_0", 0.9999, 5e-2}, BertCase{"bert.q4_k_m", 0.999, 1e-1}),
                         [](const auto& info) {
                           std::string s = info.param.file;
                           for (char& ch : s)
                             if (!isalnum((unsigned char)ch)) ch = '_';
                           return s;
                         });

}  // namespace
