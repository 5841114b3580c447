#include "train/forward_backward.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/threads.h"

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

// One thread pool only: OpenBLAS runs single-threaded (see BlasSingleThread) and the OpenMP
// threads each multiply a band of C's rows. Two pools (OpenMP + OpenBLAS's own) on few cores
// spin against each other at every switch between a BLAS call and an OpenMP loop.
// C[M][N] = alpha * op(A) op(B) + beta * C, row-major.
void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc) {
  const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (nt <= 1 || (double)M * N * K < (1 << 21) || M < 8 * nt) {
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int t = 0; t < nt; t++) {
    // Bands in multiples of 8 rows keep the kernels' row blocking whole.
    const int m0 = (int)((int64_t)M * t / nt) / 8 * 8, m1 = t + 1 == nt ? M : (int)((int64_t)M * (t + 1) / nt) / 8 * 8;
    if (m1 <= m0) continue;
    const float* Ab = ta ? A + m0 : A + (size_t)m0 * lda;
    cblas_sgemm(CblasRowMajor, TA, TB, m1 - m0, N, K, alpha, Ab, lda, B, ldb, beta, C + (size_t)m0 * ldc, ldc);
  }
}

struct BlasSingleThread {
  // The OpenMP build of OpenBLAS also sets OpenMP's thread count here: put ours back.
  BlasSingleThread() {
    openblas_set_num_threads(1);
    omp_set_num_threads(get_threads());
  }
  ~BlasSingleThread() { openblas_set_num_threads(get_threads()); }
};

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

// dx += d/dx, dw += d/dw for upstream dy.
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

