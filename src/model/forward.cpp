#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <omp.h>

#include <cblas.h>

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
// FLOPs counted are the model's: 2 * head_dim for QK^T and 2 * head_dim for AV per
// (query head, visible key). The GEMM path also multiplies the masked upper triangle
// of each diagonal block of queries; those products are discarded and not counted.
void attention(const Model& m, const KVCache& kv, int layer, const std::vector<int>& prefix, int first_slot,
               const float* q, int64_t T, float* out) {
  const ModelConfig& c = m.cfg;
  const int hd = c.head_dim(), nh = c.n_head, group = c.n_head / c.n_head_kv, kvd = c.kv_dim();
  const int64_t d = (int64_t)nh * hd;
  const float scale = 1.0f / std::sqrt((float)hd);
  const int np = (int)prefix.size();
  uint64_t pairs = 0;
  for (int64_t t = 0; t < T; t++) pairs += (uint64_t)(np + t + 1);
  counter::add_attention(pairs * (uint64_t)nh * 4 * (uint64_t)hd);

  bool any_bias = false;
  for (float b : kv.seg_log_scale) any_bias |= b != 0.0f;
  // Keys are contiguous in the cache when every earlier slot is visible (the usual case):
  // then each block of queries is two small GEMMs.
  bool contiguous = first_slot == np;
  for (int j = 0; contiguous && j < np; j++) contiguous = prefix[j] == j;

  // Decoding one token is a few thousand multiply-adds per head: waking the other threads
  // costs more than it saves, so small attention runs on the calling thread.
  const bool parallel = (uint64_t)nh * pairs * (uint64_t)hd >= (1u << 17);
  if (contiguous) {
    const int64_t QB = 32;
    const int64_t nblocks = (T + QB - 1) / QB;
#pragma omp parallel if (parallel)
    {
      std::vector<float> S;
#pragma omp for schedule(dynamic, 1) collapse(2)
      for (int h = 0; h < nh; h++) {
        for (int64_t b = 0; b < nblocks; b++) {
          const int64_t t0 = b * QB, t1 = std::min(T, t0 + QB), rows = t1 - t0;
          const int nk = np + (int)t1;
          const int kh = h / group;
          S.resize(rows * nk);
          // Inside a parallel region the OpenMP build of OpenBLAS runs single-threaded.
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, nk, hd, scale, q + t0 * d + h * hd, (int)d,
                      kv.k_at(layer, 0) + kh * hd, kvd, 0.0f, S.data(), nk);
          for (int64_t r = 0; r < rows; r++) {
            float* s = S.data() + r * nk;
            const int valid = np + (int)(t0 + r) + 1;
            if (any_bias)
              for (int j = 0; j < valid; j++) s[j] += kv.seg_log_scale[kv.seg[j]];
            float mx = -INFINITY;
            for (int j = 0; j < valid; j++) mx = std::max(mx, s[j]);
            float sum = 0;
            for (int j = 0; j < valid; j++) {
              s[j] = std::exp(s[j] - mx);
              sum += s[j];
            }
            const float inv = 1.0f / sum;
            for (int j = 0; j < valid; j++) s[j] *= inv;
            for (int j = valid; j < nk; j++) s[j] = 0.0f;
          }
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, hd, nk, 1.0f, S.data(), nk,
                      kv.v_at(layer, 0) + kh * hd, kvd, 0.0f, out + t0 * d + h * hd, (int)d);
        }
      }
    }
    return;
  }

#pragma omp parallel if (parallel)
  {
    std::vector<float> s(np + T);
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t t = 0; t < T; t++) {
      for (int h = 0; h < nh; h++) {
        const float* qh = q + t * d + (int64_t)h * hd;
        const int kh = h / group;
        const int nk = np + (int)t + 1;
        float mx = -INFINITY;
        for (int j = 0; j < nk; j++) {
          int slot = j < np ? prefix[j] : first_slot + (j - np);
          const float* kj = kv.k_at(layer, slot) + kh * hd;
          float dot = 0;
#pragma omp simd reduction(+ : dot)
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
        float* oh = out + t * d + (int64_t)h * hd;
        std::fill(oh, oh + hd, 0.0f);
        for (int j = 0; j < nk; j++) {
          int slot = j < np ? prefix[j] : first_slot + (j - np);
          const float* vj = kv.v_at(layer, slot) + kh * hd;
          float w = s[j] * inv;
#pragma omp simd
          for (int i = 0; i < hd; i++) oh[i] += w * vj[i];
        }
      }
    }
  }
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
  const int half_rot = c.n_rot / 2;
  std::vector<float> rope_cos, rope_sin;
  if (c.arch != Arch::GPT2) {
    rope_cos.resize(T * half_rot);
    rope_sin.resize(T * half_rot);
    for (int64_t t = 0; t < T; t++) rope_table(c.n_rot, pos[t], c.rope_theta, rope_cos.data() + t * half_rot, rope_sin.data() + t * half_rot);
  }
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
        const float* cs = rope_cos.data() + t * half_rot;
        const float* sn = rope_sin.data() + t * half_rot;
        for (int h = 0; h < c.n_head; h++) rope_apply(q.data() + t * d + h * hd, c.n_rot, cs, sn, neox);
        for (int h = 0; h < c.n_head_kv; h++) rope_apply(kbuf.data() + t * kvd + h * hd, c.n_rot, cs, sn, neox);
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
  if (b.hidden) b.hidden->assign(xn.begin(), xn.begin() + rows * d);
  if (!b.logits) {
    logits.clear();
    return;
  }
  logits.resize(rows * V);
  matmul(m.output.type, m.output.data, m.output.rows, m.output.cols, xn.data(), rows, logits.data());
}

}  // namespace flops
