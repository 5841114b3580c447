#pragma once
// Text generation: prompt processing in one batch, then one token at a time.
#include <functional>
#include <string>
#include <vector>

#include "model/forward.h"
#include "model/sampling.h"

namespace flops {

struct GenerateResult {
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> tokens;  // generated
  std::string text;             // decoded generated text
  double prompt_seconds = 0, gen_seconds = 0;
  bool stopped_at_eos = false;
};

// on_token(piece) is called with each new piece of text as it is produced; return false to stop.
GenerateResult generate(const Model& m, const std::string& prompt, int n_predict, int n_ctx, const SamplingParams& sp,
                        bool add_bos, const std::function<bool(const std::string&)>& on_token = {});

}  // namespace flops
