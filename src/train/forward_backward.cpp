#include "train/forward_backward.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/quant.h"
#include "core/threads.h"
#include "train/blas.h"

namespace flops::train {

namespace {

// Below this much work a parallel region costs more than it saves (and on a busy machine a
// descheduled thread stalls the barrier).
constexpr size_t kParallelMin = 1 << 15;

// e^x in a form the compiler vectorizes (std::exp does not): x = n ln2 + r with |r| <= ln2/2,
// e^r by its Taylor series to r^7 (relative error < 1e-8 there), 2^n built in the exponent bits.
// Inputs are clamped to the normal float range.
inline float vexp(float x) {
  x = std::min(88.5f, std::max(-87.0f, x));
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;  // ln2 split in two for precision
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

// Column sums over rows, in fixed blocks of rows summed in block order: the same result for
// any thread count, and row-major friendly (a column walk would touch a cache line per element).
// out[i] += sum_n f(n, i).
template <typename F>
void column_sums(float* out, int N, int C, F f) {
  constexpr int kRows = 64;
  const int nb = (N + kRows - 1) / kRows;
  std::vector<float> part((size_t)nb * C, 0.0f);
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
  for (int b = 0; b < nb; b++) {
    float* pr = part.data() + (size_t)b * C;
    for (int n = b * kRows; n < std::min(N, (b + 1) * kRows); n++) f(n, pr);
  }
  for (int b = 0; b < nb; b++)
    for (int i = 0; i < C; i++) out[i] += part[(size_t)b * C + i];
}

// ---- matmuls: weights are row-major [out][in] ----

// y[N][out] = x[N][in] @ w[out][in]^T
void mm_forward(float* y, const float* x, const float* w, int N, int in, int out) {
  sgemm(false, true, N, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  counter::add_matmul(2ull * (uint64_t)N * in * out);
}

// dx[N][in] (= or +=) dy[N][out] @ w[out][in];  dw[out][in] += dy^T @ x
void mm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, int N, int in, int out,
                 bool accumulate_dx) {
  sgemm(false, false, N, in, out, 1.0f, dy, out, w, in, accumulate_dx ? 1.0f : 0.0f, dx, in);
  sgemm(true, false, out, in, N, 1.0f, dy, out, x, in, 1.0f, dw, in);
  counter::add_matmul(4ull * (uint64_t)N * in * out);
}

// y = x W^T plus the low-rank update; u receives x A^T for the backward.
void lin_forward(const NetMatrix& M, float* y, const float* x, int N, float* u) {
  const int in = (int)M.cols, out = (int)M.rows;
  if (M.type == DType::F32)
    mm_forward(y, x, (const float*)M.w, N, in, out);
  else
    frozen_forward(M.type, M.w, M.rows, M.cols, x, N, y);
  if (M.rank > 0) {
    const int r = M.rank;
    sgemm(false, true, N, r, in, 1.0f, x, in, M.a, in, 0.0f, u, r);
    sgemm(false, true, N, out, r, M.scale, u, r, M.b, r, 1.0f, y, out);
    counter::add_matmul(2ull * (uint64_t)N * r * (in + out));
  }
}

// dx (= or +=) dy W plus the update's part, when need_dx (a trainable W always computes it);
// dW, dA and dB accumulate when trained. du is scratch of N * rank floats.
void lin_backward(const NetMatrix& M, float* dx, const float* dy, const float* x, const float* u, float* du, int N,
                  bool accumulate_dx, bool need_dx) {
  const int in = (int)M.cols, out = (int)M.rows;
  if (M.grad)
    mm_backward(dx, M.grad, dy, x, (const float*)M.w, N, in, out, accumulate_dx);
  else if (need_dx)
    frozen_backward_dx(M.type, M.w, M.rows, M.cols, dy, N, dx, accumulate_dx);
  need_dx = need_dx || M.grad;
  if (M.rank > 0 && M.grad_a) {
    const int r = M.rank;
    sgemm(true, false, out, r, N, M.scale, dy, out, u, r, 1.0f, M.grad_b, r);  // dB += s dy^T u
    sgemm(false, false, N, r, out, M.scale, dy, out, M.b, r, 0.0f, du, r);     // du = s dy B
    sgemm(true, false, r, in, N, 1.0f, du, r, x, in, 1.0f, M.grad_a, in);     // dA += du^T x
    uint64_t f = 2ull * (uint64_t)N * r * (2 * out + in);
    if (need_dx) {
      sgemm(false, false, N, in, r, 1.0f, du, r, M.a, in, 1.0f, dx, in);  // dx += du A
      f += 2ull * (uint64_t)N * r * in;
    }
    counter::add_matmul(f);
  }
}

// ---- RMSNorm: y = x / sqrt(mean(x^2) + eps) * w ----

void rmsnorm_forward(float* y, float* rstd, const float* x, const float* w, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
  for (int n = 0; n < N; n++) {
    const float* xr = x + (size_t)n * C;
    float ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int i = 0; i < C; i++) ss += xr[i] * xr[i];
    float r = 1.0f / std::sqrt(ss / (float)C + eps);
    rstd[n] = r;
    float* yr = y + (size_t)n * C;
#pragma omp simd
    for (int i = 0; i < C; i++) yr[i] = xr[i] * r * w[i];
  }
}

// dx += d/dx, dw += d/dw for upstream dy (dw null: a frozen norm).
void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* rstd, const float* w, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
  for (int n = 0; n < N; n++) {
    const float* xr = x + (size_t)n * C;
    const float* dyr = dy + (size_t)n * C;
    float r = rstd[n];
    float dot = 0;  // sum_j dy_j w_j x_j
#pragma omp simd reduction(+ : dot)
    for (int i = 0; i < C; i++) dot += dyr[i] * w[i] * xr[i];
    float c = dot * r * r * r / (float)C;
    float* dxr = dx + (size_t)n * C;
#pragma omp simd
    for (int i = 0; i < C; i++) dxr[i] += r * w[i] * dyr[i] - xr[i] * c;
  }
  if (!dw) return;
  column_sums(dw, N, C, [&](int n, float* acc) {
    const float* xr = x + (size_t)n * C;
    const float* dyr = dy + (size_t)n * C;
    const float r = rstd[n];
#pragma omp simd
    for (int i = 0; i < C; i++) acc[i] += dyr[i] * xr[i] * r;
  });
}

// ---- RoPE ----

struct RopePair {
  int a, b;
};
inline RopePair rope_pair(int i, int n_rot, bool neox) { return neox ? RopePair{i, i + n_rot / 2} : RopePair{2 * i, 2 * i + 1}; }

// Rotates each head of x[N][n_heads*D] by +angle (inverse = false) or -angle (the backward).
void rope_apply(float* x, int B, int T, int n_heads, int D, int n_rot, bool neox, const float* cosv, const float* sinv, bool inverse) {
  const int half = n_rot / 2;
  const float sgn = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static) if ((size_t)B * T * n_heads * D >= kParallelMin)
  for (int n = 0; n < B * T; n++) {
    int t = n % T;
    const float* c = cosv + (size_t)t * half;
    const float* s = sinv + (size_t)t * half;
    for (int h = 0; h < n_heads; h++) {
      float* xh = x + (size_t)n * n_heads * D + (size_t)h * D;
      for (int i = 0; i < half; i++) {
        RopePair p = rope_pair(i, n_rot, neox);
        float x0 = xh[p.a], x1 = xh[p.b];
        float si = sgn * s[i];
        xh[p.a] = x0 * c[i] - x1 * si;
        xh[p.b] = x0 * si + x1 * c[i];
      }
    }
  }
}

