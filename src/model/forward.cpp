// One forward pass for every family: the family's ArchSpec (arch.h) says which step applies.
// Rows of the activation matrices are the new tokens of all sequences of the pass, one
// sequence after the other; matrix products run over all rows at once, attention per sequence.
#include "model/forward.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <omp.h>
#include <optional>

#include <cblas.h>

#include "core/attention_kernels.h"
#include "core/error.h"
#include "core/flop_counter.h"
#include "core/matmul.h"
#include "core/thread_pool.h"
#include "core/ops.h"
#include "core/quant.h"
#include "model/arch.h"
#include "model/lora_adapter.h"

namespace flops {

Batch make_batch(std::vector<int32_t> tokens, bool all_logits) {
  Batch b;
  b.tokens = std::move(tokens);
  b.all_logits = all_logits;
  return b;
}

namespace {

// One sequence's share of a pass.
struct SeqPass {
  KVCache* kv = nullptr;
  const int32_t* tokens = nullptr;
  int64_t T = 0;
  int64_t row0 = 0;           // its first row in the pass
  int first_slot = 0;         // cache slot of its first new token
  std::vector<int> prefix;    // earlier cache slots it attends to
  bool contiguous = true;     // prefix is 0..first_slot-1: its keys are one block of the cache
  bool any_bias = false;      // some segment has an attention scale other than 1
  int64_t out_rows = 1;       // rows it wants out: T or 1 (its last)
  bool want_logits = true;
  std::vector<float>* logits = nullptr;
  std::vector<float>* hidden = nullptr;
  const LoraSet* lora = nullptr;  // its adapters (or null)
};

// Checks a sequence against the model and its cache, and writes the positions and segment of its
// new slots (past kv.n, so nothing visible changes until the pass commits).
void prepare(const Model& m, SeqPass& s, const std::vector<int32_t>& pos_given, int segment, bool see_all,
             const std::vector<int>& see_segments) {
  const ModelConfig& c = m.cfg;
  KVCache& kv = *s.kv;
  const int64_t T = s.T;
  if (T == 0) fail("cannot evaluate an empty batch of tokens");
  if (kv.n_layer != c.n_layer || kv.kv_dim != c.kv_dim() || kv.head_dim != c.head_dim())
    fail("KV cache ({} layers x {}) was made for another model ({} layers x {})", kv.n_layer, kv.kv_dim, c.n_layer, c.kv_dim());
  if (kv.n + T > kv.n_ctx) fail("context too long: {} tokens in the cache plus {} new exceed the context size {}", kv.n, T, kv.n_ctx);
  if (!pos_given.empty() && (int64_t)pos_given.size() != T) fail("batch has {} tokens but {} position ids", T, pos_given.size());
  if (segment < 0 || segment >= (int)kv.seg_log_scale.size()) fail("batch segment {} does not exist in the KV cache", segment);
  for (int64_t t = 0; t < T; t++)
    if (s.tokens[t] < 0 || s.tokens[t] >= c.n_vocab) fail("token id {} is out of range (vocabulary of {})", s.tokens[t], c.n_vocab);
  const int32_t p0 = kv.next_pos();
  s.first_slot = kv.n;
  for (int64_t t = 0; t < T; t++) {
    const int32_t p = pos_given.empty() ? p0 + (int32_t)t : pos_given[t];
    if (p < 0) fail("position id {} is negative", p);
    if (m.spec->learned_pos && p >= c.n_ctx_train)
      fail("context too long: position {} is past the model's {} learned positions", p, c.n_ctx_train);
    kv.pos[s.first_slot + t] = p;
    kv.seg[s.first_slot + t] = segment;
  }
  s.prefix.clear();
  for (int j = 0; j < kv.n; j++)
    if (see_all || std::find(see_segments.begin(), see_segments.end(), kv.seg[j]) != see_segments.end()) s.prefix.push_back(j);
  s.contiguous = (int)s.prefix.size() == s.first_slot;
  s.any_bias = false;
  for (float b : kv.seg_log_scale) s.any_bias |= b != 0.0f;
}

// The bias and each run of consecutive sequences' LoRA adapters on y = x W^T: the adapters'
// low-rank products once over the run's rows.
void bias_and_adapters(const Weight& w, const float* x, int64_t R, float* y, const float* bias, const std::vector<SeqPass>& seqs) {
  if (bias) add_bias(y, bias, R, w.rows);
  for (size_t i = 0; i < seqs.size();) {
    size_t j = i + 1;
    while (j < seqs.size() && seqs[j].lora == seqs[i].lora) j++;
    if (seqs[i].lora)
      if (const auto* ups = seqs[i].lora->find(w.key())) {
        const int64_t r0 = seqs[i].row0, n = seqs[j - 1].row0 + seqs[j - 1].T - r0;
        lora_apply(*ups, w.rows, w.cols, x + r0 * w.cols, n, y + r0 * w.rows);
      }
    i = j;
  }
}

// y = x W^T (+ bias), the base product once over every row, then the adapters.
void linear(const Weight& w, const float* x, int64_t R, float* y, const float* bias, const std::vector<SeqPass>& seqs) {
  weight_matmul(w, x, R, y);
  bias_and_adapters(w, x, R, y, bias, seqs);
}

// The same for several weights of one input (q, k and v; gate and up): their base products in
// one weight_matmul_many.
struct Linear {
  const Weight& w;
  float* y;
  const float* bias;
};
void linear_many(std::initializer_list<Linear> ls, const float* x, int64_t R, const std::vector<SeqPass>& seqs) {
  WeightProduct ps[8] = {};
  int n = 0;
  for (const Linear& l : ls) ps[n++] = {&l.w, l.y};
  weight_matmul_many(ps, n, x, R);
  for (const Linear& l : ls) bias_and_adapters(l.w, x, R, l.y, l.bias, seqs);
}

// The family's norm; y may be x.
void norm(const Model& m, const float* x, const float* w, const float* b, float* y, int64_t R) {
  if (m.spec->norm == NormKind::Layer)
    layernorm(x, w, b, y, R, m.cfg.n_embd, m.cfg.norm_eps);
  else
    rmsnorm(x, w, y, R, m.cfg.n_embd, m.cfg.norm_eps);
}

// Splits rows of [A | B | ...] (widths w[i]) into separate row-major matrices.
void split_rows(const float* src, int64_t R, std::initializer_list<std::pair<float*, int64_t>> parts) {
  int64_t width = 0;
  for (auto& p : parts) width += p.second;
  for (int64_t r = 0; r < R; r++) {
    const float* row = src + r * width;
    for (auto& [dst, w] : parts) {
      std::memcpy(dst + r * w, row, w * sizeof(float));
      row += w;
    }
  }
}

// Cache slot of a sequence's j-th visible key: its visible earlier slots, then its new tokens.
int visible_slot(const SeqPass& s, int j) {
  const int np = (int)s.prefix.size();
  return j < np ? s.prefix[j] : s.first_slot + (j - np);
}

// One head's first nk visible keys (or values) as F32 rows of hd: `head` is its slot 0 in the
// cache, elements of type t and `elem` bytes.
void visible_rows_f32(DType t, const void* head, size_t elem, int nk, int hd, const SeqPass& s, float* out) {
  const uint8_t* base = (const uint8_t*)head;
  if (s.contiguous)
    dequantize_row(t, base, out, (int64_t)nk * hd);
  else
    for (int j = 0; j < nk; j++) dequantize_row(t, base + (size_t)visible_slot(s, j) * hd * elem, out + (size_t)j * hd, hd);
}

// The same rows for the loops: the cache itself when they are one block of it in a type the loops
// read (F32; F16 for the one-query kernels), else converted to F32 in `scratch`.
struct HeadRows {
  const float* f32 = nullptr;
  const uint16_t* f16 = nullptr;
};
HeadRows head_rows(DType t, const void* head, size_t elem, int nk, int hd, const SeqPass& s, bool half_ok,
                   std::vector<float>& scratch) {
  HeadRows r;
  if (s.contiguous && t == DType::F32) r.f32 = (const float*)head;
  if (s.contiguous && t == DType::F16 && half_ok) r.f16 = (const uint16_t*)head;
  if (r.f32 || r.f16) return r;
  scratch.resize((size_t)nk * hd);
  visible_rows_f32(t, head, elem, nk, hd, s, scratch.data());
  r.f32 = scratch.data();
  return r;
}

// Attention of every sequence's new queries over its visible cache slots plus its own new
// tokens: causal (batch order) or bidirectional, optionally within a sliding window of positions,
// with optional soft-capped scores and per-segment scales. Each (sequence, head, block of up to 32
// queries) is two small GEMMs over the keys of its cache, converted to F32 first when they are
// F16 or when the visible slots are not one block; a single query (a decode step) reads F16 keys
// and values directly (core/attention_kernels.h). FLOPs counted are the model's: 2 * head_dim for
// QK^T and 2 * head_dim for AV per (query head, visible key); the masked products the GEMMs also
// do are not counted.
void attention(const Model& m, std::vector<SeqPass>& seqs, int layer, bool sliding, const float* q, float* out) {
  const ModelConfig& c = m.cfg;
  const int hd = c.head_dim(), nh = c.n_head, group = c.n_head / c.n_head_kv;
  const int64_t qd = c.q_dim();
  const float scale = c.query_scale(), cap = c.attn_softcap;
  const int window = sliding ? c.n_swa : 0;
  const bool causal = c.causal;
  constexpr int64_t QB = 32;

  struct Item {
    int seq, head;
    int64_t t0, t1;
  };
  std::vector<Item> items;
  uint64_t work = 0;
  int64_t max_item_macs = 0;
  for (int si = 0; si < (int)seqs.size(); si++) {
    const SeqPass& s = seqs[si];
    const int64_t np = (int64_t)s.prefix.size();
    for (int h = 0; h < nh; h++)
      for (int64_t t0 = 0; t0 < s.T; t0 += QB) items.push_back({si, h, t0, std::min(s.T, t0 + QB)});
    work += (uint64_t)nh * (uint64_t)s.T * (uint64_t)(np + s.T) * (uint64_t)hd;
    max_item_macs = std::max(max_item_macs, std::min<int64_t>(QB, s.T) * (np + s.T) * hd);
  }
  // A sequence of several new tokens reads its visible keys and values as F32, converted once per
  // layer for all its query blocks (when F16, or not one block of the cache): [kv head][key][hd].
  std::vector<std::vector<float>> conv_k(seqs.size()), conv_v(seqs.size());
  for (size_t si = 0; si < seqs.size(); si++) {
    const SeqPass& s = seqs[si];
    if (s.T == 1) continue;
    const int nk = (int)s.prefix.size() + (int)s.T;
    const KVCache& kv = *s.kv;
    const size_t per_head = (size_t)nk * hd;
    if (!s.contiguous || kv.type_k != DType::F32) {
      conv_k[si].resize(c.n_head_kv * per_head);
      for (int kh = 0; kh < c.n_head_kv; kh++)
        visible_rows_f32(kv.type_k, kv.k_head(layer, kh), kv.k_elem(), nk, hd, s, conv_k[si].data() + kh * per_head);
    }
    if (!s.contiguous || kv.type_v != DType::F32) {
      conv_v[si].resize(c.n_head_kv * per_head);
      for (int kh = 0; kh < c.n_head_kv; kh++)
        visible_rows_f32(kv.type_v, kv.v_head(layer, kh), kv.v_elem(), nk, hd, s, conv_v[si].data() + kh * per_head);
    }
  }
  // The F16 keys and values a one-query item reads straight from the cache (else nulls): what the
  // item before it prefetches (core/attention_kernels.h).
  struct HalfHead {
    const uint16_t *k = nullptr, *v = nullptr;
    int64_t nk = 0;
  };
  auto half_head = [&](size_t ii) {
    HalfHead r;
    const Item& it = items[ii];
    const SeqPass& s = seqs[it.seq];
    const KVCache& kv = *s.kv;
    if (it.t1 - it.t0 != 1 || !s.contiguous || !conv_k[it.seq].empty()) return r;
    const int kh = it.head / group;
    r.nk = (int64_t)s.prefix.size() + (causal ? it.t1 : s.T);
    if (kv.type_k == DType::F16) r.k = (const uint16_t*)kv.k_head(layer, kh);
    if (kv.type_v == DType::F16) r.v = (const uint16_t*)kv.v_head(layer, kh);
    return r;
  };
  // One (sequence, head, query block): returns the number of visible keys it scored. `next`: the
  // item the same thread runs after it (or none).
  auto run_item = [&](size_t ii, std::optional<size_t> next, std::vector<float>& S, std::vector<float>& Kg,
                      std::vector<float>& Vg) -> uint64_t {
    uint64_t visible = 0;
    const Item& it = items[ii];
    const SeqPass& s = seqs[it.seq];
    const KVCache& kv = *s.kv;
    const int np = (int)s.prefix.size();
    const int64_t rows = it.t1 - it.t0;
    const int nk = np + (int)(causal ? it.t1 : s.T);
    const int kh = it.head / group;
    auto slot = [&](int j) { return visible_slot(s, j); };
    const bool one = rows == 1;
    const size_t conv_head = (size_t)kh * (np + s.T) * hd;
    const HeadRows Kr = conv_k[it.seq].empty()
                            ? head_rows(kv.type_k, kv.k_head(layer, kh), kv.k_elem(), nk, hd, s, one, Kg)
                            : HeadRows{conv_k[it.seq].data() + conv_head, nullptr};
    const HeadRows Vr = conv_v[it.seq].empty()
                            ? head_rows(kv.type_v, kv.v_head(layer, kh), kv.v_elem(), nk, hd, s, one, Vg)
                            : HeadRows{conv_v[it.seq].data() + conv_head, nullptr};
    const float *K = Kr.f32, *V = Vr.f32;
    const int ld = hd;
    const float* Q = q + (s.row0 + it.t0) * qd + it.head * hd;
    float* O = out + (s.row0 + it.t0) * qd + it.head * hd;
    S.resize(rows * nk);
    HalfHead nx;
    if (next && items[*next].head / group != kh) nx = half_head(*next);  // a new kv head: not in cache yet
    // A decode step's single query: plain loops. sgemm's packing of its operands costs more
    // than the product at this size (it was a tenth of a server's decode time).
    if (one && Kr.f16) {
      f16_rows_dot(Kr.f16, ld, nk, Q, hd, scale, S.data(), nx.k, nx.nk);
    } else if (one) {
      // Four keys at a time: four independent sums, not one chain of dependent adds.
      int j = 0;
      for (; j + 4 <= nk; j += 4) {
        const float *k0 = K + (size_t)j * ld, *k1 = k0 + ld, *k2 = k1 + ld, *k3 = k2 + ld;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
        for (int i = 0; i < hd; i++) {
          a0 += Q[i] * k0[i];
          a1 += Q[i] * k1[i];
          a2 += Q[i] * k2[i];
          a3 += Q[i] * k3[i];
        }
        S[j] = scale * a0, S[j + 1] = scale * a1, S[j + 2] = scale * a2, S[j + 3] = scale * a3;
      }
      for (; j < nk; j++) {
        const float* kr = K + (size_t)j * ld;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int i = 0; i < hd; i++) acc += Q[i] * kr[i];
        S[j] = scale * acc;
      }
    } else {
      // Inside a parallel region the OpenMP build of OpenBLAS runs single-threaded.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, nk, hd, scale, Q, (int)qd, K, ld, 0.0f, S.data(), nk);
    }
    for (int64_t r = 0; r < rows; r++) {
      float* sr = S.data() + r * nk;
      const int64_t t = it.t0 + r;
      const int valid = causal ? np + (int)t + 1 : nk;
      const int32_t pq = kv.pos[s.first_slot + t];
      if (cap > 0) {
        const float inv = 1.0f / cap;
        for (int j = 0; j < valid; j++) sr[j] = cap * std::tanh(sr[j] * inv);
      }
      float mx = -INFINITY;
      if (window == 0 && !s.any_bias) {  // every key visible, no bias: a plain maximum
#pragma omp simd reduction(max : mx)
        for (int j = 0; j < valid; j++) mx = std::max(mx, sr[j]);
        visible += valid;
      } else {
        for (int j = 0; j < valid; j++) {
          const int sl = slot(j);
          if (window > 0 && pq - kv.pos[sl] >= window) {
            sr[j] = -INFINITY;
            continue;
          }
          if (s.any_bias) sr[j] += kv.seg_log_scale[kv.seg[sl]];
          mx = std::max(mx, sr[j]);
          visible++;
        }
      }
      float sum = 0;
      if (mx == -INFINITY)
        std::fill(sr, sr + valid, 0.0f);
      else
        sum = exp_sum(sr, valid, mx);
      const float inv = sum > 0 ? 1.0f / sum : 0.0f;
      for (int j = 0; j < valid; j++) sr[j] *= inv;
      for (int j = valid; j < nk; j++) sr[j] = 0.0f;
    }
    if (one && Vr.f16) {
      std::fill(O, O + hd, 0.0f);
      f16_rows_axpy(S.data(), Vr.f16, ld, nk, hd, O, nx.v, nx.nk);
    } else if (one) {
      std::fill(O, O + hd, 0.0f);
      int j = 0;
      for (; j + 4 <= nk; j += 4) {  // four keys per pass over the output row
        const float *v0 = V + (size_t)j * ld, *v1 = v0 + ld, *v2 = v1 + ld, *v3 = v2 + ld;
        const float p0 = S[j], p1 = S[j + 1], p2 = S[j + 2], p3 = S[j + 3];
#pragma omp simd
        for (int i = 0; i < hd; i++) O[i] += p0 * v0[i] + p1 * v1[i] + p2 * v2[i] + p3 * v3[i];
      }
      for (; j < nk; j++) {
        const float p = S[j], *vr = V + (size_t)j * ld;
#pragma omp simd
        for (int i = 0; i < hd; i++) O[i] += p * vr[i];
      }
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, hd, nk, 1.0f, S.data(), nk, V, ld, 0.0f, O, (int)qd);
    }
    return visible;
  };
  // Decoding one token is a few thousand multiply-adds per head: small attention runs on the
  // calling thread. Decode-sized work (each product below OpenBLAS's 4 x 65536 multiply-add
  // threshold for threading, so that it stays on the thread that calls it) goes to the shared
  // pool, whose workers are awake between the matrix products of a step; a passive OpenMP
  // region would cost tens of microseconds per layer. Prompt-sized work keeps OpenMP, inside
  // which OpenBLAS runs single-threaded.
  const bool parallel = work >= (1u << 15);
  uint64_t visible = 0;
  if (!parallel) {
    std::vector<float> S, Kg, Vg;
    for (size_t ii = 0; ii < items.size(); ii++)
      visible += run_item(ii, ii + 1 < items.size() ? std::optional<size_t>(ii + 1) : std::nullopt, S, Kg, Vg);
  } else if (max_item_macs < (1 << 18)) {
    std::atomic<uint64_t> seen{0};
    // Runs of consecutive items per chunk, so that each item knows the next one its thread reads;
    // four chunks per thread still balance the sequences' different lengths.
    const int64_t grain = std::max<int64_t>(1, (int64_t)items.size() / (4 * shared_pool().size()));
    shared_pool().parallel_for((int64_t)items.size(), grain, [&](int64_t b, int64_t e) {
      thread_local std::vector<float> S, Kg, Vg;
      uint64_t v = 0;
      for (int64_t ii = b; ii < e; ii++)
        v += run_item((size_t)ii, ii + 1 < e ? std::optional<size_t>(ii + 1) : std::nullopt, S, Kg, Vg);
      seen += v;
    });
    visible = seen.load();
  } else {
#pragma omp parallel reduction(+ : visible)
    {
      std::vector<float> S, Kg, Vg;
#pragma omp for schedule(dynamic, 1)
      for (size_t ii = 0; ii < items.size(); ii++) visible += run_item(ii, std::nullopt, S, Kg, Vg);
    }
  }
  counter::add_attention(visible * 4 * (uint64_t)hd);
  if (cap > 0) counter::add_other(visible * 3);
}

