// The forward pass against a naive double-precision reference written from the architecture
// definitions (one per family: llama with and without rope_freqs and biases, qwen2, phi3, gemma2,
// bert, gpt2), multi-sequence passes against single ones, plus the KV-cache API.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/quant.h"
#include "core/threads.h"
#include "model/arch.h"
#include "model/forward.h"
#include "model/synthetic.h"

using namespace flops;

namespace {

const KVCacheTypes kF16Cache{DType::F16, DType::F16};

// Key j of a slot, as a float.
float key(const KVCache& kv, int layer, int slot, int j) {
  std::vector<float> k(kv.kv_dim);
  kv.read_k(layer, slot, k.data());
  return k[j];
}

ModelConfig tiny(Arch a, int n_head_kv = 2) {
  ModelConfig c;
  c.arch = a;
  c.arch_name = arch_spec(a).name;
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = (a == Arch::GPT2 || a == Arch::Bert) ? 4 : n_head_kv;
  c.n_ff = 64;
  c.n_ctx_train = 64;
  c.n_rot = arch_spec(a).rope == RopeStyle::None ? 0 : 8;
  c.rope_theta = 10000.0f;
  c.norm_eps = 1e-5f;
  if (a == Arch::Phi3) c.n_swa = 5;
  if (a == Arch::Gemma2) {  // query width 16 != n_embd, a window of 4 on layer 0, soft-caps that bite
    c.n_embd_head = 4;
    c.n_rot = 4;
    c.n_swa = 4;
    c.attn_softcap = 1.5f;
    c.final_softcap = 3.0f;
  }
  if (a == Arch::Bert) {
    c.causal = false;
    c.pooling_type = 2;
    c.norm_eps = 1e-12f;
  }
  return c;
}

std::unique_ptr<Model> build(const ModelConfig& c, DType t = DType::F32, bool tied = false, bool extras = false) {
  SyntheticOptions o;
  o.matrix_type = t;
  o.tied_output = tied;
  o.init_std = 0.2f;
  o.optional_biases = extras;
  o.rope_freqs = extras;
  return load_synthetic_model(c, o, "tiny");
}

using Vec = std::vector<double>;

// Dequantized tensors of the file, by name, and the model written out step by step in double.
struct Ref {
  const Model& m;
  const ArchSpec& a;
  std::map<std::string, Vec> w;
  explicit Ref(const Model& mm) : m(mm), a(*mm.spec) {
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
    const Vec& A = W(n);
    int cols = (int)x.size();
    Vec y(rows, 0.0);
    for (int r = 0; r < rows; r++)
      for (int k = 0; k < cols; k++) y[r] += A[(size_t)r * cols + k] * x[k];
    if (!bias.empty() && has(bias))
      for (int r = 0; r < rows; r++) y[r] += W(bias)[r];
    return y;
  }
  Vec normed(const Vec& x, const std::string& base) {
    int n = (int)x.size();
    Vec y(n);
    const Vec& g = W(base + ".weight");
    if (a.norm == NormKind::Layer) {
      double mean = 0, var = 0;
      for (double v : x) mean += v;
      mean /= n;
      for (double v : x) var += (v - mean) * (v - mean);
      var /= n;
      for (int i = 0; i < n; i++) y[i] = (x[i] - mean) / std::sqrt(var + m.cfg.norm_eps) * g[i] + W(base + ".bias")[i];
    } else {
      double ss = 0;
      for (double v : x) ss += v * v;
      for (int i = 0; i < n; i++) y[i] = x[i] / std::sqrt(ss / n + m.cfg.norm_eps) * g[i];
    }
    return y;
  }
  void rope(double* v, int pos) {
    const ModelConfig& c = m.cfg;
    bool neox = a.rope == RopeStyle::Neox;
    for (int i = 0; i < c.n_rot / 2; i++) {
      double ff = has("rope_freqs.weight") ? W("rope_freqs.weight")[i] : 1.0;
      double ang = c.rope_freq_scale * pos * std::pow((double)c.rope_theta, -2.0 * i / c.n_rot) / ff;
      int i0 = neox ? i : 2 * i, i1 = neox ? i + c.n_rot / 2 : 2 * i + 1;
      double x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * std::cos(ang) - x1 * std::sin(ang);
      v[i1] = x0 * std::sin(ang) + x1 * std::cos(ang);
    }
  }
  static double gelu(double z) { return 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z))); }
  // Final hidden rows (after the final norm) of a sequence at positions 0..T-1.
  std::vector<Vec> hidden(const std::vector<int32_t>& toks) {
    const ModelConfig& c = m.cfg;
    const int d = c.n_embd, hd = c.head_dim(), qd = c.q_dim(), kvd = c.kv_dim(), T = (int)toks.size(), ff = c.n_ff;
    std::vector<Vec> x(T, Vec(d));
    for (int t = 0; t < T; t++)
      for (int i = 0; i < d; i++) {
        x[t][i] = W("token_embd.weight")[(size_t)toks[t] * d + i] * (a.embd_scale ? std::sqrt((double)d) : 1.0);
        if (a.learned_pos) x[t][i] += W("position_embd.weight")[(size_t)t * d + i];
        if (a.token_types) x[t][i] += W("token_types.weight")[i];
      }
    if (a.embd_norm)
      for (auto& r : x) r = normed(r, "token_embd_norm");
    const bool pre = a.norm_place == NormPlace::Pre;
    for (int l = 0; l < c.n_layer; l++) {
      std::string p = "blk." + std::to_string(l) + ".";
      std::vector<Vec> q(T), k(T), v(T);
      for (int t = 0; t < T; t++) {
        Vec xn = pre ? normed(x[t], p + a.attn_norm_name) : x[t];
        if (a.fused_qkv) {
          Vec qkv = lin(p + "attn_qkv.weight", xn, qd + 2 * kvd, p + "attn_qkv.bias");
          q[t] = Vec(qkv.begin(), qkv.begin() + qd);
          k[t] = Vec(qkv.begin() + qd, qkv.begin() + qd + kvd);
          v[t] = Vec(qkv.begin() + qd + kvd, qkv.end());
        } else {
          q[t] = lin(p + "attn_q.weight", xn, qd, p + "attn_q.bias");
          k[t] = lin(p + "attn_k.weight", xn, kvd, p + "attn_k.bias");
          v[t] = lin(p + "attn_v.weight", xn, kvd, p + "attn_v.bias");
        }
        if (a.rope != RopeStyle::None) {
          for (int h = 0; h < c.n_head; h++) rope(&q[t][h * hd], t);
          for (int h = 0; h < c.n_head_kv; h++) rope(&k[t][h * hd], t);
        }
      }
      const bool sliding = layer_is_sliding(c, l);
      std::vector<Vec> y(T);
      for (int t = 0; t < T; t++) {
        Vec att(qd, 0.0);
        for (int h = 0; h < c.n_head; h++) {
          int kh = h / (c.n_head / c.n_head_kv);
          Vec s(T, 0.0);
          std::vector<bool> seen(T, false);
          double mx = -1e300, sum = 0;
          for (int j = 0; j < T; j++) {
            if ((c.causal && j > t) || (sliding && t - j >= c.n_swa)) continue;
            double dot = 0;
            for (int i = 0; i < hd; i++) dot += q[t][h * hd + i] * k[j][kh * hd + i];
            s[j] = dot * c.query_scale();
            if (c.attn_softcap > 0) s[j] = c.attn_softcap * std::tanh(s[j] / c.attn_softcap);
            seen[j] = true;
            mx = std::max(mx, s[j]);
          }
          for (int j = 0; j < T; j++)
            if (seen[j]) sum += s[j] = std::exp(s[j] - mx);
          for (int j = 0; j < T; j++)
            if (seen[j])
              for (int i = 0; i < hd; i++) att[h * hd + i] += s[j] / sum * v[j][kh * hd + i];
        }
        Vec o = lin(p + "attn_output.weight", att, d, p + "attn_output.bias");
        if (a.sandwich_norms) o = normed(o, p + "post_attention_norm");
        for (int i = 0; i < d; i++) o[i] += x[t][i];
        if (!pre) o = normed(o, p + a.attn_norm_name);
        Vec xn = pre ? normed(o, p + a.ffn_norm_name) : o;
        Vec hdn(ff);
        if (a.ffn == FfnKind::GELU) {
          hdn = lin(p + "ffn_up.weight", xn, ff, p + "ffn_up.bias");
          for (auto& z : hdn) z = gelu(z);
        } else {
          Vec g, u;
          if (a.fused_gate_up) {
            Vec gu = lin(p + "ffn_up.weight", xn, 2 * ff);
            g = Vec(gu.begin(), gu.begin() + ff), u = Vec(gu.begin() + ff, gu.end());
          } else {
            g = lin(p + "ffn_gate.weight", xn, ff, p + "ffn_gate.bias"), u = lin(p + "ffn_up.weight", xn, ff, p + "ffn_up.bias");
          }
          for (int i = 0; i < ff; i++) hdn[i] = (a.ffn == FfnKind::SwiGLU ? g[i] / (1 + std::exp(-g[i])) : gelu(g[i])) * u[i];
        }
        Vec dn = lin(p + "ffn_down.weight", hdn, d, p + "ffn_down.bias");
        if (a.sandwich_norms) dn = normed(dn, p + "post_ffw_norm");
        for (int i = 0; i < d; i++) dn[i] += o[i];
        if (!pre) dn = normed(dn, p + a.ffn_norm_name);
        y[t] = dn;
      }
      x = y;
    }
    if (a.final_norm)
      for (auto& r : x) r = normed(r, "output_norm");
    return x;
  }
  // Logits of every position for a plain causal sequence at positions 0..T-1.
  std::vector<Vec> logits(const std::vector<int32_t>& toks) {
    std::string on = has("output.weight") ? "output.weight" : "token_embd.weight";
    std::vector<Vec> out;
    for (auto& h : hidden(toks)) {
      Vec l = lin(on, h, m.cfg.n_vocab);
      if (m.cfg.final_softcap > 0)
        for (auto& z : l) z = m.cfg.final_softcap * std::tanh(z / m.cfg.final_softcap);
      out.push_back(l);
    }
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

struct Family {
  Arch arch;
  bool extras;  // llama: optional biases and a rope_freqs tensor
  const char* name;
};

class ForwardArch : public ::testing::TestWithParam<Family> {
 protected:
  std::unique_ptr<Model> make(DType t = DType::F32, bool tied = false) {
    return build(tiny(GetParam().arch), t, tied, GetParam().extras);
  }
  bool encoder() const { return !arch_spec(GetParam().arch).lm_head; }
};

// Runs the model on toks from an empty cache; hidden rows always, logits when it has a head.
void run_fresh(const Model& m, const std::vector<int32_t>& toks, std::vector<float>& logits, std::vector<float>& hidden,
               int n_ctx = 16) {
  KVCache kv = make_kv_cache(m.cfg, n_ctx);
  Batch b = make_batch(toks);
  b.hidden = &hidden;
  b.logits = m.has_lm_head();
  forward(m, kv, b, logits);
}

TEST_P(ForwardArch, MatchesNaiveReference) {
  auto m = make();
  Ref ref(*m);
  auto toks = some_tokens(9);  // past the windows of phi3 (5) and gemma2 (4)
  std::vector<float> logits, hidden;
  run_fresh(*m, toks, logits, hidden);
  auto want_h = ref.hidden(toks);
  for (size_t t = 0; t < toks.size(); t++) expect_close(hidden.data() + t * m->cfg.n_embd, want_h[t], 2e-4);
  if (encoder()) return;
  auto want = ref.logits(toks);
  for (size_t t = 0; t < toks.size(); t++) expect_close(logits.data() + t * m->cfg.n_vocab, want[t], 2e-4);
}

TEST_P(ForwardArch, HiddenStatesAreWhatTheOutputMatrixReads) {
  // The hidden rows times the output matrix (in double) give the logits; without logits the
  // same hidden rows come back and the output matrix is skipped. F32: quantized matrices
  // would also quantize the hidden row on its way into the product.
  if (encoder()) GTEST_SKIP() << "an encoder has no output matrix";
  auto m = make(DType::F32, GetParam().arch == Arch::Llama);
  Ref ref(*m);
  const std::string on = ref.has("output.weight") ? "output.weight" : "token_embd.weight";
  const Vec& W = ref.W(on);
  auto toks = some_tokens(5);
  const int64_t d = m->cfg.n_embd, V = m->cfg.n_vocab;
  const double cap = m->cfg.final_softcap;
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
        if (cap > 0) dot = cap * std::tanh(dot / cap);
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
  if (encoder()) GTEST_SKIP() << "bidirectional: a later token changes the earlier ones";
  auto m = make();
  auto toks = some_tokens(9);
  // An F16 cache too: the batch reads its keys converted to F32, a decode step the halves.
  for (const KVCacheTypes types : {KVCacheTypes{}, kF16Cache}) {
    KVCache a = make_kv_cache(m->cfg, 16, types), b = make_kv_cache(m->cfg, 16, types);
    std::vector<float> la, lb;
    forward(*m, a, make_batch(toks), la);
    forward(*m, b, make_batch({toks.begin(), toks.begin() + 3}), lb);
    for (size_t t = 3; t < toks.size(); t++) forward(*m, b, make_batch({toks[t]}), lb);
    const int V = m->cfg.n_vocab;
    for (int i = 0; i < V; i++) EXPECT_NEAR(la[(toks.size() - 1) * V + i], lb[i], 1e-4) << kv_cache_type_name(types.k);
  }
}

// Keys and values rounded to F16 (2^-11 relative) move these logits (magnitude ~1) by 3-4e-3 at
// worst and 2-5e-4 on average (measured over the families); bounds about twice that.
TEST_P(ForwardArch, F16CacheCloseToF32Cache) {
  auto m = make();
  const bool head = m->has_lm_head();
  auto toks = some_tokens(9);
  std::vector<float> out[2];
  for (int i = 0; i < 2; i++) {
    KVCache kv = make_kv_cache(m->cfg, 16, i ? kF16Cache : KVCacheTypes{});
    std::vector<float> l, h;
    Batch b = make_batch({toks.begin(), toks.begin() + 6});
    b.logits = head;
    b.hidden = &h;
    forward(*m, kv, b, l);
    out[i].insert(out[i].end(), (head ? l : h).begin(), (head ? l : h).end());
    if (encoder()) continue;
    for (size_t t = 6; t < toks.size(); t++) {
      forward(*m, kv, make_batch({toks[t]}), l);
      out[i].insert(out[i].end(), l.begin(), l.end());
    }
  }
  ASSERT_EQ(out[0].size(), out[1].size());
  double worst = 0, mean = 0;
  for (size_t j = 0; j < out[0].size(); j++) {
    const double d = std::fabs((double)out[0][j] - out[1][j]);
    worst = std::max(worst, d);
    mean += d / (double)out[0].size();
  }
  std::printf("%-26s F16 vs F32 cache: max |d| %.2e  mean %.2e\n", GetParam().name, worst, mean);
  EXPECT_LT(worst, 8e-3);
  EXPECT_LT(mean, 1e-3);
  EXPECT_GT(worst, 0.0) << "the F16 cache changed nothing: is it used?";
}

TEST_P(ForwardArch, FlopCountEqualsAnalytic) {
  auto m = make();
  KVCache kv = make_kv_cache(m->cfg, 32);
  std::vector<float> logits, hidden;
  auto batch = [&](int n) {
    Batch b = make_batch(some_tokens(n));
    b.logits = m->has_lm_head();
    b.hidden = &hidden;
    return b;
  };
  counter::Scope s;
  forward(*m, kv, batch(20), logits);
  double want = m->cfg.forward_flops(20, 0);
  EXPECT_NEAR((double)s.elapsed().model(), want, want * 1e-3);
  counter::Scope s2;
  forward(*m, kv, batch(5), logits);
  double want2 = m->cfg.forward_flops(5, 20);
  EXPECT_NEAR((double)s2.elapsed().model(), want2, want2 * 1e-3);
}

// Several sequences of different lengths over caches filled to different levels, in one pass,
// against one forward per sequence on copies of the same caches.
TEST_P(ForwardArch, MultiSequencePassEqualsSinglePasses) {
  auto m = make();
  const bool head = m->has_lm_head();
  for (const KVCacheTypes types : {KVCacheTypes{}, kF16Cache, KVCacheTypes{DType::F16, DType::F32}}) {
    SCOPED_TRACE(std::string("cache ") + kv_cache_type_name(types.k) + "/" + kv_cache_type_name(types.v));
    const std::vector<int> fill = {5, 0, 11, 2}, len = {3, 7, 1, 6};
    const std::vector<bool> all = {true, false, true, false};
    std::vector<KVCache> caches, copies;
    for (size_t i = 0; i < fill.size(); i++) {
      caches.push_back(make_kv_cache(m->cfg, 24, types));
      if (fill[i] > 0) {
        std::vector<float> l, h;
        Batch b = make_batch(some_tokens(fill[i] + (int)i));
        b.tokens.erase(b.tokens.begin(), b.tokens.begin() + (int)i);
        b.logits = false;
        b.hidden = &h;
        forward(*m, caches.back(), b, l);
      }
    }
    copies = caches;
    std::vector<SeqInput> in;
    std::vector<std::vector<float>> hid(fill.size());
    for (size_t i = 0; i < fill.size(); i++) {
      std::vector<int32_t> t;
      for (int j = 0; j < len[i]; j++) t.push_back((int32_t)((i * 53 + j * 29 + 7) % 256));
      in.push_back(SeqInput{&caches[i], t, all[i]});
      in.back().logits = head;
      in.back().hidden = &hid[i];
    }
    std::vector<std::vector<float>> logits;
    forward_multi(*m, in, logits);
    ASSERT_EQ(logits.size(), in.size());
    for (size_t i = 0; i < in.size(); i++) {
      Batch b = make_batch(in[i].tokens, all[i]);
      std::vector<float> l, h;
      b.hidden = &h;
      b.logits = head;
      forward(*m, copies[i], b, l);
      const int64_t rows = all[i] ? len[i] : 1;
      EXPECT_EQ(caches[i].n, fill[i] + len[i]);
      EXPECT_EQ(caches[i].pos[caches[i].n - 1], fill[i] + len[i] - 1);
      ASSERT_EQ((int64_t)hid[i].size(), rows * m->cfg.n_embd);
      ASSERT_EQ((int64_t)logits[i].size(), head ? rows * m->cfg.n_vocab : 0);
      double mx = 0;
      for (size_t j = 0; j < l.size(); j++) mx = std::max(mx, (double)std::fabs(l[j] - logits[i][j]));
      for (size_t j = 0; j < h.size(); j++) mx = std::max(mx, (double)std::fabs(h[j] - hid[i][j]));
      // F32 products of different batch sizes differ by float rounding (1e-7); rounding a key to
      // F16 can turn that into one half-precision step (2^-11 relative), and the logits move
      // by up to 6e-5 (measured): the F16 bound is 2e-4, one half step for the keys. (Quantized
      // weights give bit-identical rows: see RepackedForDecodeKeepsLogitsAndBatchEquality.)
      const bool f32 = types.k == DType::F32 && types.v == DType::F32;
      EXPECT_LT(mx, f32 ? 1e-5 : 2e-4) << "sequence " << i;
      // The keys and values written are the single pass's too.
      for (int l2 = 0; l2 < m->cfg.n_layer; l2++)
        for (int j = 0; j < m->cfg.kv_dim(); j++) {
          const float a = key(caches[i], l2, caches[i].n - 1, j), b = key(copies[i], l2, copies[i].n - 1, j);
          ASSERT_NEAR(a, b, types.k == DType::F32 ? 1e-5 : 1e-5 + std::ldexp(std::fabs(b), -10));
        }
    }
  }
}

// A decode step of several sequences (one new token each: the server's steady state, where rope
// and the cache writes run per row on the pool) gives each sequence its single pass's logits.
TEST_P(ForwardArch, DecodeStepOfSeveralSequencesEqualsSinglePasses) {
  auto m = make();
  if (!m->has_lm_head() || !m->cfg.causal) GTEST_SKIP() << "no decode step";
  for (const KVCacheTypes types : {KVCacheTypes{}, kF16Cache}) {
    const std::vector<int> fill = {4, 9, 1, 6, 3};
    std::vector<KVCache> caches;
    for (size_t i = 0; i < fill.size(); i++) {
      caches.push_back(make_kv_cache(m->cfg, 16, types));
      std::vector<float> l;
      Batch b = make_batch(some_tokens(fill[i] + (int)i));
      b.tokens.erase(b.tokens.begin(), b.tokens.begin() + (int)i);
      forward(*m, caches.back(), b, l);
    }
    std::vector<KVCache> copies = caches;
    std::vector<SeqInput> in;
    for (size_t i = 0; i < fill.size(); i++) in.push_back(SeqInput{&caches[i], {(int32_t)(17 + 31 * i)}, false});
    std::vector<std::vector<float>> logits;
    forward_multi(*m, in, logits);
    for (size_t i = 0; i < fill.size(); i++) {
      std::vector<float> l;
      forward(*m, copies[i], make_batch(in[i].tokens), l);
      ASSERT_EQ(l.size(), logits[i].size());
      double mx = 0;
      for (size_t j = 0; j < l.size(); j++) mx = std::max(mx, (double)std::fabs(l[j] - logits[i][j]));
      EXPECT_LT(mx, types.k == DType::F32 ? 1e-5 : 2e-4) << "sequence " << i;  // bounds of the test above
      for (int l2 = 0; l2 < m->cfg.n_layer; l2++)
        for (int j = 0; j < m->cfg.kv_dim(); j++)
          ASSERT_NEAR(key(caches[i], l2, fill[i], j), key(copies[i], l2, fill[i], j), 1e-5 + std::ldexp(std::fabs(key(copies[i], l2, fill[i], j)), -10));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, ForwardArch,
                         ::testing::Values(Family{Arch::Llama, false, "llama"}, Family{Arch::Llama, true, "llama_rope_freqs_biases"},
                                           Family{Arch::Qwen2, false, "qwen2"}, Family{Arch::Phi3, false, "phi3"},
                                           Family{Arch::Gemma2, false, "gemma2"}, Family{Arch::Bert, false, "bert"},
                                           Family{Arch::GPT2, false, "gpt2"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ForwardMulti, ErrorsLeaveEveryCacheUntouched) {
  auto m = build(tiny(Arch::Llama));
  KVCache a = make_kv_cache(m->cfg, 8), b = make_kv_cache(m->cfg, 4);
  std::vector<std::vector<float>> logits;
  std::vector<SeqInput> in = {{&a, {1, 2, 3}}, {&b, {1, 2, 3, 4, 5}}};
  try {
    forward_multi(*m, in, logits);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context too long"), std::string::npos);
  }
  EXPECT_EQ(a.n, 0);
  EXPECT_EQ(b.n, 0);
  in = {{&a, {1}}, {&a, {2}}};
  try {
    forward_multi(*m, in, logits);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("share one KV cache"), std::string::npos);
  }
  in = {{&a, {}}};
  EXPECT_THROW(forward_multi(*m, in, logits), Error);
  // A truncated cache reuses its prefix: continuing it equals a fresh run of the whole text.
  in = {{&a, {1, 2, 3, 4}}};
  forward_multi(*m, in, logits);
  a.truncate(2);
  in = {{&a, {9, 8}}};
  forward_multi(*m, in, logits);
  KVCache c = make_kv_cache(m->cfg, 8);
  std::vector<float> want;
  forward(*m, c, make_batch({1, 2, 9, 8}, false), want);
  for (size_t i = 0; i < want.size(); i++) EXPECT_NEAR(logits[0][i], want[i], 1e-5);
}

TEST(Forward, EncoderHasNoLogitsAndUnknownTensorsAreRefused) {
  auto m = build(tiny(Arch::Bert));
  KVCache kv = make_kv_cache(m->cfg, 8);
  std::vector<float> l;
  try {
    forward(*m, kv, make_batch({1, 2}), l);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder without an output matrix"), std::string::npos) << e.what();
  }
  // A tensor the family does not use is an error naming it, never ignored.
  GGUFWriter w = synthetic_model(tiny(Arch::Qwen2));
  std::vector<float> extra(32, 1.0f);
  w.add_tensor("rope_freqs.weight", DType::F32, {4}, extra.data(), 16);
  try {
    load_model(gguf_parse_owned(w.serialize(), "x"), "x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'rope_freqs.weight' is not used by architecture qwen2"), std::string::npos) << e.what();
  }
}

TEST(Forward, UnsupportedOptionsNameKeyAndValue) {
  auto refused = [](ModelConfig c, const std::function<void(GGUFWriter&)>& edit, const std::string& want) {
    GGUFWriter w = synthetic_model(c);
    edit(w);
    try {
      load_model(gguf_parse_owned(w.serialize(), "x"), "x");
      ADD_FAILURE() << "loaded: " << want;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  refused(tiny(Arch::Llama), [](GGUFWriter& w) { w.set_string("llama.rope.scaling.type", "yarn"); },
          "'llama.rope.scaling.type' = 'yarn'");
  refused(tiny(Arch::Bert), [](GGUFWriter& w) { w.set_u32("bert.pooling_type", 4); }, "'bert.pooling_type' = 4");
  refused(tiny(Arch::Llama), [](GGUFWriter& w) { w.set_string("general.architecture", "mamba"); },
          "general.architecture = 'mamba'");
  refused(tiny(Arch::Llama), [](GGUFWriter& w) { w.set_u32("llama.expert_count", 8); }, "'llama.expert_count' = 8");
}

TEST(Forward, LinearRopeScalingIsReadFromMetadata) {
  // rope.scaling.factor 4 (linear): positions are divided by 4, so position 8 of the scaled
  // model has the rotation of position 2 of the same weights unscaled. Compare through the
  // naive reference, which reads the same config.
  ModelConfig c = tiny(Arch::Llama);
  c.rope_freq_scale = 0.25f;
  auto m = build(c);
  EXPECT_FLOAT_EQ(m->cfg.rope_freq_scale, 0.25f);
  Ref ref(*m);
  auto toks = some_tokens(6);
  std::vector<float> logits, hidden;
  run_fresh(*m, toks, logits, hidden);
  auto want = ref.logits(toks);
  for (size_t t = 0; t < toks.size(); t++) expect_close(logits.data() + t * m->cfg.n_vocab, want[t], 2e-4);
}

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

// Matrices repacked for decoding (each packed type, 8 rows at a time, the tied output and
// embeddings too): the same logits to float rounding, embedding rows exactly, a prompt through
// the prompt-sized products (the int8 GEMM for Q4_0) within the int8 tolerance, and a
// multi-sequence decode step equal to one forward per sequence.
TEST(Forward, RepackedForDecodeKeepsLogitsAndBatchEquality) {
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
    SCOPED_TRACE(dtype_name(t));
    ModelConfig c = tiny(Arch::Llama);
    c.n_vocab = 304;  // a multiple of 8: the output matrix is packed too
    if (dtype_super_block(t)) c.n_embd = 256, c.n_ff = 512;  // rows of whole super-blocks
    auto m = build(c, t, true);
    auto toks = some_tokens(6);
    KVCache kv0 = make_kv_cache(m->cfg, 16);
    std::vector<float> before, after, e0(c.n_embd), e1(c.n_embd);
    forward(*m, kv0, make_batch(toks), before);
    embedding_row(m->tok_embd, 77, e0.data());
    // A 20-token prompt once packed: within the int8 error of the reference on the exact weights
    // (max |dlogit| over the 20 positions measured 0.15 for Q4_0 and Q8_0; a wrong product is off
    // by O(1)). With an int8 GEMM for the super-block types their prompts are int8 too, with one
    // activation scale per 256 elements: 1.22 (Q4_K) and 1.28 (Q6_K) here, on logits up to 14,
    // exactly what the row-major weights give decoding the prompt one token at a time.
    auto prompt = some_tokens(20);
    const auto want = Ref(*m).logits(prompt);
    const uint64_t bytes = repack_for_decode(*m);
    EXPECT_EQ(bytes, (uint64_t)(dtype_row_bytes(t, c.n_embd) * c.n_vocab +
                                c.n_layer * (dtype_row_bytes(t, c.n_embd) * (2 * c.n_embd + 2 * c.kv_dim()) +
                                             2 * dtype_row_bytes(t, c.n_embd) * c.n_ff + dtype_row_bytes(t, c.n_ff) * c.n_embd)));
    EXPECT_TRUE(m->output.rows8 && m->tok_embd.rows8 && m->layers[0].wq.rows8 && m->layers[1].w_down.rows8);
    EXPECT_TRUE(m->tied_output());
    embedding_row(m->tok_embd, 77, e1.data());
    EXPECT_EQ(e0, e1);
    KVCache kv1 = make_kv_cache(m->cfg, 16);
    forward(*m, kv1, make_batch(toks), after);
    expect_close(after.data(), Vec(before.begin(), before.end()), 1e-4);
    KVCache kv2 = make_kv_cache(m->cfg, 32);
    std::vector<float> lp;
    forward(*m, kv2, make_batch(prompt), lp);
    const bool int8_prompt = kern::active().gemm_rows8[(int)t] || !gemm_available();
    const double tol = int8_prompt && dtype_super_block(t) ? 2.0 : 0.25;
    for (size_t i = 0; i < prompt.size(); i++) expect_close(lp.data() + i * m->cfg.n_vocab, want[i], tol);
    // The tight check: the packed prompt against the packed weights decoding it token by token
    // (int8 products that do not depend on T; only attention's summation order differs).
    {
      KVCache kv3 = make_kv_cache(m->cfg, 32);
      for (size_t i = 0; i < prompt.size(); i++) {
        std::vector<float> l;
        forward(*m, kv3, make_batch({prompt[i]}, false), l);
        if (int8_prompt) expect_close(lp.data() + i * m->cfg.n_vocab, Vec(l.begin(), l.end()), 1e-4);
      }
    }
    // Decode steps: three sequences of one token each against single passes, bit for bit (with
    // an F16 cache too: the rows of these products do not depend on the batch).
    for (const KVCacheTypes types : {KVCacheTypes{}, kF16Cache}) {
      std::vector<KVCache> caches, copies;
      for (int i = 0; i < 3; i++) {
        caches.push_back(make_kv_cache(m->cfg, 16, types));
        std::vector<float> l;
        forward(*m, caches.back(), make_batch(some_tokens(2 + i), false), l);
      }
      copies = caches;
      std::vector<SeqInput> in;
      for (int i = 0; i < 3; i++) in.push_back(SeqInput{&caches[i], {(int32_t)(5 + 40 * i)}, false});
      std::vector<std::vector<float>> logits;
      forward_multi(*m, in, logits);
      for (int i = 0; i < 3; i++) {
        std::vector<float> l;
        forward(*m, copies[i], make_batch(in[i].tokens, false), l);
        EXPECT_EQ(l, logits[i]) << "sequence " << i << " cache " << kv_cache_type_name(types.k);
      }
    }
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