void add_bias(float* y, const float* b, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
  for (int n = 0; n < N; n++)
#pragma omp simd
    for (int i = 0; i < C; i++) y[(size_t)n * C + i] += b[i];
}

void bias_backward(float* db, const float* dy, int N, int C) {
  if (!db) return;
  column_sums(db, N, C, [&](int n, float* acc) {
    const float* dyr = dy + (size_t)n * C;
#pragma omp simd
    for (int i = 0; i < C; i++) acc[i] += dyr[i];
  });
}

// ---- causal grouped-query attention ----

// Per (sequence, head) the scores, probabilities and products are whole-matrix sgemms over
// the T x T block (the masked upper triangle is computed and thrown away: at these sizes a
// full sgemm is many times faster than a causal scalar loop). FLOPs are counted causal.
void attention_forward(float* out, float* att, const float* q, const float* k, const float* v, int B, int T, int H, int Hk, int D) {
  const int C = H * D, Ck = Hk * D;
  const float scale = 1.0f / std::sqrt((float)D);
  const int group = H / Hk;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if ((size_t)B * H * T * T * D >= kParallelMin)
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < H; h++) {
      const int kh = h / group;
      float* P = att + ((size_t)b * H + h) * T * T;
      const float* qh = q + (size_t)b * T * C + (size_t)h * D;
      const float* kk = k + (size_t)b * T * Ck + (size_t)kh * D;
      const float* vv = v + (size_t)b * T * Ck + (size_t)kh * D;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, qh, C, kk, Ck, 0.0f, P, T);
      for (int t = 0; t < T; t++) {
        float* row = P + (size_t)t * T;
        float mx = row[0];
        for (int s2 = 1; s2 <= t; s2++) mx = std::max(mx, row[s2]);
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int s2 = 0; s2 <= t; s2++) {
          row[s2] = vexp(row[s2] - mx);
          sum += row[s2];
        }
        const float inv = 1.0f / sum;