// The pass itself, read top to bottom: input embeddings, then per layer an attention block and
// an FFN block, each with the family's norms, then the output rows, final norm and head.
void run(const Model& m, std::vector<SeqPass>& seqs) {
  const ModelConfig& c = m.cfg;
  const ArchSpec& a = *m.spec;
  const int64_t d = c.n_embd, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.n_ff, V = c.n_vocab;
  const int hd = c.head_dim();
  int64_t R = 0;
  for (auto& s : seqs) s.row0 = R, R += s.T;
  std::vector<int32_t> pos(R);
  std::vector<const SeqPass*> row_seq(R);
  for (auto& s : seqs)
    for (int64_t t = 0; t < s.T; t++) pos[s.row0 + t] = s.kv->pos[s.first_slot + t], row_seq[s.row0 + t] = &s;

  // Input: token embedding (times sqrt(n_embd) for gemma), + learned position, + token type 0.
  std::vector<float> x(R * d), xn(R * d), tmp(R * d), row(d);
  const float embd_mul = a.embd_scale ? std::sqrt((float)d) : 1.0f;
  for (auto& s : seqs)
    for (int64_t t = 0; t < s.T; t++) {
      float* xr = x.data() + (s.row0 + t) * d;
      embedding_row(m.tok_embd, s.tokens[t], xr);
      if (a.embd_scale)
        for (int64_t i = 0; i < d; i++) xr[i] *= embd_mul;
      if (a.learned_pos) {
        embedding_row(m.pos_embd, pos[s.row0 + t], row.data());
        for (int64_t i = 0; i < d; i++) xr[i] += row[i];
      }
      if (a.token_types) {
        embedding_row(m.type_embd, 0, row.data());
        for (int64_t i = 0; i < d; i++) xr[i] += row[i];
      }
    }
  if (a.embd_norm) norm(m, x.data(), m.embd_norm, m.embd_norm_b, x.data(), R);

  const int half_rot = c.n_rot / 2;
  std::vector<float> rope_cos, rope_sin;
  if (a.rope != RopeStyle::None) {
    rope_cos.resize(R * half_rot);
    rope_sin.resize(R * half_rot);
    for (int64_t r = 0; r < R; r++)
      rope_table(c.n_rot, pos[r], c.rope_theta, rope_cos.data() + r * half_rot, rope_sin.data() + r * half_rot,
                 c.rope_freq_scale, m.rope_freqs);
  }
  const bool neox = a.rope == RopeStyle::Neox;
  const bool pre = a.norm_place == NormPlace::Pre;
  std::vector<float> q(R * qd), att(R * qd), kbuf(R * kvd), vbuf(R * kvd);
  std::vector<float> g(R * ff), u(R * ff), fused;

  for (int l = 0; l < c.n_layer; l++) {
    const LayerWeights& w = m.layers[l];
    // Attention block.
    if (pre) norm(m, x.data(), w.attn_norm, w.attn_norm_b, xn.data(), R);
    const float* h = pre ? xn.data() : x.data();
    if (a.fused_qkv) {
      fused.resize(R * (qd + 2 * kvd));
      linear(w.wqkv, h, R, fused.data(), w.bqkv, seqs);
      split_rows(fused.data(), R, {{q.data(), qd}, {kbuf.data(), kvd}, {vbuf.data(), kvd}});
    } else {
      linear_many({{w.wq, q.data(), w.bq}, {w.wk, kbuf.data(), w.bk}, {w.wv, vbuf.data(), w.bv}}, h, R, seqs);
    }
    // Each row's query and key heads turned, then its keys and values into its cache slot: rows
    // are independent, so a decode step's sequences split across the pool.
    auto rope_and_store = [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; r++) {
        if (a.rope != RopeStyle::None) {
          const float* cs = rope_cos.data() + r * half_rot;
          const float* sn = rope_sin.data() + r * half_rot;
          for (int hh = 0; hh < c.n_head; hh++) rope_apply(q.data() + r * qd + hh * hd, c.n_rot, cs, sn, neox);
          for (int hh = 0; hh < c.n_head_kv; hh++) rope_apply(kbuf.data() + r * kvd + hh * hd, c.n_rot, cs, sn, neox);
        }
        const SeqPass& s = *row_seq[r];
        const int slot = s.first_slot + (int)(r - s.row0);
        s.kv->write(l, slot, kbuf.data() + r * kvd, vbuf.data() + r * kvd);
        if (s.T == 1) s.kv->prefetch_write(l + 1, slot);  // in cache by the next layer's write
      }
    };
    if (seqs.size() >= 4 && R == (int64_t)seqs.size()) shared_pool().parallel_for(R, 1, rope_and_store);
    else rope_and_store(0, R);
    attention(m, seqs, l, layer_is_sliding(c, l), q.data(), att.data());
    linear(w.wo, att.data(), R, tmp.data(), w.bo, seqs);
    if (a.sandwich_norms) norm(m, tmp.data(), w.post_attn_norm, nullptr, tmp.data(), R);
    for (int64_t i = 0; i < R * d; i++) x[i] += tmp[i];
    if (!pre) norm(m, x.data(), w.attn_norm, w.attn_norm_b, x.data(), R);

    // FFN block.
    if (pre) norm(m, x.data(), w.ffn_norm, w.ffn_norm_b, xn.data(), R);
    h = pre ? xn.data() : x.data();
    if (a.ffn == FfnKind::GELU) {
      linear(w.w_up, h, R, u.data(), w.b_up, seqs);
      gelu(u.data(), R * ff);
      linear(w.w_down, u.data(), R, tmp.data(), w.b_down, seqs);
    } else {
      if (a.fused_gate_up) {
        fused.resize(R * 2 * ff);
        linear(w.w_up, h, R, fused.data(), w.b_up, seqs);
        split_rows(fused.data(), R, {{g.data(), ff}, {u.data(), ff}});
      } else {
        linear_many({{w.w_gate, g.data(), w.b_gate}, {w.w_up, u.data(), w.b_up}}, h, R, seqs);
      }
      if (a.ffn == FfnKind::SwiGLU)
        swiglu(g.data(), u.data(), R * ff);
      else
        geglu(g.data(), u.data(), R * ff);
      linear(w.w_down, g.data(), R, tmp.data(), w.b_down, seqs);
    }
    if (a.sandwich_norms) norm(m, tmp.data(), w.post_ffn_norm, nullptr, tmp.data(), R);
    for (int64_t i = 0; i < R * d; i++) x[i] += tmp[i];
    if (!pre) norm(m, x.data(), w.ffn_norm, w.ffn_norm_b, x.data(), R);
  }
  for (auto& s : seqs) s.kv->n += (int)s.T;

  // Output rows (each sequence's last, or all of them), final norm, hidden states, head.
  int64_t n_out = 0, n_logit = 0;
  for (auto& s : seqs) n_out += s.out_rows, n_logit += s.want_logits ? s.out_rows : 0;
  std::vector<float> xo(n_out * d);
  int64_t o = 0;
  for (auto& s : seqs) {
    std::memcpy(xo.data() + o * d, x.data() + (s.row0 + s.T - s.out_rows) * d, s.out_rows * d * sizeof(float));
    o += s.out_rows;
  }
  if (a.final_norm) norm(m, xo.data(), m.out_norm, m.out_norm_b, xo.data(), n_out);
  std::vector<float> xl;
  o = 0;
  for (auto& s : seqs) {
    const float* rows = xo.data() + o * d;
    if (s.hidden) s.hidden->assign(rows, rows + s.out_rows * d);
    if (s.want_logits) xl.insert(xl.end(), rows, rows + s.out_rows * d);
    o += s.out_rows;
  }
  if (n_logit == 0) return;
  std::vector<float> lg(n_logit * V);
  weight_matmul(m.output, xl.data(), n_logit, lg.data());
  if (c.final_softcap > 0) softcap(lg.data(), n_logit * V, c.final_softcap);
  o = 0;
  for (auto& s : seqs) {
    if (!s.want_logits) continue;
    s.logits->assign(lg.begin() + o * V, lg.begin() + (o + s.out_rows) * V);
    o += s.out_rows;
  }
}

