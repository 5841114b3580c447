#include "eval/perplexity.h"

#include <cmath>

#include "core/error.h"
#include "eval/score.h"
#include "model/forward.h"

namespace flops {

namespace {

struct NllStats {
  double sum = 0, sum2 = 0;
  int64_t n = 0;
  void add(double nll) {
    sum += nll;
    sum2 += nll * nll;
    n++;
  }
  void finish(PerplexityResult& r) const {
    double mean = sum / n;
    double var = sum2 / n - mean * mean;
    double se = (var > 0 && n > 1) ? std::sqrt(var / (n - 1)) : 0;
    r.nll = mean;
    r.ppl = std::exp(mean);
    r.ppl_err = r.ppl * se;
    r.n_scored = n;
  }
};

}  // namespace

PerplexityResult perplexity_chunks(const Model& m, std::vector<int32_t> tokens, int n_ctx, int32_t bos,
                                   const std::function<void(int64_t, int64_t)>& progress) {
  if (n_ctx < 4) fail("context size must be at least 4 for perplexity, got {}", n_ctx);
  const int64_t n_chunks = (int64_t)tokens.size() / n_ctx;
  if (n_chunks == 0) fail("the text has {} tokens, fewer than one chunk of {} (use a smaller --ctx-size)", tokens.size(), n_ctx);
  PerplexityResult r;
  r.n_tokens = (int64_t)tokens.size();
  r.n_chunks = n_chunks;
  KVCache kv = make_kv_cache(m, n_ctx);
  std::vector<float> logits;
  NllStats st;
  const int first = n_ctx / 2;
  const int V = m.cfg.n_vocab;
  for (int64_t c = 0; c < n_chunks; c++) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (bos >= 0) chunk[0] = bos;
    kv.clear();
    forward(m, kv, make_batch(chunk), logits);
    for (int j = first; j < n_ctx - 1; j++) st.add(-score_logits(logits.data() + (int64_t)j * V, V, chunk[j + 1]).logprob);
    r.running.push_back(std::exp(st.sum / st.n));
    if (progress) progress(c + 1, n_chunks);
  }
  st.finish(r);
  return r;
}

PerplexityResult perplexity_sliding(const Model& m, const std::vector<int32_t>& tokens, int n_ctx, int stride,
                                    const std::function<void(int64_t, int64_t)>& progress) {
  if (stride <= 0 || stride >= n_ctx) fail("--stride must be between 1 and the context size - 1 ({}), got {}", n_ctx - 1, stride);
  std::vector<TokenScore> s = score_tokens(m, tokens, n_ctx, stride, progress);
  PerplexityResult r;
  r.n_tokens = (int64_t)tokens.size();
  NllStats st;
  for (auto& t : s) st.add(-t.logprob);
  r.n_chunks = tokens.size() <= (size_t)n_ctx ? 1 : 1 + ((int64_t)tokens.size() - n_ctx + stride - 1) / stride;
  st.finish(r);
  r.running.push_back(r.ppl);
  return r;
}

}  // namespace flops