#pragma omp simd
        for (int s2 = 0; s2 <= t; s2++) row[s2] *= inv;
        for (int s2 = t + 1; s2 < T; s2++) row[s2] = 0.0f;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, P, T, vv, Ck, 0.0f,
                  out + (size_t)b * T * C + (size_t)h * D, C);
    }
  }
  counter::add_attention(4ull * (uint64_t)D * H * B * ((uint64_t)T * (T + 1) / 2));
}

// dq is written; dk and dv are written too, summed over the query heads that share each KV head.
// scratch holds T*T floats per OpenMP thread.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* att, const float* q, const float* k,
                        const float* v, int B, int T, int H, int Hk, int D, float* scratch) {
  const int C = H * D, Ck = Hk * D;
  const float scale = 1.0f / std::sqrt((float)D);
  const int group = H / Hk;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if ((size_t)B * H * T * T * D >= kParallelMin)
  for (int b = 0; b < B; b++) {
    for (int kh = 0; kh < Hk; kh++) {
     float* dS = scratch + (size_t)omp_get_thread_num() * T * T;
     for (int h = kh * group; h < (kh + 1) * group; h++) {
      const float beta = h % group == 0 ? 0.0f : 1.0f;  // first head of the group overwrites
      const float* P = att + ((size_t)b * H + h) * T * T;
      const float* qh = q + (size_t)b * T * C + (size_t)h * D;
      const float* kk = k + (size_t)b * T * Ck + (size_t)kh * D;
      const float* vv = v + (size_t)b * T * Ck + (size_t)kh * D;
      const float* doh = dout + (size_t)b * T * C + (size_t)h * D;
      // dP = dO V^T, then through the softmax: dS = P * (dP - sum_s P dP) * scale.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, doh, C, vv, Ck, 0.0f, dS, T);
      for (int t = 0; t < T; t++) {
        const float* p = P + (size_t)t * T;
        float* d = dS + (size_t)t * T;
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int s2 = 0; s2 <= t; s2++) dot += p[s2] * d[s2];
#pragma omp simd
        for (int s2 = 0; s2 <= t; s2++) d[s2] = p[s2] * (d[s2] - dot) * scale;
        for (int s2 = t + 1; s2 < T; s2++) d[s2] = 0.0f;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, dS, T, kk, Ck, 0.0f,
                  dq + (size_t)b * T * C + (size_t)h * D, C);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, dS, T, qh, C, beta,
                  dk + (size_t)b * T * Ck + (size_t)kh * D, Ck);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, P, T, doh, C, beta,
                  dv + (size_t)b * T * Ck + (size_t)kh * D, Ck);
     }
    }
  }
  counter::add_attention(8ull * (uint64_t)D * H * B * ((uint64_t)T * (T + 1) / 2));
}

}  // namespace

const NetMatrix& NetLayer::matrix(int i) const {
  const NetMatrix* all[kMatrices] = {&wq, &wk, &wv, &wo, &gate, &up, &down};
  return *all[i];
}

