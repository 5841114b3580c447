#include "model/generate.h"

#include <chrono>

#include "core/error.h"

namespace flops {

GenerateResult generate(const Model& m, const std::string& prompt, int n_predict, int n_ctx, const SamplingParams& sp,
                        bool add_bos, const std::function<bool(const std::string&)>& on_token) {
  using clock = std::chrono::steady_clock;
  GenerateResult r;
  r.prompt_tokens = m.tok.encode(prompt, add_bos);
  if (r.prompt_tokens.empty()) fail("the prompt is empty and the model adds no BOS token: nothing to condition on");
  if (n_predict < 0) fail("--n-predict must be >= 0, got {}", n_predict);
  int total = (int)r.prompt_tokens.size() + n_predict;
  if ((int)r.prompt_tokens.size() >= n_ctx) fail("context too long: the prompt has {} tokens, the context size is {}", r.prompt_tokens.size(), n_ctx);
  KVCache kv = make_kv_cache(m.cfg, std::min(total, n_ctx));
  Sampler sampler(sp);
  std::vector<float> logits;
  auto t0 = clock::now();
  forward(m, kv, make_batch(r.prompt_tokens, false), logits);
  auto t1 = clock::now();
  r.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();
  std::vector<int32_t> history = r.prompt_tokens;
  // Decode incrementally: a piece may end inside a multi-byte character, so text is emitted
  // as the difference of decoded prefixes.
  const std::string prompt_text = m.tok.decode(r.prompt_tokens);
  std::string emitted = prompt_text;
  for (int i = 0; i < n_predict; i++) {
    int32_t tok = sampler.sample(logits.data(), m.cfg.n_vocab, history);
    if (tok == m.tok.eos()) {
      r.stopped_at_eos = true;
      break;
    }
    r.tokens.push_back(tok);
    history.push_back(tok);
    std::string full = m.tok.decode(history);
    if (on_token && full.size() > emitted.size()) {
      if (!on_token(full.substr(emitted.size()))) break;
    }
    emitted = full;
    if (kv.n >= kv.n_ctx) break;
    if (i + 1 < n_predict) forward(m, kv, make_batch({tok}, false), logits);
  }
  r.gen_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  std::string full = m.tok.decode(history);
  r.text = full.size() >= prompt_text.size() ? full.substr(prompt_text.size()) : m.tok.decode(r.tokens);
  return r;
}

}  // namespace flops
