#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <omp.h>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/matmul.h"
#include "core/ops.h"

namespace flops {

Batch make_batch(std::vector<int32_t> tokens, bool all_logits) {
  Batch b;
  b.tokens = std::move(tokens);
  b.all_logits = all_logits;
  return b;
}

namespace {

void linear(const Weight& w, const float* x, int64_t T, float* y, const float* bias) {
  matmul(w.type, w.data, w.rows, w.cols, x, T, y);
  if (bias) add_bias(y, bias, T, w.rows);
}

void norm(const Model& m, const float* x, const float* w, const float* b, float* y, int64_t T) {
  if (m.cfg.arch == Arch::GPT2)
    layernorm(x, w, b, y, T, m.cfg.n_embd, m.cfg.norm_eps);
  else
    rmsnorm(x, w, y, T, m.cfg.n_embd, m.cfg.norm_eps);
}

// Causal attention of T new queries over the visible earlier slots plus the batch itself.
void attention(const Model& m, const KVCache& kv, int layer, const std::vector<int>& prefix, int first_slot,
               const float* q, int64_t T, float* out) {
  const ModelConfig& c = m.cfg;
  const int hd = c.head_dim(), nh = c.n_head, group = c.n_head / c.n_head_kv, kvd = c.kv_dim();
  const float scale = 1.0f / std::sqrt((float)hd);
  const int np = (int)prefix.size();
  uint64_t pairs = 0;
#pragma omp parallel reduction(+ : pairs)
  {
    std::vector<float> s(np + T);
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t t = 0; t < T; t++) {
      for (int h = 0; h < nh; h++) {
        const float* qh = q + t * (int64_t)nh * hd + (int64_t)h * hd;
        const int kh = h / group;
        const int nk = np + (int)t + 1;
        float mx = -INFINITY;
        for (int j = 0; j < nk; j++) {
          int slot = j < np ? prefix[j] : first_slot + (j - np);
          const float* kj = kv.k_at(layer, slot) + kh * hd;
          float dot = 0;
          for (int i = 0; i < hd; i++) dot += qh[i] * kj[i];
          float sc = dot * scale + kv.seg_log_scale[kv.seg[slot]];
          s[j] = sc;
          mx = std::max(mx, sc);
        }
        float sum = 0;
        for (int j = 0; j < nk; j++) {
          s[j] = std::exp(s[j] - mx);
          sum += s[j];
        }
        float inv = 1.0f / sum;
        float* oh = out + t * (int64_t)nh * hd + (int64_t)h * hd;
        std::fill(oh, oh + hd, 0.0f);
        for (int j = 0; j < nk; j++) {
          int slot = j < np ? prefix[j] : first_slot + (j - np);
          const float* vj = kv.v_at(layer, slot) + kh * hd;
          float w = s[j] * inv;
          for (int i = 0; i < hd; i++) oh[i] += w * vj[i];
        }
        pairs += (uint64_t)nk;
      }
    }
  }
  (void)kvd;
  // QK^T and AV: each one multiply-add per head dimension per (query head, key).
  counter::add_attention(pairs * 4 * (uint64_t)hd);
}

}  // namespace