Net net_of(Model& m) {
  Net n;
  n.cfg = m.cfg;
  n.neox_rope = m.neox_rope;
  n.has_qkv_bias = m.has_qkv_bias;
  const int C = m.cfg.n_embd, Ck = m.cfg.kv_dim(), F = m.cfg.n_ff, V = m.cfg.n_vocab;
  auto mat = [&](size_t off, int rows, int cols) {
    NetMatrix M;
    M.w = m.w.data() + off;
    M.rows = rows;
    M.cols = cols;
    M.grad = m.g.data() + off;
    return M;
  };
  auto vec = [&](size_t off) { return NetVector{m.w.data() + off, m.g.data() + off}; };
  n.tok_emb = mat(m.tok_emb, V, C);
  n.output = mat(m.tied_output ? m.tok_emb : m.output, V, C);
  n.out_norm = vec(m.out_norm);
  for (const LayerOffsets& L : m.layers) {
    NetLayer l;
    l.attn_norm = vec(L.attn_norm);
    l.ffn_norm = vec(L.ffn_norm);
    if (m.has_qkv_bias) l.bq = vec(L.bq), l.bk = vec(L.bk), l.bv = vec(L.bv);
    l.wq = mat(L.wq, C, C);
    l.wk = mat(L.wk, Ck, C);
    l.wv = mat(L.wv, Ck, C);
    l.wo = mat(L.wo, C, C);
    l.gate = mat(L.w_gate, F, C);
    l.up = mat(L.w_up, F, C);
    l.down = mat(L.w_down, C, F);
    n.layers.push_back(l);
  }
  return n;
}

void alloc_activations(const Net& net, int B, int T, Activations& a) {
  const auto& c = net.cfg;
  if (B <= 0 || T <= 0) fail("batch {} and sequence length {} must be positive", B, T);
  if (T > c.n_ctx_train) fail("sequence length {} exceeds the model context {}", T, c.n_ctx_train);
  const size_t N = (size_t)B * T, L = c.n_layer, C = c.n_embd, Ck = c.kv_dim(), F = c.n_ff, V = c.n_vocab, H = c.n_head;
  // The low-rank products' saved inputs, sized by this net's ranks.
  std::vector<size_t> u_sizes;
  size_t max_rank = 0;
  for (const NetLayer& l : net.layers)
    for (int i = 0; i < NetLayer::kMatrices; i++) {
      u_sizes.push_back(N * l.matrix(i).rank);
      max_rank = std::max(max_rank, (size_t)l.matrix(i).rank);
    }
  bool same_u = a.lora_u.size() == u_sizes.size() && a.lora_du.size() == N * max_rank;
  for (size_t i = 0; same_u && i < u_sizes.size(); i++) same_u = a.lora_u[i].size() == u_sizes[i];
  if (!same_u) {
    a.lora_u.assign(u_sizes.size(), {});
    for (size_t i = 0; i < u_sizes.size(); i++) a.lora_u[i].assign(u_sizes[i], 0);
    a.lora_du.assign(N * max_rank, 0);
  }
  if (a.B == B && a.T == T && !a.x.empty() && a.dscores.size() == (size_t)T * T * omp_get_max_threads()) return;
  a.B = B;
  a.T = T;
  a.x.assign((L + 1) * N * C, 0);
  a.xn1.assign(L * N * C, 0);
  a.rstd1.assign(L * N, 0);
  a.q.assign(L * N * C, 0);
  a.k.assign(L * N * Ck, 0);
  a.v.assign(L * N * Ck, 0);
  a.att.assign(L * B * H * T * T, 0);
  a.o.assign(L * N * C, 0);
  a.x2.assign(L * N * C, 0);
  a.xn2.assign(L * N * C, 0);
  a.rstd2.assign(L * N, 0);
  a.gate.assign(L * N * F, 0);
  a.up.assign(L * N * F, 0);
  a.hid.assign(L * N * F, 0);
  a.xf.assign(N * C, 0);
  a.rstdf.assign(N, 0);
  a.probs.assign(N * V, 0);
  a.dres.assign(N * C, 0);
  a.dtmp.assign(N * C, 0);
  a.dq.assign(N * C, 0);
  a.dk.assign(N * Ck, 0);
  a.dv.assign(N * Ck, 0);
  a.do_.assign(N * C, 0);
  a.dgate.assign(N * F, 0);
  a.dup.assign(N * F, 0);
  a.dhid.assign(N * F, 0);
  a.dscores.assign((size_t)T * T * omp_get_max_threads(), 0);
  const int half = (c.n_rot ? c.n_rot : c.head_dim()) / 2;
  a.rope_cos.assign((size_t)T * half, 0);
  a.rope_sin.assign((size_t)T * half, 0);
  const int n_rot = 2 * half;
  for (int t = 0; t < T; t++)
    for (int i = 0; i < half; i++) {
      // theta_i = pos * base^(-2i / n_rot), in double so the table does not depend on libm float rounding.
      double ang = (double)t * std::pow((double)c.rope_theta, -2.0 * i / n_rot);
      a.rope_cos[(size_t)t * half + i] = (float)std::cos(ang);
      a.rope_sin[(size_t)t * half + i] = (float)std::sin(ang);
    }
}

