// The forward pass against a naive double-precision reference written from the
// architecture definitions, for llama, qwen2 and gpt2, plus the KV-cache API.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/quant.h"
#include "core/threads.h"
#include "model/forward.h"
#include "model/synthetic.h"

using namespace flops;

namespace {

ModelConfig tiny(Arch a, int n_head_kv = 2) {
  ModelConfig c;
  c.arch = a;
  c.arch_name = a == Arch::Llama ? "llama" : a == Arch::Qwen2 ? "qwen2" : "gpt2";
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = a == Arch::GPT2 ? 4 : n_head_kv;
  c.n_ff = 64;
  c.n_ctx_train = 64;
  c.n_rot = 8;
  c.rope_theta = 10000.0f;
  c.norm_eps = 1e-5f;
  return c;
}

std::unique_ptr<Model> build(const ModelConfig& c, DType t = DType::F32, bool tied = false) {
  SyntheticOptions o;
  o.matrix_type = t;
  o.tied_output = tied;
  o.init_std = 0.2f;
  return load_synthetic_model(c, o, "tiny");
}

using Vec = std::vector<double>;

// Dequantized tensors of the file, by name.
struct Ref {
  const Model& m;
  std::map<std::string, Vec> w;
  explicit Ref(const Model& mm) : m(mm) {
    for (auto& t : m.gguf.tensors) {
      std::vector<float> f(t.n_elements);
      size_t rb = dtype_row_bytes(t.type, t.shape[0]);
      int64_t rows = (int64_t)t.n_elements / t.shape[0];
      for (int64_t r = 0; r < rows; r++) dequantize_row(t.type, t.data + r * rb, f.data() + r * t.shape[0], t.shape[0]);
      w[t.name] = Vec(f.begin(), f.end());
    }
  }
  const Vec& W(const std::string& n) { return w.at(n); }
  bool has(const std::string& n) { return w.count(n) > 0; }
  // y = W x (+ b), W stored [rows][cols]
  Vec lin(const std::string& n, const Vec& x, int rows, const std::string& bias = "") {
    const Vec& a = W(n);
    int cols = (int)x.size();
    Vec y(rows, 0.0);
    for (int r = 0; r < rows; r++)
      for (int k = 0; k < cols; k++) y[r] += a[(size_t)r * cols + k] * x[k];
    if (!bias.empty() && has(bias))
      for (int r = 0; r < rows; r++) y[r] += W(bias)[r];
    return y;
  }
  Vec normed(const Vec& x, const std::string& wn, const std::string& bn) {
    int n = (int)x.size();
    Vec y(n);
    if (m.cfg.arch == Arch::GPT2) {
      double mean = 0, var = 0;
      for (double v : x) mean += v;
      mean /= n;
      for (double v : x) var += (v - mean) * (v - mean);
      var /= n;
      for (int i = 0; i < n; i++) y[i] = (x[i] - mean) / std::sqrt(var + m.cfg.norm_eps) * W(wn)[i] + W(bn)[i];
    } else {
      double ss = 0;
      for (double v : x) ss += v * v;
      for (int i = 0; i < n; i++) y[i] = x[i] / std::sqrt(ss / n + m.cfg.norm_eps) * W(wn)[i];
    }
    return y;
  }
  void rope(double* v, int pos) {
    const ModelConfig& c = m.cfg;
    bool neox = c.arch == Arch::Qwen2;
    for (int i = 0; i < c.n_rot / 2; i++) {
      double a = pos * std::pow((double)c.rope_theta, -2.0 * i / c.n_rot);
      int i0 = neox ? i : 2 * i, i1 = neox ? i + c.n_rot / 2 : 2 * i + 1;
      double x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * std::cos(a) - x1 * std::sin(a);
      v[i1] = x0 * std::sin(a) + x1 * std::cos(a);
    }
  }
  // Logits of every position for a plain causal sequence at positions 0..T-1.
  std::vector<Vec> logits(const std::vector<int32_t>& toks) {
    const ModelConfig& c = m.cfg;
    const int d = c.n_embd, hd = c.head_dim(), kvd = c.kv_dim(), T = (int)toks.size();
    std::vector<Vec> x(T, Vec(d));
    for (int t = 0; t < T; t++)
      for (int i = 0; i < d; i++) {
        x[t][i] = W("token_embd.weight")[(size_t)toks[t] * d + i];
        if (c.arch == Arch::GPT2) x[t][i] += W("position_embd.weight")[(size_t)t * d + i];
      }
    for (int l = 0; l < c.n_layer; l++) {
      std::string p = "blk." + std::to_string(l) + ".";
      std::vector<Vec> q(T), k(T), v(T);
      for (int t = 0; t < T; t++) {
        Vec xn = normed(x[t], p + "attn_norm.weight", p + "attn_norm.bias");
        if (c.arch == Arch::GPT2) {
          Vec qkv = lin(p + "attn_qkv.weight", xn, d + 2 * kvd, p + "attn_qkv.bias");
          q[t] = Vec(qkv.begin(), qkv.begin() + d);
          k[t] = Vec(qkv.begin() + d, qkv.begin() + d + kvd);
          v[t] = Vec(qkv.begin() + d + kvd, qkv.end());
        } else {
          q[t] = lin(p + "attn_q.weight", xn, d, p + "attn_q.bias");
          k[t] = lin(p + "attn_k.weight", xn, kvd, p + "attn_k.bias");
          v[t] = lin(p + "attn_v.weight", xn, kvd, p + "attn_v.bias");
          for (int h = 0; h < c.n_head; h++) rope(&q[t][h * hd], t);
          for (int h = 0; h < c.n_head_kv; h++) rope(&k[t][h * hd], t);
        }
      }
      for (int t = 0; t < T; t++) {
        Vec att(d, 0.0);
        for (int h = 0; h < c.n_head; h++) {
          int kh = h / (c.n_head / c.n_head_kv);
          Vec s(t + 1);
          double mx = -1e300, sum = 0;
          for (int j = 0; j <= t; j++) {
            double dot = 0;
            for (int i = 0; i < hd; i++) dot += q[t][h * hd + i] * k[j][kh * hd + i];
            s[j] = dot / std::sqrt((double)hd);
            mx = std::max(mx, s[j]);
          }
          for (int j = 0; j <= t; j++) sum += s[j] = std::exp(s[j] - mx);
          for (int j = 0; j <= t; j++)
            for (int i = 0; i < hd; i++) att[h * hd + i] += s[j] / sum * v[j][kh * hd + i];
        }
        Vec o = lin(p + "attn_output.weight", att, d, p + "attn_output.bias");
        for (int i = 0; i < d; i++) x[t][i] += o[i];
        Vec xn = normed(x[t], p + "ffn_norm.weight", p + "ffn_norm.bias");
        Vec hdn;
        if (c.arch == Arch::GPT2) {
          hdn = lin(p + "ffn_up.weight", xn, c.n_ff, p + "ffn_up.bias");
          for (auto& z : hdn) z = 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
        } else {
          Vec g = lin(p + "ffn_gate.weight", xn, c.n_ff), u = lin(p + "ffn_up.weight", xn, c.n_ff);
          hdn.resize(c.n_ff);
          for (int i = 0; i < c.n_ff; i++) hdn[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
        }
        Vec dn = lin(p + "ffn_down.weight", hdn, d, p + "ffn_down.bias");
        for (int i = 0; i < d; i++) x[t][i] += dn[i];
      }
    }
    std::vector<Vec> out;
    std::string on = has("output.weight") ? "output.weight" : "token_embd.weight";
    for (int t = 0; t < T; t++) out.push_back(lin(on, normed(x[t], "output_norm.weight", "output_norm.bias"), c.n_vocab));
    return out;
  }
};

std::vector<int32_t> some_tokens(int n) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; i++) t.push_back((i * 37 + 11) % 256);
  return t;
}

