#include "eval/score.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/forward.h"

namespace flops {

TokenScore score_logits(const float* l, int n_vocab, int32_t target) {
  float mx = l[0];
  for (int i = 1; i < n_vocab; i++) mx = std::max(mx, l[i]);
  double sum = 0, wsum = 0;
  int rank = 1;
  const float lt = l[target];
  for (int i = 0; i < n_vocab; i++) {
    double z = (double)l[i] - mx;
    double e = std::exp(z);
    sum += e;
    wsum += e * z;
    rank += (l[i] > lt) || (l[i] == lt && i < target);
  }
  double lse = std::log(sum);
  TokenScore s;
  s.token = target;
  s.logprob = ((double)lt - mx) - lse;
  s.rank = rank;
  s.entropy = lse - wsum / sum;
  return s;
}

std::vector<TokenScore> score_tokens(const Model& m, const std::vector<int32_t>& tokens, int n_ctx, int stride,
                                     const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t n = (int64_t)tokens.size();
  if (n < 2) fail("need at least 2 tokens to score, got {}", n);
  if (n_ctx < 2) fail("context size must be at least 2, got {}", n_ctx);
  if (stride <= 0) stride = std::max(1, n_ctx / 2);
  if (stride > n_ctx - 1) stride = n_ctx - 1;
  std::vector<TokenScore> out;
  out.reserve(n - 1);
  KVCache kv = make_kv_cache(m.cfg, (int)std::min<int64_t>(n_ctx, n));
  std::vector<float> logits;
  int64_t scored_to = 0;  // tokens[1..scored_to] have scores
  for (int64_t start = 0; scored_to < n - 1; start += stride) {
    int64_t end = std::min(n, start + n_ctx);
    kv.clear();
    std::vector<int32_t> win(tokens.begin() + start, tokens.begin() + end);
    forward(m, kv, make_batch(win), logits);
    for (int64_t j = scored_to + 1; j < end; j++) {
      int64_t row = j - 1 - start;
      out.push_back(score_logits(logits.data() + row * m.cfg.n_vocab, m.cfg.n_vocab, tokens[j]));
    }
    scored_to = end - 1;
    if (progress) progress(scored_to, n - 1);
    if (end == n) break;
  }
  return out;
}

}  // namespace flops
