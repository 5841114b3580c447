#include "detect/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace flops::detect {

namespace {
void check(const std::vector<double>& s, const std::vector<int>& y, int& n_pos, int& n_neg) {
  if (s.size() != y.size()) fail("metrics: {} scores but {} labels", s.size(), y.size());
  n_pos = n_neg = 0;
  for (size_t i = 0; i < s.size(); i++) {
    if (y[i] != 0 && y[i] != 1) fail("metrics: label must be 0 or 1, got {}", y[i]);
    if (!std::isfinite(s[i])) fail("metrics: score {} is not finite", i);
    (y[i] ? n_pos : n_neg)++;
  }
  if (n_pos == 0 || n_neg == 0) fail("metrics need both human and AI examples (got {} AI, {} human)", n_pos, n_neg);
}

// Indices sorted by score, highest first.
std::vector<size_t> order_desc(const std::vector<double>& s) {
  std::vector<size_t> o(s.size());
  std::iota(o.begin(), o.end(), 0);
  std::stable_sort(o.begin(), o.end(), [&](size_t a, size_t b) { return s[a] > s[b]; });
  return o;
}
}  // namespace

double auroc(const std::vector<double>& s, const std::vector<int>& y) {
  int n_pos, n_neg;
  check(s, y, n_pos, n_neg);
  // Average ranks (ascending, ties share their mean rank); U = sum of positive ranks - n_pos(n_pos+1)/2.
  std::vector<size_t> o(s.size());
  std::iota(o.begin(), o.end(), 0);
  std::sort(o.begin(), o.end(), [&](size_t a, size_t b) { return s[a] < s[b]; });
  double rank_sum = 0;
  for (size_t i = 0; i < o.size();) {
    size_t j = i;
    while (j < o.size() && s[o[j]] == s[o[i]]) j++;
    double avg = (double)(i + 1 + j) / 2.0;  // mean of ranks i+1..j
    for (size_t k = i; k < j; k++)
      if (y[o[k]]) rank_sum += avg;
    i = j;
  }
  double u = rank_sum - (double)n_pos * (n_pos + 1) / 2.0;
  return u / ((double)n_pos * n_neg);
}

OperatingPoint tpr_at_fpr(const std::vector<double>& s, const std::vector<int>& y, double max_fpr) {
  int n_pos, n_neg;
  check(s, y, n_pos, n_neg);
  std::vector<size_t> o = order_desc(s);
  OperatingPoint best;
  best.threshold = std::nextafter(s[o[0]], std::numeric_limits<double>::infinity());
  int tp = 0, fp = 0;
  for (size_t i = 0; i < o.size();) {
    size_t j = i;
    while (j < o.size() && s[o[j]] == s[o[i]]) {
      (y[o[j]] ? tp : fp)++;
      j++;
    }
    double fpr = (double)fp / n_neg;
    if (fpr > max_fpr + 1e-12) break;
    best = {s[o[i]], (double)tp / n_pos, fpr};
    i = j;
  }
  return best;
}

F1Point best_f1(const std::vector<double>& s, const std::vector<int>& y) {
  int n_pos, n_neg;
  check(s, y, n_pos, n_neg);
  std::vector<size_t> o = order_desc(s);
  F1Point best;
  best.f1 = -1;
  int tp = 0, fp = 0;
  for (size_t i = 0; i < o.size();) {
    size_t j = i;
    while (j < o.size() && s[o[j]] == s[o[i]]) {
      (y[o[j]] ? tp : fp)++;
      j++;
    }
    double f1 = 2.0 * tp / (2.0 * tp + fp + (n_pos - tp));
    if (f1 > best.f1) best = {s[o[i]], f1, (double)tp / (tp + fp), (double)tp / n_pos};
    i = j;
  }
  return best;
}

