#pragma once
// Token sampling: repetition penalty, top-k, top-p, min-p, temperature, seeded RNG.
#include <cstdint>
#include <random>
#include <vector>

namespace flops {

struct SamplingParams {
  float temp = 0.8f;            // <= 0: greedy
  int top_k = 40;               // <= 0: off
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int repeat_last_n = 64;
  uint64_t seed = 42;
};

// The k best of n logits (larger, then smaller index), best first: what a partial sort of all n
// indices gives, in one pass over them (k is capped at n).
std::vector<int32_t> top_k_indices(const float* logits, int n, size_t k);

struct Sampler {
  SamplingParams p;
  std::mt19937_64 rng;
  explicit Sampler(const SamplingParams& params) : p(params), rng(params.seed) {}
  // Picks the next token from one row of logits given the tokens so far.
  int32_t sample(const float* logits, int n_vocab, const std::vector<int32_t>& history);
};

}  // namespace flops
