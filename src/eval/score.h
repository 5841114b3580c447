#pragma once
// Per-token log-probabilities of a token sequence under a model: the primitive
// beneath perplexity, detection and multiple-choice scoring.
#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"

namespace flops {

struct TokenScore {
  int32_t token = 0;
  double logprob = 0;   // natural log of p(token | previous tokens)
  int32_t rank = 0;     // 1 = the model's top choice
  double entropy = 0;   // of the predictive distribution, in nats
};

// Statistics of one row of logits for a target token (log-softmax in double).
TokenScore score_logits(const float* logits, int n_vocab, int32_t target);

// Scores tokens[1..] given their prefixes. Sequences longer than n_ctx are scored
// in windows of n_ctx tokens advancing by `stride` (default n_ctx/2): each window
// scores only the tokens the previous windows did not, so every token after the
// first gets exactly one score, conditioned on at least n_ctx - stride tokens
// when that many exist. progress(done, total) is optional.
std::vector<TokenScore> score_tokens(const Model& m, const std::vector<int32_t>& tokens, int n_ctx, int stride = 0,
                                     const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace flops