double forward(const Net& net, Activations& a, const int32_t* tokens, const int32_t* targets, int B, int T) {
  alloc_activations(net, B, T, a);
  BlasSingleThread blas1;
  const auto& c = net.cfg;
  const int N = B * T, C = c.n_embd, Ck = c.kv_dim(), F = c.n_ff, V = c.n_vocab, H = c.n_head, Hk = c.n_head_kv;
  const int D = c.head_dim(), n_rot = c.n_rot ? c.n_rot : D;
  for (int n = 0; n < N; n++)
    if (tokens[n] < 0 || tokens[n] >= V || (targets && targets[n] != kIgnoreTarget && (targets[n] < 0 || targets[n] >= V)))
      fail("token id {} is outside the vocabulary of {}", (tokens[n] < 0 || tokens[n] >= V) ? tokens[n] : targets[n], V);

  // Token embedding.
  float* x0 = a.x.data();
  const NetMatrix& E = net.tok_emb;
  const size_t emb_row = dtype_row_bytes(E.type, C);
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
  for (int n = 0; n < N; n++) {
    if (E.type == DType::F32)
      std::memcpy(x0 + (size_t)n * C, (const float*)E.w + (size_t)tokens[n] * C, C * sizeof(float));
    else
      dequantize_row(E.type, (const char*)E.w + (size_t)tokens[n] * emb_row, x0 + (size_t)n * C, C);
  }

  for (int l = 0; l < c.n_layer; l++) {
    const NetLayer& L = net.layers[l];
    const float* x = a.x.data() + (size_t)l * N * C;
    float* xn1 = a.xn1.data() + (size_t)l * N * C;
    float* q = a.q.data() + (size_t)l * N * C;
    float* k = a.k.data() + (size_t)l * N * Ck;
    float* v = a.v.data() + (size_t)l * N * Ck;
    float* att = a.att.data() + (size_t)l * B * H * T * T;
    float* o = a.o.data() + (size_t)l * N * C;
    float* x2 = a.x2.data() + (size_t)l * N * C;
    float* xn2 = a.xn2.data() + (size_t)l * N * C;
    float* gate = a.gate.data() + (size_t)l * N * F;
    float* up = a.up.data() + (size_t)l * N * F;
    float* hid = a.hid.data() + (size_t)l * N * F;
    float* xout = a.x.data() + (size_t)(l + 1) * N * C;
    auto u = [&](int i) { return a.lora_u[(size_t)l * NetLayer::kMatrices + i].data(); };

    // Attention block.
    rmsnorm_forward(xn1, a.rstd1.data() + (size_t)l * N, x, L.attn_norm.w, N, C, c.norm_eps);
    lin_forward(L.wq, q, xn1, N, u(0));
    lin_forward(L.wk, k, xn1, N, u(1));
    lin_forward(L.wv, v, xn1, N, u(2));
    if (net.has_qkv_bias) {
      add_bias(q, L.bq.w, N, C);
      add_bias(k, L.bk.w, N, Ck);
      add_bias(v, L.bv.w, N, Ck);
    }
    rope_apply(q, B, T, H, D, n_rot, net.neox_rope, a.rope_cos.data(), a.rope_sin.data(), false);
    rope_apply(k, B, T, Hk, D, n_rot, net.neox_rope, a.rope_cos.data(), a.rope_sin.data(), false);
    attention_forward(o, att, q, k, v, B, T, H, Hk, D);
    lin_forward(L.wo, x2, o, N, u(3));
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
    for (size_t i = 0; i < (size_t)N * C; i++) x2[i] += x[i];

    // SwiGLU feed-forward block.
    rmsnorm_forward(xn2, a.rstd2.data() + (size_t)l * N, x2, L.ffn_norm.w, N, C, c.norm_eps);
    lin_forward(L.gate, gate, xn2, N, u(4));
    lin_forward(L.up, up, xn2, N, u(5));
#pragma omp parallel for schedule(static) if ((size_t)N * F >= kParallelMin)
    for (size_t i = 0; i < (size_t)N * F; i++) {
      float g = gate[i];
      hid[i] = g / (1.0f + vexp(-g)) * up[i];
    }
    lin_forward(L.down, xout, hid, N, u(6));
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
    for (size_t i = 0; i < (size_t)N * C; i++) xout[i] += x2[i];
  }

  // Final norm, output matrix, softmax cross-entropy.
  const float* xL = a.x.data() + (size_t)c.n_layer * N * C;
  rmsnorm_forward(a.xf.data(), a.rstdf.data(), xL, net.out_norm.w, N, C, c.norm_eps);
  if (a.skip_logits) return 0;
  lin_forward(net.output, a.probs.data(), a.xf.data(), N, nullptr);
  std::vector<double> row_loss(N, 0.0);
#pragma omp parallel for schedule(static) if ((size_t)N * V >= kParallelMin)
  for (int n = 0; n < N; n++) {
    float* p = a.probs.data() + (size_t)n * V;
    float mx = p[0];
    for (int i = 1; i < V; i++) mx = std::max(mx, p[i]);
    const float target_logit = targets && targets[n] != kIgnoreTarget ? p[targets[n]] : 0.0f;
    float sumf = 0;
#pragma omp simd reduction(+ : sumf)
    for (int i = 0; i < V; i++) {
      p[i] = vexp(p[i] - mx);
      sumf += p[i];
    }
    const double sum = sumf;
    float inv = (float)(1.0 / sum);
    // -log softmax = log(sum exp(l - max)) - (l_target - max): no log of an underflowed probability.
    if (targets && targets[n] != kIgnoreTarget) row_loss[n] = std::log(sum) - ((double)target_logit - mx);
    for (int i = 0; i < V; i++) p[i] *= inv;
  }
  if (!targets) return 0;
  double loss = 0;
  for (int n = 0; n < N; n++) loss += row_loss[n];  // fixed order
  return loss;
}