void expect_close(const float* got, const Vec& want, double tol) {
  double mx = 0;
  for (size_t i = 0; i < want.size(); i++) mx = std::max(mx, std::fabs(got[i] - want[i]));
  EXPECT_LT(mx, tol);
}

}  // namespace

class ForwardArch : public ::testing::TestWithParam<Arch> {};

TEST_P(ForwardArch, MatchesNaiveReference) {
  auto m = build(tiny(GetParam()));
  Ref ref(*m);
  auto toks = some_tokens(9);
  auto want = ref.logits(toks);
  KVCache kv = make_kv_cache(m->cfg, 16);
  std::vector<float> logits;
  forward(*m, kv, make_batch(toks), logits);
  for (size_t t = 0; t < toks.size(); t++) expect_close(logits.data() + t * m->cfg.n_vocab, want[t], 2e-4);
}

TEST_P(ForwardArch, HiddenStatesAreWhatTheOutputMatrixReads) {
  // The hidden rows times the output matrix (in double) give the logits; without logits the
  // same hidden rows come back and the output matrix is skipped. F32: quantized matrices
  // would also quantize the hidden row on its way into the product.
  auto m = build(tiny(GetParam()), DType::F32, GetParam() == Arch::Llama);
  Ref ref(*m);
  const std::string on = ref.has("output.weight") ? "output.weight" : "token_embd.weight";
  const Vec& W = ref.W(on);
  auto toks = some_tokens(5);
  const int64_t d = m->cfg.n_embd, V = m->cfg.n_vocab;
  for (bool all : {true, false}) {
    KVCache kv = make_kv_cache(m->cfg, 16);
    std::vector<float> logits, hidden;
    Batch b = make_batch(toks, all);
    b.hidden = &hidden;
    forward(*m, kv, b, logits);
    const int64_t rows = all ? (int64_t)toks.size() : 1;
    ASSERT_EQ((int64_t)hidden.size(), rows * d);
    ASSERT_EQ((int64_t)logits.size(), rows * V);
    for (int64_t r = 0; r < rows; r++)
      for (int64_t v = 0; v < V; v++) {
        double dot = 0;
        for (int64_t i = 0; i < d; i++) dot += W[(size_t)(v * d + i)] * hidden[r * d + i];
        EXPECT_NEAR(logits[r * V + v], dot, 1e-4 + 1e-5 * std::fabs(dot)) << "row " << r << " token " << v;
      }
    KVCache kv2 = make_kv_cache(m->cfg, 16);
    std::vector<float> logits2 = {1.0f}, hidden2;
    b.hidden = &hidden2;
    b.logits = false;
    forward(*m, kv2, b, logits2);
    EXPECT_TRUE(logits2.empty());
    EXPECT_EQ(hidden2, hidden);
  }
}