void alloc_activations(const Model& m, int B, int T, Activations& a) {
  const auto& c = m.cfg;
  if (B <= 0 || T <= 0) fail("batch {} and sequence length {} must be positive", B, T);
  if (T > c.n_ctx_train) fail("sequence length {} exceeds the model context {}", T, c.n_ctx_train);
  if (a.B == B && a.T == T && !a.x.empty() && a.dscores.size() == (size_t)T * T * omp_get_max_threads()) return;
  a.B = B;
  a.T = T;
  const size_t N = (size_t)B * T, L = c.n_layer, C = c.n_embd, Ck = c.kv_dim(), F = c.n_ff, V = c.n_vocab, H = c.n_head;
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

double forward(const Model& m, Activations& a, const int32_t* tokens, const int32_t* targets, int B, int T) {
  alloc_activations(m, B, T, a);
  BlasSingleThread blas1;
  const auto& c = m.cfg;
  const int N = B * T, C = c.n_embd, Ck = c.kv_dim(), F = c.n_ff, V = c.n_vocab, H = c.n_head, Hk = c.n_head_kv;
  const int D = c.head_dim(), n_rot = c.n_rot ? c.n_rot : D;
  const float* W = m.w.data();
  for (int n = 0; n < N; n++)
    if (tokens[n] < 0 || tokens[n] >= V || (targets && targets[n] != kIgnoreTarget && (targets[n] < 0 || targets[n] >= V)))
      fail("token id {} is outside the vocabulary of {}", (tokens[n] < 0 || tokens[n] >= V) ? tokens[n] : targets[n], V);

  // Token embedding.
  float* x0 = a.x.data();
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
  for (int n = 0; n < N; n++) std::memcpy(x0 + (size_t)n * C, W + m.tok_emb + (size_t)tokens[n] * C, C * sizeof(float));

  for (int l = 0; l < c.n_layer; l++) {
    const LayerOffsets& L = m.layers[l];
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

    // Attention block.
    rmsnorm_forward(xn1, a.rstd1.data() + (size_t)l * N, x, W + L.attn_norm, N, C, c.norm_eps);
    mm_forward(q, xn1, W + L.wq, N, C, C);
    mm_forward(k, xn1, W + L.wk, N, C, Ck);
    mm_forward(v, xn1, W + L.wv, N, C, Ck);
    if (m.has_qkv_bias) {
      add_bias(q, W + L.bq, N, C);
      add_bias(k, W + L.bk, N, Ck);
      add_bias(v, W + L.bv, N, Ck);
    }
    rope_apply(q, B, T, H, D, n_rot, m.neox_rope, a.rope_cos.data(), a.rope_sin.data(), false);
    rope_apply(k, B, T, Hk, D, n_rot, m.neox_rope, a.rope_cos.data(), a.rope_sin.data(), false);
    attention_forward(o, att, q, k, v, B, T, H, Hk, D);
    mm_forward(x2, o, W + L.wo, N, C, C);
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
    for (size_t i = 0; i < (size_t)N * C; i++) x2[i] += x[i];

    // SwiGLU feed-forward block.
    rmsnorm_forward(xn2, a.rstd2.data() + (size_t)l * N, x2, W + L.ffn_norm, N, C, c.norm_eps);
    mm_forward(gate, xn2, W + L.w_gate, N, C, F);
    mm_forward(up, xn2, W + L.w_up, N, C, F);
#pragma omp parallel for schedule(static) if ((size_t)N * F >= kParallelMin)
    for (size_t i = 0; i < (size_t)N * F; i++) {
      float g = gate[i];
      hid[i] = g / (1.0f + vexp(-g)) * up[i];
    }
    mm_forward(xout, hid, W + L.w_down, N, F, C);
#pragma omp parallel for schedule(static) if ((size_t)N * C >= kParallelMin)
    for (size_t i = 0; i < (size_t)N * C; i++) xout[i] += x2[i];
  }

  // Final norm, output matrix, softmax cross-entropy.
  const float* xL = a.x.data() + (size_t)c.n_layer * N * C;
  rmsnorm_forward(a.xf.data(), a.rstdf.data(), xL, W + m.out_norm, N, C, c.norm_eps);
  if (a.skip_logits) return 0;
  mm_forward(a.probs.data(), a.xf.data(), m.out_matrix(), N, C, V);
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

void backward(Model& m, Activations& a, const int32_t* tokens, const int32_t* targets, float loss_scale) {
  BlasSingleThread blas1;
  const auto& c = m.cfg;
  const int N = a.B * a.T, C = c.n_embd, V = c.n_vocab;
  float* G = m.g.data();
  for (int n = 0; n < N; n++)
    if ((targets[n] < 0 && targets[n] != kIgnoreTarget) || targets[n] >= V)
      fail("target id {} is outside the vocabulary of {}", targets[n], V);

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
  float* dout_w = G + (m.tied_output ? m.tok_emb : m.output);
  mm_backward(a.dtmp.data(), dout_w, dlogits, a.xf.data(), m.out_matrix(), N, C, V, false);
  backward_hidden(m, a, tokens, a.dtmp.data());
}

void backward_hidden(Model& m, Activations& a, const int32_t* tokens, const float* dxf) {
  BlasSingleThread blas1;
  const auto& c = m.cfg;
  const int B = a.B, T = a.T;
  const int N = B * T, C = c.n_embd, Ck = c.kv_dim(), F = c.n_ff, H = c.n_head, Hk = c.n_head_kv;
  const int D = c.head_dim(), n_rot = c.n_rot ? c.n_rot : D;
  const float* W = m.w.data();
  float* G = m.g.data();
  std::fill(a.dres.begin(), a.dres.end(), 0.0f);
  const float* xL = a.x.data() + (size_t)c.n_layer * N * C;
  rmsnorm_backward(a.dres.data(), G + m.out_norm, dxf, xL, a.rstdf.data(), W + m.out_norm, N, C);

  float* dres = a.dres.data();
  for (int l = c.n_layer - 1; l >= 0; l--) {
    const LayerOffsets& L = m.layers[l];
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

    // Feed-forward block: xout = x2 + down(silu(gate) * up).
    mm_backward(a.dhid.data(), G + L.w_down, dres, hid, W + L.w_down, N, F, C, false);
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
    mm_backward(a.dtmp.data(), G + L.w_gate, dgate, xn2, W + L.w_gate, N, C, F, false);
    mm_backward(a.dtmp.data(), G + L.w_up, dup, xn2, W + L.w_up, N, C, F, true);
    rmsnorm_backward(dres, G + L.ffn_norm, a.dtmp.data(), x2, a.rstd2.data() + (size_t)l * N, W + L.ffn_norm, N, C);

    // Attention block: x2 = x + wo(attention(rope(q), rope(k), v)).
    mm_backward(a.do_.data(), G + L.wo, dres, o, W + L.wo, N, C, C, false);
    attention_backward(a.dq.data(), a.dk.data(), a.dv.data(), a.do_.data(), att, q, k, v, B, T, H, Hk, D, a.dscores.data());
    rope_apply(a.dq.data(), B, T, H, D, n_rot, m.neox_rope, a.rope_cos.data(), a.rope_sin.data(), true);
    rope_apply(a.dk.data(), B, T, Hk, D, n_rot, m.neox_rope, a.rope_cos.data(), a.rope_sin.data(), true);
    if (m.has_qkv_bias) {
      bias_backward(G + L.bq, a.dq.data(), N, C);
      bias_backward(G + L.bk, a.dk.data(), N, Ck);
      bias_backward(G + L.bv, a.dv.data(), N, Ck);
    }
    mm_backward(a.dtmp.data(), G + L.wq, a.dq.data(), xn1, W + L.wq, N, C, C, false);
    mm_backward(a.dtmp.data(), G + L.wk, a.dk.data(), xn1, W + L.wk, N, C, Ck, true);
    mm_backward(a.dtmp.data(), G + L.wv, a.dv.data(), xn1, W + L.wv, N, C, Ck, true);
    rmsnorm_backward(dres, G + L.attn_norm, a.dtmp.data(), x, a.rstd1.data() + (size_t)l * N, W + L.attn_norm, N, C);
    (void)x2;
  }

  // Token embedding: rows scattered in token order (fixed, so deterministic).
  float* demb = G + m.tok_emb;
  for (int n = 0; n < N; n++) {
    float* d = demb + (size_t)tokens[n] * C;
    const float* s = dres + (size_t)n * C;
#pragma omp simd
    for (int i = 0; i < C; i++) d[i] += s[i];
  }
}

double train_flops_per_step(const ModelConfig& c, int B, int T, bool with_backward) {
  return (with_backward ? 3.0 : 1.0) * c.forward_flops(T, 0) * B;
}

}  // namespace flops::train