double logistic(const std::vector<double>& w, const std::vector<double>& x) {
  if (w.size() != x.size() + 1) fail("logistic: {} weights for {} features", w.size(), x.size());
  double z = w[0];
  for (size_t k = 0; k < x.size(); k++) z += w[k + 1] * x[k];
  return 1.0 / (1.0 + std::exp(-z));
}

std::vector<double> fit_logistic(const std::vector<std::vector<double>>& x, const std::vector<int>& y, double l2) {
  const size_t n = x.size();
  if (n == 0 || n != y.size()) fail("logistic fit: {} rows and {} labels", n, y.size());
  const size_t d = x[0].size();
  std::vector<double> mean(d, 0), sd(d, 0);
  for (auto& r : x) {
    if (r.size() != d) fail("logistic fit: rows of different lengths");
    for (size_t k = 0; k < d; k++) {
      if (!std::isfinite(r[k])) fail("logistic fit: feature {} is not finite", k);
      mean[k] += r[k] / n;
    }
  }
  for (auto& r : x)
    for (size_t k = 0; k < d; k++) sd[k] += (r[k] - mean[k]) * (r[k] - mean[k]) / n;
  for (size_t k = 0; k < d; k++) sd[k] = sd[k] > 1e-24 ? std::sqrt(sd[k]) : 1.0;
  const size_t p = d + 1;
  std::vector<double> w(p, 0.0);
  auto z_row = [&](const std::vector<double>& r, std::vector<double>& z) {
    z[0] = 1;
    for (size_t k = 0; k < d; k++) z[k + 1] = (r[k] - mean[k]) / sd[k];
  };
  std::vector<double> z(p);
  for (int it = 0; it < 100; it++) {
    std::vector<double> g(p, 0.0), h(p * p, 0.0);
    for (size_t i = 0; i < n; i++) {
      z_row(x[i], z);
      double a = 0;
      for (size_t k = 0; k < p; k++) a += w[k] * z[k];
      double pr = 1.0 / (1.0 + std::exp(-a));
      double wt = std::max(pr * (1 - pr), 1e-12);
      for (size_t k = 0; k < p; k++) {
        g[k] += (pr - y[i]) * z[k];
        for (size_t l = 0; l < p; l++) h[k * p + l] += wt * z[k] * z[l];
      }
    }
    for (size_t k = 1; k < p; k++) {  // intercept not penalized
      g[k] += l2 * n * w[k];
      h[k * p + k] += l2 * n;
    }
    h[0] += 1e-9 * n;
    // Solve h * step = g (Gaussian elimination with partial pivoting; p is tiny).
    std::vector<double> a = h, b = g;
    for (size_t c = 0; c < p; c++) {
      size_t piv = c;
      for (size_t r = c + 1; r < p; r++)
        if (std::fabs(a[r * p + c]) > std::fabs(a[piv * p + c])) piv = r;
      for (size_t l = 0; l < p; l++) std::swap(a[c * p + l], a[piv * p + l]);
      std::swap(b[c], b[piv]);
      for (size_t r = c + 1; r < p; r++) {
        double f = a[r * p + c] / a[c * p + c];
        for (size_t l = c; l < p; l++) a[r * p + l] -= f * a[c * p + l];
        b[r] -= f * b[c];
      }
    }
    std::vector<double> step(p);
    for (size_t c = p; c-- > 0;) {
      double v = b[c];
      for (size_t l = c + 1; l < p; l++) v -= a[c * p + l] * step[l];
      step[c] = v / a[c * p + c];
    }
    double mx = 0;
    for (size_t k = 0; k < p; k++) {
      w[k] -= step[k];
      mx = std::max(mx, std::fabs(step[k]));
    }
    if (mx < 1e-10) break;
  }
  // Back to the original feature scale.
  std::vector<double> out(p);
  out[0] = w[0];
  for (size_t k = 0; k < d; k++) {
    out[k + 1] = w[k + 1] / sd[k];
    out[0] -= w[k + 1] * mean[k] / sd[k];
  }
  return out;
}

}  // namespace flops::detect
