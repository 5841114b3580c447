#pragma once
// A naive double-precision reference of the training pass (llama/qwen2 layout of a
// train::Model, weights given separately as doubles), for gradient checks.
#include <cmath>
#include <cstdint>
#include <vector>

#include "train/forward_backward.h"
#include "train/model.h"

namespace flops::train {

// Summed cross-entropy of targets (kIgnoreTarget skipped) for B sequences of T tokens.
inline double ref_loss(const Model& m, const std::vector<double>& w, const std::vector<int32_t>& tok, const std::vector<int32_t>& tgt, int B, int T) {
  const auto& c = m.cfg;
  const int C = c.n_embd, H = c.n_head, Hk = c.n_head_kv, D = C / H, Ck = Hk * D, F = c.n_ff, V = c.n_vocab;
  const int n_rot = c.n_rot ? c.n_rot : D;
  auto W = [&](size_t off) { return w.data() + off; };
  auto rmsnorm = [&](const std::vector<double>& x, const double* g) {
    double ss = 0;
    for (double e : x) ss += e * e;
    double r = 1.0 / std::sqrt(ss / x.size() + (double)c.norm_eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); i++) y[i] = x[i] * r * g[i];
    return y;
  };
  auto matvec = [&](const double* M, const std::vector<double>& x, int out) {  // M is [out][in]
    std::vector<double> y(out, 0.0);
    for (int o = 0; o < out; o++)
      for (size_t i = 0; i < x.size(); i++) y[o] += M[(size_t)o * x.size() + i] * x[i];
    return y;
  };
  auto rope = [&](std::vector<double>& v, int heads, int pos) {
    for (int h = 0; h < heads; h++)
      for (int i = 0; i < n_rot / 2; i++) {
        int a = m.neox_rope ? i : 2 * i, b = m.neox_rope ? i + n_rot / 2 : 2 * i + 1;
        double th = pos * std::pow((double)c.rope_theta, -2.0 * i / n_rot);
        double x0 = v[h * D + a], x1 = v[h * D + b];
        v[h * D + a] = x0 * std::cos(th) - x1 * std::sin(th);
        v[h * D + b] = x0 * std::sin(th) + x1 * std::cos(th);
      }
  };
  double loss = 0;
  for (int b = 0; b < B; b++) {
    std::vector<std::vector<double>> x(T, std::vector<double>(C));
    for (int t = 0; t < T; t++)
      for (int i = 0; i < C; i++) x[t][i] = w[m.tok_emb + (size_t)tok[b * T + t] * C + i];
    for (int l = 0; l < c.n_layer; l++) {
      const LayerOffsets& L = m.layers[l];
      std::vector<std::vector<double>> q(T), k(T), v(T);
      for (int t = 0; t < T; t++) {
        auto xn = rmsnorm(x[t], W(L.attn_norm));
        q[t] = matvec(W(L.wq), xn, C);
        k[t] = matvec(W(L.wk), xn, Ck);
        v[t] = matvec(W(L.wv), xn, Ck);
        if (m.has_qkv_bias) {
          for (int i = 0; i < C; i++) q[t][i] += w[L.bq + i];
          for (int i = 0; i < Ck; i++) k[t][i] += w[L.bk + i], v[t][i] += w[L.bv + i];
        }
        rope(q[t], H, t);
        rope(k[t], Hk, t);
      }
      for (int t = 0; t < T; t++) {
        std::vector<double> o(C, 0.0);
        for (int h = 0; h < H; h++) {
          int kh = h / (H / Hk);
          std::vector<double> sc(t + 1);
          double mx = -1e300, sum = 0;
          for (int s = 0; s <= t; s++) {
            double d = 0;
            for (int i = 0; i < D; i++) d += q[t][h * D + i] * k[s][kh * D + i];
            sc[s] = d / std::sqrt((double)D);
            mx = std::max(mx, sc[s]);
          }
          for (int s = 0; s <= t; s++) sum += (sc[s] = std::exp(sc[s] - mx));
          for (int s = 0; s <= t; s++)
            for (int i = 0; i < D; i++) o[h * D + i] += sc[s] / sum * v[s][kh * D + i];
        }
        auto proj = matvec(W(L.wo), o, C);
        for (int i = 0; i < C; i++) x[t][i] += proj[i];
      }
      for (int t = 0; t < T; t++) {
        auto xn = rmsnorm(x[t], W(L.ffn_norm));
        auto g = matvec(W(L.w_gate), xn, F);
        auto u = matvec(W(L.w_up), xn, F);
        std::vector<double> hdn(F);
        for (int i = 0; i < F; i++) hdn[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
        auto dn = matvec(W(L.w_down), hdn, C);
        for (int i = 0; i < C; i++) x[t][i] += dn[i];
      }
    }
    const double* out = W(m.tied_output ? m.tok_emb : m.output);
    for (int t = 0; t < T; t++) {
      auto xf = rmsnorm(x[t], W(m.out_norm));
      auto logits = matvec(out, xf, V);
      double mx = -1e300, sum = 0;
      for (double e : logits) mx = std::max(mx, e);
      for (double e : logits) sum += std::exp(e - mx);
      if (tgt[b * T + t] != kIgnoreTarget) loss += std::log(sum) + mx - logits[tgt[b * T + t]];
    }
  }
  return loss;
}


}  // namespace flops::train