double forward(const Model& m, Activations& a, const int32_t* tokens, const int32_t* targets, int B, int T) {
  // The pass only reads through the view; net_of needs the gradient pointers too.
  return forward(net_of(const_cast<Model&>(m)), a, tokens, targets, B, T);
}

namespace {

bool layer_trains(const NetLayer& L) {
  for (int i = 0; i < NetLayer::kMatrices; i++)
    if (L.matrix(i).trainable()) return true;
  return L.attn_norm.grad || L.ffn_norm.grad || L.bq.grad || L.bk.grad || L.bv.grad;
}

// The lowest thing trained: -1 the embedding, else a layer (n_layer: none); below it no
// gradient is needed.
int lowest_trained(const Net& n) {
  if (n.tok_emb.grad) return -1;
  for (int l = 0; l < n.cfg.n_layer; l++)
    if (layer_trains(n.layers[l])) return l;
  return n.cfg.n_layer;
}

}  // namespace

void backward(const Net& net, Activations& a, const int32_t* tokens, const int32_t* targets, float loss_scale) {
  BlasSingleThread blas1;
  const auto& c = net.cfg;
  const int N = a.B * a.T, V = c.n_vocab;
  for (int n = 0; n < N; n++)
    if ((targets[n] < 0 && targets[n] != kIgnoreTarget) || targets[n] >= V)
      fail("target id {} is outside the vocabulary of {}", targets[n], V);
  const int lowest = lowest_trained(net);

  // d loss / d logits = (softmax - onehot) * scale, written over the probabilities.
  float* dlogits = a.probs.data();
#pragma omp parallel for schedule(static) if ((size_t)N * V >= kParallelMin)
  for (int n = 0; n < N; n++) {
    float* p = dlogits + (size_t)n * V;
    if (targets[n] == kIgnoreTarget) {
      std::fill(p, p + V, 0.0f);
      continue;
    }
    p[targets[n]] -= 1.0f;
#pragma omp simd
    for (int i = 0; i < V; i++) p[i] *= loss_scale;
  }
  lin_backward(net.output, a.dtmp.data(), dlogits, a.xf.data(), nullptr, nullptr, N, false, lowest < c.n_layer);
  backward_hidden(net, a, tokens, a.dtmp.data());
}