void forward(const Model& m, KVCache& kv, const Batch& b, std::vector<float>& logits) {
  const ModelConfig& c = m.cfg;
  const int64_t T = (int64_t)b.tokens.size();
  if (T == 0) fail("cannot evaluate an empty batch of tokens");
  if (kv.n + T > kv.n_ctx) fail("context too long: {} tokens in the cache plus {} new exceed the context size {}", kv.n, T, kv.n_ctx);
  if (!b.pos.empty() && (int64_t)b.pos.size() != T) fail("batch has {} tokens but {} position ids", T, b.pos.size());
  if (b.segment < 0 || b.segment >= (int)kv.seg_log_scale.size()) fail("batch segment {} does not exist in the KV cache", b.segment);
  const int64_t d = c.n_embd, kvd = c.kv_dim(), ff = c.n_ff, V = c.n_vocab;
  const int hd = c.head_dim();

  std::vector<int32_t> pos(T);
  int32_t p0 = kv.next_pos();
  for (int64_t t = 0; t < T; t++) {
    pos[t] = b.pos.empty() ? p0 + (int32_t)t : b.pos[t];
    if (pos[t] < 0) fail("position id {} is negative", pos[t]);
    if (c.arch == Arch::GPT2 && pos[t] >= c.n_ctx_train)
      fail("context too long: position {} is past the model's {} learned positions", pos[t], c.n_ctx_train);
  }
  for (int32_t tok : b.tokens)
    if (tok < 0 || tok >= V) fail("token id {} is out of range (vocabulary of {})", tok, V);

  std::vector<int> prefix;
  for (int j = 0; j < kv.n; j++) {
    bool vis = b.see_all || std::find(b.see_segments.begin(), b.see_segments.end(), kv.seg[j]) != b.see_segments.end();
    if (vis) prefix.push_back(j);
  }
  const int first_slot = kv.n;
  for (int64_t t = 0; t < T; t++) {
    kv.pos[first_slot + t] = pos[t];
    kv.seg[first_slot + t] = b.segment;
  }

  std::vector<float> x(T * d), xn(T * d), q(T * d), att(T * d), tmp(T * d);
  std::vector<float> kbuf(T * kvd), vbuf(T * kvd), g(T * ff), u(T * ff);
  for (int64_t t = 0; t < T; t++) {
    embedding_row(m.tok_embd, b.tokens[t], x.data() + t * d);
    if (c.arch == Arch::GPT2) {
      std::vector<float> pe(d);
      embedding_row(m.pos_embd, pos[t], pe.data());
      for (int64_t i = 0; i < d; i++) x[t * d + i] += pe[i];
    }
  }

  const bool neox = c.arch == Arch::Qwen2;
  for (int l = 0; l < c.n_layer; l++) {
    const LayerWeights& w = m.layers[l];
    norm(m, x.data(), w.attn_norm, w.attn_norm_b, xn.data(), T);
    if (c.arch == Arch::GPT2) {
      std::vector<float> qkv(T * (d + 2 * kvd));
      linear(w.wqkv, xn.data(), T, qkv.data(), w.bqkv);
      for (int64_t t = 0; t < T; t++) {
        const float* r = qkv.data() + t * (d + 2 * kvd);
        std::memcpy(q.data() + t * d, r, d * sizeof(float));
        std::memcpy(kbuf.data() + t * kvd, r + d, kvd * sizeof(float));
        std::memcpy(vbuf.data() + t * kvd, r + d + kvd, kvd * sizeof(float));
      }
    } else {
      linear(w.wq, xn.data(), T, q.data(), w.bq);
      linear(w.wk, xn.data(), T, kbuf.data(), w.bk);
      linear(w.wv, xn.data(), T, vbuf.data(), w.bv);
      for (int64_t t = 0; t < T; t++) {
        for (int h = 0; h < c.n_head; h++) rope(q.data() + t * d + h * hd, hd, c.n_rot, pos[t], c.rope_theta, neox);
        for (int h = 0; h < c.n_head_kv; h++) rope(kbuf.data() + t * kvd + h * hd, hd, c.n_rot, pos[t], c.rope_theta, neox);
      }
    }
    for (int64_t t = 0; t < T; t++) {
      std::memcpy(kv.k_at(l, first_slot + t), kbuf.data() + t * kvd, kvd * sizeof(float));
      std::memcpy(kv.v_at(l, first_slot + t), vbuf.data() + t * kvd, kvd * sizeof(float));
    }
    attention(m, kv, l, prefix, first_slot, q.data(), T, att.data());
    linear(w.wo, att.data(), T, tmp.data(), w.bo);
    for (int64_t i = 0; i < T * d; i++) x[i] += tmp[i];

    norm(m, x.data(), w.ffn_norm, w.ffn_norm_b, xn.data(), T);
    if (c.arch == Arch::GPT2) {
      linear(w.w_up, xn.data(), T, u.data(), w.b_up);
      gelu(u.data(), T * ff);
      linear(w.w_down, u.data(), T, tmp.data(), w.b_down);
    } else {
      linear(w.w_gate, xn.data(), T, g.data(), nullptr);
      linear(w.w_up, xn.data(), T, u.data(), nullptr);
      swiglu(g.data(), u.data(), T * ff);
      linear(w.w_down, g.data(), T, tmp.data(), nullptr);
    }
    for (int64_t i = 0; i < T * d; i++) x[i] += tmp[i];
  }
  kv.n += (int)T;

  const int64_t rows = b.all_logits ? T : 1;
  const float* xr = x.data() + (T - rows) * d;
  norm(m, xr, m.out_norm, m.out_norm_b, xn.data(), rows);
  logits.resize(rows * V);
  matmul(m.output.type, m.output.data, m.output.rows, m.output.cols, xn.data(), rows, logits.data());
}

}  // namespace flops
