#pragma once
// Perplexity of a text, by llama.cpp's method (independent chunks, second half
// scored) or by a sliding window.
#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"

namespace flops {

struct PerplexityResult {
  double ppl = 0;
  double ppl_err = 0;       // ppl * standard error of the mean token NLL
  double nll = 0;           // mean negative log-likelihood per scored token (nats)
  int64_t n_scored = 0;
  int64_t n_tokens = 0;     // tokens in the text
  int64_t n_chunks = 0;     // chunks or windows evaluated
  std::vector<double> running;  // perplexity after each chunk
};

// llama.cpp's method: cut `tokens` into floor(n / n_ctx) chunks of n_ctx tokens, put BOS
// (when bos >= 0) in the first position of each chunk, evaluate each from scratch, and
// score the predictions of tokens n_ctx/2+1 .. n_ctx-1 of each chunk.
PerplexityResult perplexity_chunks(const Model& m, std::vector<int32_t> tokens, int n_ctx, int32_t bos,
                                   const std::function<void(int64_t, int64_t)>& progress = {});

// Sliding window: every token after the first is scored once, with windows of n_ctx tokens advancing by stride.
PerplexityResult perplexity_sliding(const Model& m, const std::vector<int32_t>& tokens, int n_ctx, int stride,
                                    const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace flops
