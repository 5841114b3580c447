// Must-show 2 of the quantization issue: on every llama.<type>.gguf reference file (a random
// llama model written and quantized by llama.cpp c392e509), flops's next-token log-probability
// and top-8 logits per position against llama.cpp's (*.ref.json, sequences ids64 and text300),
// and the perplexity at -c 128 against llama-perplexity's.
//
// The references used llama.cpp's default F16 KV cache (Q, K, V and the softmax weights rounded
// to fp16 inside attention: ~5e-4 mean |d logprob| on its own) and multiply quantized weights
// with activations quantized to Q8_0/Q8_1/Q8_K; flops keeps an F32 cache, and for T > 8 tokens
// multiplies dequantized weights with fp32 activations (up to 8 tokens at a time it uses int8
// activations too). The bounds below say what each type reaches and why (kCases); the F32 file
// is also checked against the F32-cache reference (llama.f32.kvf32.ref.json), where only the
// summation order differs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/perplexity.h"
#include "model/forward.h"
#include "model/model.h"
#include "core/dtype.h"
#include "test_util.h"

using namespace flops;

namespace {

struct Stats {
  double max_dlp = 0, sum_dlp = 0;  // |next-token log-probability difference|
  double max_dtop = 0;              // |logit difference| over llama.cpp's top 8 ids
  int64_t n = 0, top1_same = 0, positions = 0;
  void add(const Stats& o) {
    max_dlp = std::max(max_dlp, o.max_dlp);
    max_dtop = std::max(max_dtop, o.max_dtop);
    sum_dlp += o.sum_dlp;
    n += o.n;
    top1_same += o.top1_same;
    positions += o.positions;
  }
  double mean_dlp() const { return n ? sum_dlp / (double)n : 0.0; }
  double top1() const { return positions ? (double)top1_same / (double)positions : 0.0; }
};

std::string ref_dir() {
  const std::string d = test::shared_data_dir();
  return d.empty() ? "" : d + "/llama-reference";
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

enum class Mode {
  Batch,          // one batch per sequence (as llama_ref did: one llama_decode from an empty cache)
  Decode,         // one token at a time: every product takes the matvec path (int8 activations)
  DecodeF16Cache  // Decode, with an F16 KV cache as llama.cpp's default
};

std::vector<float> run(const Model& m, const std::vector<int32_t>& ids, Mode mode) {
  const KVCacheTypes types = mode == Mode::DecodeF16Cache ? KVCacheTypes{DType::F16, DType::F16} : KVCacheTypes{};
  KVCache kv = make_kv_cache(m.cfg, (int)ids.size(), types);
  std::vector<float> logits, one;
  if (mode == Mode::Batch) {
    forward(m, kv, make_batch(ids, true), logits);
    return logits;
  }
  for (int32_t id : ids) {
    forward(m, kv, make_batch({id}, true), one);
    logits.insert(logits.end(), one.begin(), one.end());
  }
  return logits;
}

double log_sum_exp(const float* l, int V, int& arg) {
  double mx = -1e300;
  arg = 0;
  for (int v = 0; v < V; v++)
    if (l[v] > mx) mx = l[v], arg = v;
  double z = 0;
  for (int v = 0; v < V; v++) z += std::exp((double)l[v] - mx);
  return mx + std::log(z);
}

// flops (mode) against llama.cpp's reference at every position of both sequences; with
// `other`, against flops itself in that mode instead (top-8: llama.cpp's ids).
Stats compare(const Model& m, const nlohmann::json& ref, Mode mode, const Mode* other = nullptr) {
  Stats st;
  const int V = m.cfg.n_vocab;
  for (const auto& seq : ref["sequences"]) {
    std::vector<int32_t> ids = seq["token_ids"].get<std::vector<int32_t>>();
    if (seq["source"] == "text" && mode == Mode::Batch && !other) {
      std::vector<int32_t> mine = m.tok.encode(seq["text"].get<std::string>(), seq["add_special"].get<bool>());
      EXPECT_EQ(mine, ids) << "tokenizer differs from llama.cpp on " << seq["name"];
    }
    const std::vector<float> logits = run(m, ids, mode);
    const std::vector<float> base = other ? run(m, ids, *other) : std::vector<float>();
    for (const auto& p : seq["positions"]) {
      const int pos = p["pos"];
      const float* l = logits.data() + (size_t)pos * V;
      int arg, barg = 0;
      const double lse = log_sum_exp(l, V, arg);
      const float* bl = other ? base.data() + (size_t)pos * V : nullptr;
      const double blse = other ? log_sum_exp(bl, V, barg) : 0.0;
      if (!p["next_token"].is_null()) {
        const int next = p["next_token"];
        const double want = other ? bl[next] - blse : (double)p["next_logprob"];
        const double d = std::fabs(((double)l[next] - lse) - want);
        st.max_dlp = std::max(st.max_dlp, d);
        st.sum_dlp += d;
        st.n++;
      }
      const auto& top = p["top"];
      st.positions++;
      st.top1_same += arg == (other ? barg : (int)top[0][0]);
      for (const auto& e : top) {
        const double want = other ? bl[(int)e[0]] : (double)e[1];
        st.max_dtop = std::max(st.max_dtop, std::fabs((double)l[(int)e[0]] - want));
      }
    }
  }
  return st;
}

struct Case {
  const char* file;  // llama.<type>
  double batch_max, batch_mean;    // bounds on |d logprob|, prompt path
  double decode_max, decode_mean;  // bounds on |d logprob|, one token at a time
  double min_top1;
  // Loaded as the inference commands load it (ModelLoadOptions::repack): Q4_0 then runs on the
  // packed kernels, the prompts on the int8 GEMM.
  bool packed = false;
};

// Bounds: about 1.5-2x what was measured on this machine (AVX2 kernels, see the table the
// test prints), so that a real regression fails and summation-order noise does not.
//   F32/F16: llama.cpp's F16 KV cache (and, for F16, its F16 activations): ~3.5e-4 / 8.7e-4.
//   BF16: llama.cpp rounds the activations to bfloat16 (8 significant bits): ~7e-3.
//   Quantized: ~2.5e-2..3.6e-2, the same in the batch and decode paths. The f16kv row shows
//   why: rounding only the K/V rows to fp16 in flops's own int8 path moves log-probabilities
//   by as much (2.3e-2..3.5e-2, vs 2.4e-4 for float weights). Int8 rounding of activations is
//   discontinuous, so any small perturbation (the fp16 cache, summation order) moves some
//   activations across a rounding boundary and is amplified to the size of the int8 error.
constexpr double kQ = 0.45, kQMean = 0.055;
const Case kCases[] = {
    {"llama.f32", 4e-3, 6e-4, 4e-3, 6e-4, 0.99},        {"llama.f16", 8e-3, 1.5e-3, 8e-3, 1.5e-3, 0.99},
    {"llama.bf16", 0.1, 0.012, 0.1, 0.012, 0.99},        {"llama.q8_0", kQ, kQMean, kQ, kQMean, 0.95},
    {"llama.q4_0", kQ, kQMean, kQ, kQMean, 0.95},        {"llama.q4_1", kQ, kQMean, kQ, kQMean, 0.95},
    {"llama.q5_0", kQ, kQMean, kQ, kQMean, 0.95},        {"llama.q5_1", kQ, kQMean, kQ, kQMean, 0.95},
    {"llama.q2_k", kQ, kQMean, kQ, kQMean, 0.95},        {"llama.q3_k_s", kQ, kQMean, kQ, kQMean, 0.95},
    {"llama.q3_k_m", kQ, kQMean, kQ, kQMean, 0.95},      {"llama.q4_k_s", kQ, kQMean, kQ, kQMean, 0.95},
    {"llama.q4_k_m", kQ, kQMean, kQ, kQMean, 0.95},      {"llama.q5_k_s", kQ, kQMean, kQ, kQMean, 0.95},
    {"llama.q5_k_m", kQ, kQMean, kQ, kQMean, 0.95},      {"llama.q6_k", kQ, kQMean, kQ, kQMean, 0.95},
    {"llama.iq4_nl", kQ, kQMean, kQ, kQMean, 0.95},      {"llama.iq4_xs", kQ, kQMean, kQ, kQMean, 0.95},
    {"llama.q4_0", kQ, kQMean, kQ, kQMean, 0.95, true},
};

}  // namespace

TEST(QuantReference, F32MatchesLlamaCppWithF32Cache) {
  const std::string dir = ref_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  auto m = load_model(dir + "/llama.f32.gguf");
  Stats st = compare(*m, read_json(dir + "/llama.f32.kvf32.ref.json"), Mode::Batch);
  std::printf("llama.f32 vs F32-cache reference: max |dlogprob| %.2e, mean %.2e, max |dtop8 logit| %.2e, top-1 %.4f\n",
              st.max_dlp, st.mean_dlp(), st.max_dtop, st.top1());
  EXPECT_LT(st.max_dlp, 1e-4);
  EXPECT_LT(st.max_dtop, 1e-4);
  EXPECT_EQ(st.top1_same, st.positions);
}

TEST(QuantReference, EveryTypeAgainstLlamaCpp) {
  const std::string dir = ref_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data not present";
  std::printf("%-13s %-6s %10s %10s %10s %7s | %11s %11s %9s\n", "file", "path", "max|dlp|", "mean|dlp|", "max|dtop8|",
              "top-1", "PPL flops", "PPL llama", "rel");
  const char* only = std::getenv("FLOPS_REF_ONLY");  // one file, when chasing a difference
  for (const Case& c : kCases) {
    if (only && *only && std::string(only) != c.file) continue;
    SCOPED_TRACE(std::string(c.file) + (c.packed ? " packed" : ""));
    const std::string base = dir + "/" + c.file;
    ModelLoadOptions lo;
    lo.repack = c.packed;
    auto m = load_model(base + ".gguf", lo);
    const std::string label = std::string(c.file) + (c.packed ? "/p" : "");
    if (c.packed) {
      bool any = m->output.rows8;
      for (const auto& l : m->layers)
        for (const Weight* w : {&l.wq, &l.wk, &l.wv, &l.wqkv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) any = any || w->rows8;
      ASSERT_TRUE(any) << "nothing was packed: the row would test the row-major path again";
    }
    const nlohmann::json ref = read_json(base + ".ref.json");
    const Stats batch = compare(*m, ref, Mode::Batch), decode = compare(*m, ref, Mode::Decode);
    // What llama.cpp's F16 cache alone does to flops's int8 path: the same rounding of K/V
    // moves the activations across int8 rounding boundaries, which amplifies it.
    const Mode dec = Mode::Decode;
    const Stats cache = compare(*m, ref, Mode::DecodeF16Cache, &dec);
    // Perplexity exactly as llama-perplexity -c 128 computes it (see eval/perplexity.h).
    std::ifstream in(dir + "/tinyshakespeare_first20000.txt");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::vector<int32_t> toks = m->tok.encode(text, true);
    const PerplexityResult pr = perplexity_chunks(*m, toks, 128, m->tok.add_bos_default() ? m->tok.bos() : -1);
    const double want = ref["perplexity"]["ppl"], rel = pr.ppl / want - 1.0;
    std::printf("%-13s %-6s %10.2e %10.2e %10.2e %7.4f | %11.4f %11.4f %+8.4f%%\n", label.c_str(), "batch", batch.max_dlp,
                batch.mean_dlp(), batch.max_dtop, batch.top1(), pr.ppl, want, 100 * rel);
    std::printf("%-13s %-6s %10.2e %10.2e %10.2e %7.4f |\n", label.c_str(), "decode", decode.max_dlp, decode.mean_dlp(),
                decode.max_dtop, decode.top1());
    std::printf("%-13s %-6s %10.2e %10.2e %10.2e %7.4f | (flops decode, F16- vs F32-cache)\n", label.c_str(), "f16kv",
                cache.max_dlp, cache.mean_dlp(), cache.max_dtop, cache.top1());
    EXPECT_EQ(pr.n_scored, 5103);
    EXPECT_LT(std::fabs(rel), 1e-3) << "perplexity " << pr.ppl << " vs llama.cpp " << want;
    EXPECT_LT(batch.max_dlp, c.batch_max);
    EXPECT_LT(batch.mean_dlp(), c.batch_mean);
    EXPECT_LT(decode.max_dlp, c.decode_max);
    EXPECT_LT(decode.mean_dlp(), c.decode_mean);
    EXPECT_GE(std::min(batch.top1(), decode.top1()), c.min_top1);
    if (std::string(c.file).find(".q") != std::string::npos || std::string(c.file).find(".iq") != std::string::npos) {
      EXPECT_GT(cache.mean_dlp(), 0.5 * decode.mean_dlp()) << "the F16 cache no longer explains the difference";
    } else {
      EXPECT_LT(cache.mean_dlp(), 5e-4);
    }
  }
}
