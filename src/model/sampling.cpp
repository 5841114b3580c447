#include "model/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/ops.h"

namespace flops {

namespace {
// Larger logit first, then smaller index: the order every cut-off of the sampler ranks by.
auto by_logit(const float* l) {
  return [l](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
}
}  // namespace

// The k best of [0, n) (better: larger logit, then smaller index), best first: what a
// partial_sort of all n indices gives, in one pass that rejects most candidates with one
// comparison against the worst kept (scanning in index order, a tie with it is never better).
std::vector<int32_t> top_k_indices(const float* l, int n, size_t k) {
  k = std::min(k, (size_t)std::max(n, 0));
  if (k == 0) return {};
  const auto better = by_logit(l);
  std::vector<int32_t> heap;  // a max-heap under `better`: its front is the worst kept
  heap.reserve(k);
  int i = 0;
  for (; i < n && heap.size() < k; i++) {
    heap.push_back(i);
    std::push_heap(heap.begin(), heap.end(), better);
  }
  float worst = heap.empty() ? 0.0f : l[heap.front()];
  auto offer = [&](int j) {
    if (!(l[j] > worst)) return;
    std::pop_heap(heap.begin(), heap.end(), better);
    heap.back() = j;
    std::push_heap(heap.begin(), heap.end(), better);
    worst = l[heap.front()];
  };
  // Sixteen at a time: one vector comparison rejects a whole run (all but a few runs of a large
  // vocabulary once the heap holds good candidates).
  for (; i + 16 <= n; i += 16) {
    int any = 0;
#pragma omp simd reduction(| : any)
    for (int u = 0; u < 16; u++) any |= l[i + u] > worst;
    if (any)
      for (int u = 0; u < 16; u++) offer(i + u);
  }
  for (; i < n; i++) offer(i);
  std::sort(heap.begin(), heap.end(), better);
  return heap;
}

namespace {

// A draw from softmax(l / temp) over all n tokens, walked in index order.
int32_t draw_all(const float* l, int n, float temp, std::mt19937_64& rng) {
  thread_local std::vector<float> w;
  w.resize(n);
  const float inv = 1.0f / temp;
  float mx = -INFINITY;
  for (int i = 0; i < n; i++) mx = std::max(mx, w[i] = l[i] * inv);
  const double sum = exp_sum(w.data(), n, mx);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double r = u(rng) * sum;
  double cum = 0;
  for (int i = 0; i < n; i++) {
    cum += w[i];
    if (r < cum) return i;
  }
  for (int i = n - 1; i > 0; i--)  // r at the very top of the range: the last token with weight
    if (w[i] > 0) return i;
  return 0;
}

// Top-p then min-p over the whole vocabulary (probabilities at temperature 1), best first: the
// same tokens as sorting all n, but only a prefix is ever sorted. min-p keeps the tokens within a
// factor min_p of the best, so they are chosen by one comparison each; top-p needs the smallest
// sorted prefix whose mass reaches top_p, found by sorting the best k for k = 256, 2048, ...
std::vector<int32_t> top_p_min_p_prefix(const float* l, int n, float top_p, float min_p) {
  const auto better = by_logit(l);
  thread_local std::vector<float> e;
  e.assign(l, l + n);
  const float mx = *std::max_element(l, l + n);
  const double z = exp_sum(e.data(), n, mx);
  std::vector<int32_t> idx;
  idx.reserve(n);
  for (int i = 0; i < n; i++)
    if (min_p <= 0 || e[i] >= min_p) idx.push_back(i);  // e[i] is p_i / p_best
  if (top_p >= 1.0f) {
    std::sort(idx.begin(), idx.end(), better);
    return idx;
  }
  for (size_t k = 256;; k *= 8) {
    const bool all = k >= idx.size();
    if (all) std::sort(idx.begin(), idx.end(), better);
    else {
      std::nth_element(idx.begin(), idx.begin() + k, idx.end(), better);
      std::sort(idx.begin(), idx.begin() + k, better);
    }
    double cum = 0;
    const size_t m = all ? idx.size() : k;
    for (size_t i = 0; i < m; i++) {
      cum += e[idx[i]] / z;
      if (cum >= top_p) {
        idx.resize(i + 1);
        return idx;
      }
    }
    if (all) return idx;
  }
}

}  // namespace

int32_t Sampler::sample(const float* logits, int n_vocab, const std::vector<int32_t>& history) {
  // The logits are copied only when the penalty changes them.
  thread_local std::vector<float> penalized;
  const float* l = logits;
  if (p.repeat_penalty != 1.0f && p.repeat_last_n != 0) {
    penalized.assign(logits, logits + n_vocab);
    float* lp = penalized.data();
    l = lp;
    size_t n = p.repeat_last_n < 0 ? history.size() : std::min(history.size(), (size_t)p.repeat_last_n);
    std::vector<bool> seen(n_vocab, false);
    for (size_t i = history.size() - n; i < history.size(); i++) {
      int32_t t = history[i];
      if (t < 0 || t >= n_vocab || seen[t]) continue;
      seen[t] = true;
      // Dividing a positive logit and multiplying a negative one both make the token less likely.
      lp[t] = lp[t] > 0 ? lp[t] / p.repeat_penalty : lp[t] * p.repeat_penalty;
    }
  }
  if (p.temp <= 0) return (int32_t)(std::max_element(l, l + n_vocab) - l);

  const bool top_k = p.top_k > 0 && p.top_k < n_vocab;
  // Without top-k, top-p or min-p every token stays a candidate: draw from the whole softmax in
  // index order, one pass, no sort (OpenAI's defaults; a 128K vocabulary's sort took longer than a
  // small model's decode step).
  if (!top_k && p.top_p >= 1.0f && p.min_p <= 0) return draw_all(l, n_vocab, p.temp, rng);
  std::vector<int32_t> idx = top_k ? top_k_indices(l, n_vocab, (size_t)p.top_k) : top_p_min_p_prefix(l, n_vocab, p.top_p, p.min_p);
  // Probabilities of the kept candidates at temperature 1 for the top-p and min-p cut-offs.
  auto probs = [&](float temp) {
    std::vector<double> pr(idx.size());
    double mx = l[idx[0]], sum = 0;
    for (size_t i = 0; i < idx.size(); i++) sum += pr[i] = std::exp((l[idx[i]] - mx) / temp);
    for (auto& x : pr) x /= sum;
    return pr;
  };
  // After top-k the cut-offs renormalize over its k; without it, top_p_min_p_prefix applied them
  // over the whole vocabulary already.
  if (top_k && p.top_p < 1.0f) {
    auto pr = probs(1.0f);
    double cum = 0;
    size_t keep = idx.size();
    for (size_t i = 0; i < pr.size(); i++) {
      cum += pr[i];
      if (cum >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
    idx.resize(keep);
  }
  if (top_k && p.min_p > 0) {
    auto pr = probs(1.0f);
    size_t keep = 1;
    while (keep < pr.size() && pr[keep] >= p.min_p * pr[0]) keep++;
    idx.resize(keep);
  }
  auto pr = probs(p.temp);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double r = u(rng), cum = 0;
  for (size_t i = 0; i < pr.size(); i++) {
    cum += pr[i];
    if (r < cum) return idx[i];
  }
  return idx.back();
}

}  // namespace flops