void check_logits_wanted(const Model& m, bool want) {
  if (want && !m.has_lm_head())
    fail("{} is an encoder without an output matrix: it gives embeddings (flops embed), not logits", m.cfg.arch_name);
}

}  // namespace

void forward(const Model& m, KVCache& kv, const Batch& b, std::vector<float>& logits) {
  check_logits_wanted(m, b.logits);
  std::vector<SeqPass> seqs(1);
  SeqPass& s = seqs[0];
  s.kv = &kv;
  s.tokens = b.tokens.data();
  s.T = (int64_t)b.tokens.size();
  prepare(m, s, b.pos, b.segment, b.see_all, b.see_segments);
  s.out_rows = b.all_logits ? s.T : 1;
  s.want_logits = b.logits;
  s.logits = &logits;
  s.hidden = b.hidden;
  s.lora = m.lora.get();
  if (!b.logits) logits.clear();
  run(m, seqs);
}

void forward_multi(const Model& m, std::vector<SeqInput>& in, std::vector<std::vector<float>>& logits) {
  if (in.empty()) fail("forward_multi needs at least one sequence");
  logits.assign(in.size(), {});
  std::vector<SeqPass> seqs(in.size());
  for (size_t i = 0; i < in.size(); i++) {
    if (!in[i].kv) fail("sequence {} of the batch has no KV cache", i);
    for (size_t j = 0; j < i; j++)
      if (in[j].kv == in[i].kv) fail("sequences {} and {} of the batch share one KV cache", j, i);
    check_logits_wanted(m, in[i].logits);
    SeqPass& s = seqs[i];
    s.kv = in[i].kv;
    s.tokens = in[i].tokens.data();
    s.T = (int64_t)in[i].tokens.size();
    prepare(m, s, {}, 0, true, {});
    s.out_rows = in[i].all_logits ? s.T : 1;
    s.want_logits = in[i].logits;
    s.logits = &logits[i];
    s.hidden = in[i].hidden;
    s.lora = in[i].lora ? in[i].lora : m.lora.get();
  }
  run(m, seqs);
}

}  // namespace flops