void backward_hidden(const Net& net, Activations& a, const int32_t* tokens, const float* dxf) {
  BlasSingleThread blas1;
  const auto& c = net.cfg;
  const int B = a.B, T = a.T;
  const int N = B * T, C = c.n_embd, Ck = c.kv_dim(), F = c.n_ff, H = c.n_head, Hk = c.n_head_kv;
  const int D = c.head_dim(), n_rot = c.n_rot ? c.n_rot : D;
  const int lowest = lowest_trained(net);
  std::fill(a.dres.begin(), a.dres.end(), 0.0f);
  const float* xL = a.x.data() + (size_t)c.n_layer * N * C;
  if (lowest < c.n_layer || net.out_norm.grad)
    rmsnorm_backward(a.dres.data(), net.out_norm.grad, dxf, xL, a.rstdf.data(), net.out_norm.w, N, C);

  float* dres = a.dres.data();
  float* du = a.lora_du.data();
  for (int l = c.n_layer - 1; l >= std::max(lowest, 0); l--) {
    const NetLayer& L = net.layers[l];
    const float* x = a.x.data() + (size_t)l * N * C;
    const float* xn1 = a.xn1.data() + (size_t)l * N * C;
    const float* q = a.q.data() + (size_t)l * N * C;
    const float* k = a.k.data() + (size_t)l * N * Ck;
    const float* v = a.v.data() + (size_t)l * N * Ck;
    const float* att = a.att.data() + (size_t)l * B * H * T * T;
    const float* o = a.o.data() + (size_t)l * N * C;
    const float* x2 = a.x2.data() + (size_t)l * N * C;
    const float* xn2 = a.xn2.data() + (size_t)l * N * C;
    const float* gate = a.gate.data() + (size_t)l * N * F;
    const float* up = a.up.data() + (size_t)l * N * F;
    const float* hid = a.hid.data() + (size_t)l * N * F;
    auto u = [&](int i) { return a.lora_u[(size_t)l * NetLayer::kMatrices + i].data(); };
    // Whether the gradient must reach this layer's input (something below trains).
    const bool need_in = l > lowest;

    // Feed-forward block: xout = x2 + down(silu(gate) * up).
    lin_backward(L.down, a.dhid.data(), dres, hid, u(6), du, N, false, true);
    float* dgate = a.dgate.data();
    float* dup = a.dup.data();
    const float* dhid = a.dhid.data();
#pragma omp parallel for schedule(static) if ((size_t)N * F >= kParallelMin)
    for (size_t i = 0; i < (size_t)N * F; i++) {
      float g = gate[i];
      float s = 1.0f / (1.0f + vexp(-g));
      dup[i] = dhid[i] * g * s;
      dgate[i] = dhid[i] * up[i] * s * (1.0f + g * (1.0f - s));
    }
    lin_backward(L.gate, a.dtmp.data(), dgate, xn2, u(4), du, N, false, true);
    lin_backward(L.up, a.dtmp.data(), dup, xn2, u(5), du, N, true, true);
    rmsnorm_backward(dres, L.ffn_norm.grad, a.dtmp.data(), x2, a.rstd2.data() + (size_t)l * N, L.ffn_norm.w, N, C);

    // Attention block: x2 = x + wo(attention(rope(q), rope(k), v)).
    lin_backward(L.wo, a.do_.data(), dres, o, u(3), du, N, false, true);
    attention_backward(a.dq.data(), a.dk.data(), a.dv.data(), a.do_.data(), att, q, k, v, B, T, H, Hk, D, a.dscores.data());
    rope_apply(a.dq.data(), B, T, H, D, n_rot, net.neox_rope, a.rope_cos.data(), a.rope_sin.data(), true);
    rope_apply(a.dk.data(), B, T, Hk, D, n_rot, net.neox_rope, a.rope_cos.data(), a.rope_sin.data(), true);
    if (net.has_qkv_bias) {
      bias_backward(L.bq.grad, a.dq.data(), N, C);
      bias_backward(L.bk.grad, a.dk.data(), N, Ck);
      bias_backward(L.bv.grad, a.dv.data(), N, Ck);
    }
    const bool need_xn1 = need_in || L.attn_norm.grad;
    lin_backward(L.wq, a.dtmp.data(), a.dq.data(), xn1, u(0), du, N, false, need_xn1);
    lin_backward(L.wk, a.dtmp.data(), a.dk.data(), xn1, u(1), du, N, true, need_xn1);
    lin_backward(L.wv, a.dtmp.data(), a.dv.data(), xn1, u(2), du, N, true, need_xn1);
    if (need_xn1)
      rmsnorm_backward(dres, L.attn_norm.grad, a.dtmp.data(), x, a.rstd1.data() + (size_t)l * N, L.attn_norm.w, N, C);
  }

  // Token embedding: rows scattered in token order (fixed, so deterministic).
  if (!net.tok_emb.grad) return;
  float* demb = net.tok_emb.grad;
  for (int n = 0; n < N; n++) {
    float* d = demb + (size_t)tokens[n] * C;
    const float* s = dres + (size_t)n * C;
#pragma omp simd
    for (int i = 0; i < C; i++) d[i] += s[i];
  }
}

