#include "model/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace flops {

namespace {

// The k best of [0, n) (better: larger logit, then smaller index), best first: what a
// partial_sort of all n indices gives, in one pass that rejects most candidates with one
// comparison against the worst kept (scanning in index order, a tie with it is never better).
std::vector<int32_t> top_k_indices(const float* l, int n, size_t k) {
  auto better = [&](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
  std::vector<int32_t> heap;  // a max-heap under `better`: its front is the worst kept
  heap.reserve(k);
  int i = 0;
  for (; i < n && heap.size() < k; i++) {
    heap.push_back(i);
    std::push_heap(heap.begin(), heap.end(), better);
  }
  float worst = heap.empty() ? 0.0f : l[heap.front()];
  for (; i < n; i++) {
    if (!(l[i] > worst)) continue;
    std::pop_heap(heap.begin(), heap.end(), better);
    heap.back() = i;
    std::push_heap(heap.begin(), heap.end(), better);
    worst = l[heap.front()];
  }
  std::sort(heap.begin(), heap.end(), better);
  return heap;
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

  std::vector<int32_t> idx;
  if (p.top_k > 0 && p.top_k < n_vocab) {
    idx = top_k_indices(l, n_vocab, (size_t)p.top_k);
  } else {
    idx.resize(n_vocab);
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  }
  // Probabilities of the kept candidates at temperature 1 for the top-p and min-p cut-offs.
  auto probs = [&](float temp) {
    std::vector<double> pr(idx.size());
    double mx = l[idx[0]], sum = 0;
    for (size_t i = 0; i < idx.size(); i++) sum += pr[i] = std::exp((l[idx[i]] - mx) / temp);
    for (auto& x : pr) x /= sum;
    return pr;
  };
  if (p.top_p < 1.0f) {
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
  if (p.min_p > 0) {
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