TEST_P(ForwardArch, IncrementalDecodingEqualsBatch) {
  auto m = build(tiny(GetParam()));
  auto toks = some_tokens(7);
  KVCache a = make_kv_cache(m->cfg, 16), b = make_kv_cache(m->cfg, 16);
  std::vector<float> la, lb;
  forward(*m, a, make_batch(toks), la);
  forward(*m, b, make_batch({toks.begin(), toks.begin() + 3}), lb);
  for (size_t t = 3; t < toks.size(); t++) forward(*m, b, make_batch({toks[t]}), lb);
  const int V = m->cfg.n_vocab;
  for (int i = 0; i < V; i++) EXPECT_NEAR(la[(toks.size() - 1) * V + i], lb[i], 1e-4);
}

TEST_P(ForwardArch, FlopCountEqualsAnalytic) {
  auto m = build(tiny(GetParam()));
  KVCache kv = make_kv_cache(m->cfg, 32);
  std::vector<float> logits;
  counter::Scope s;
  forward(*m, kv, make_batch(some_tokens(20)), logits);
  double want = m->cfg.forward_flops(20, 0);
  EXPECT_NEAR((double)s.elapsed().model(), want, want * 1e-3);
  counter::Scope s2;
  forward(*m, kv, make_batch(some_tokens(5)), logits);
  double want2 = m->cfg.forward_flops(5, 20);
  EXPECT_NEAR((double)s2.elapsed().model(), want2, want2 * 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Archs, ForwardArch, ::testing::Values(Arch::Llama, Arch::Qwen2, Arch::GPT2),
                         [](const auto& info) { return std::string(info.param == Arch::Llama ? "llama" : info.param == Arch::Qwen2 ? "qwen2" : "gpt2"); });

TEST(Forward, TiedOutputAndQuantizedWeights) {
  for (DType t : {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0}) {
    auto m = build(tiny(Arch::Llama), t, true);
    EXPECT_TRUE(m->tied_output());
    Ref ref(*m);  // the reference uses the same (dequantized) weights
    auto toks = some_tokens(6);
    auto want = ref.logits(toks);
    KVCache kv = make_kv_cache(m->cfg, 8);
    std::vector<float> logits;
    forward(*m, kv, make_batch(toks), logits);
    // Quantized matvec may quantize activations to 8 bits: looser bound.
    double tol = (t == DType::Q8_0 || t == DType::Q4_0) ? 0.1 : 2e-3;
    for (size_t i = 0; i < toks.size(); i++) expect_close(logits.data() + i * m->cfg.n_vocab, want[i], tol);
  }
}

TEST(Forward, SegmentsWithChosenPositionsAndScale) {
  // Two segments encoded independently at chosen positions, then a query that sees
  // both with its own keys weighted by 2: compare with a single-segment re-encoding
  // in the simple case where the scale is 1 and segments are contiguous.
  auto m = build(tiny(Arch::Llama));
  const int V = m->cfg.n_vocab;
  auto toks = some_tokens(10);
  // (a) plain causal run
  KVCache a = make_kv_cache(m->cfg, 16);
  std::vector<float> la;
  forward(*m, a, make_batch(toks), la);
  // (b) same tokens split in two batches where the second sees segment 0 explicitly
  KVCache b = make_kv_cache(m->cfg, 16);
  std::vector<float> lb;
  Batch b0 = make_batch({toks.begin(), toks.begin() + 4});
  b0.segment = 0;
  forward(*m, b, b0, lb);
  Batch b1 = make_batch({toks.begin() + 4, toks.end()});
  b1.segment = b.new_segment(1.0f);
  b1.see_all = false;
  b1.see_segments = {0};
  forward(*m, b, b1, lb);
  for (int i = 0; i < V; i++) EXPECT_NEAR(la[9 * V + i], lb[5 * V + i], 1e-4);
  // (c) a segment that sees nothing of the others equals a fresh run at the same positions
  KVCache c = make_kv_cache(m->cfg, 16);
  std::vector<float> lc, ld;
  forward(*m, c, make_batch({toks.begin(), toks.begin() + 4}), lc);
  Batch iso = make_batch({toks.begin() + 4, toks.end()});
  iso.segment = c.new_segment();
  iso.see_all = false;
  iso.pos = {10, 11, 12, 13, 14, 15};
  forward(*m, c, iso, lc);
  KVCache d = make_kv_cache(m->cfg, 16);
  Batch fresh = make_batch({toks.begin() + 4, toks.end()});
  fresh.pos = {10, 11, 12, 13, 14, 15};
  forward(*m, d, fresh, ld);
  for (size_t i = 0; i < lc.size(); i++) EXPECT_NEAR(lc[i], ld[i], 1e-5);
  EXPECT_EQ(c.pos[4], 10);
  EXPECT_EQ(c.seg[4], 1);
}

TEST(Forward, ErrorsNameTheProblem) {
  auto m = build(tiny(Arch::GPT2));
  KVCache kv = make_kv_cache(m->cfg, 4);
  std::vector<float> l;
  try {
    forward(*m, kv, make_batch(some_tokens(5)), l);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context too long"), std::string::npos);
  }
  try {
    forward(*m, kv, make_batch({1000}), l);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos);
  }
  EXPECT_THROW(forward(*m, kv, make_batch({}), l), Error);
}