void backward(Model& m, Activations& a, const int32_t* tokens, const int32_t* targets, float loss_scale) {
  backward(net_of(m), a, tokens, targets, loss_scale);
}

void backward_hidden(Model& m, Activations& a, const int32_t* tokens, const float* dxf) {
  backward_hidden(net_of(m), a, tokens, dxf);
}

double train_flops_per_step(const ModelConfig& c, int B, int T, bool with_backward) {
  return (with_backward ? 3.0 : 1.0) * c.forward_flops(T, 0) * B;
}

double net_step_flops(const Net& n, int B, int T) {
  const ModelConfig& c = n.cfg;
  const double N = (double)B * T;
  const double attn = 4.0 * c.head_dim() * c.n_head * B * ((double)T * (T + 1) / 2);  // one layer's forward
  const int lowest = lowest_trained(n);
  auto mat_fwd = [&](const NetMatrix& M) { return 2.0 * N * M.rows * M.cols + 2.0 * N * M.rank * (M.rows + M.cols); };
  auto mat_bwd = [&](const NetMatrix& M, bool need_dx) {
    double f = M.grad ? 4.0 * N * M.rows * M.cols : need_dx ? 2.0 * N * M.rows * M.cols : 0.0;
    need_dx = need_dx || M.grad;
    if (M.rank > 0 && M.grad_a) f += 2.0 * N * M.rank * (2 * M.rows + M.cols) + (need_dx ? 2.0 * N * M.rank * M.cols : 0.0);
    return f;
  };
  double f = mat_fwd(n.output) + mat_bwd(n.output, lowest < c.n_layer);
  for (int l = 0; l < c.n_layer; l++) {
    const NetLayer& L = n.layers[l];
    f += attn;
    for (int i = 0; i < NetLayer::kMatrices; i++) f += mat_fwd(L.matrix(i));
    if (l < lowest) continue;
    const bool need_xn1 = l > lowest || L.attn_norm.grad;
    f += 2 * attn;
    for (int i = 0; i < NetLayer::kMatrices; i++) f += mat_bwd(L.matrix(i), i >= 3 || need_xn1);
  }
  return f;
}

}  // namespace flops::train
