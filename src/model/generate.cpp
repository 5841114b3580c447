#include "model/generate.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace flops {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Length: return "length";
    case StopReason::EndOfTurn: return "end_of_turn";
    case StopReason::StopString: return "stop_string";
    case StopReason::ContextFull: return "context_full";
    case StopReason::Cancelled: return "cancelled";
  }
  return "?";
}

Session make_session(const Model& m, int n_ctx) {
  Session s;
  s.kv = make_kv_cache(m, n_ctx);
  return s;
}

namespace {

// Bytes at the end of s that start a UTF-8 character not yet complete.
size_t incomplete_utf8_tail(const std::string& s) {
  size_t n = s.size();
  for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
    uint8_t c = (uint8_t)s[n - back];
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return need > back ? back : 0;
  }
  return 0;
}

// Length of the longest suffix of s that is a proper prefix of one of the stop strings: text
// that may still become a stop string and so cannot be shown yet.
size_t pending_stop_prefix(const std::string& s, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const auto& st : stops)
    for (size_t k = std::min(st.size() - 1, s.size()); k > best; --k)
      if (s.compare(s.size() - k, k, st, 0, k) == 0) {
        best = k;
        break;
      }
  return best;
}

}  // namespace

GenerateResult generate_tokens(const Model& m, Session& s, const std::vector<int32_t>& prompt, int n_predict,
                               const SamplingParams& sp, const StopConditions& stops,
                               const std::function<bool(const std::string&)>& on_token) {
  using clock = std::chrono::steady_clock;
  GenerateResult r;
  r.prompt_tokens = prompt;
  if (prompt.empty()) fail("the prompt is empty and the model adds no BOS token: nothing to condition on");
  if (n_predict < 0) fail("--n-predict must be >= 0, got {}", n_predict);
  if ((int)prompt.size() >= s.kv.n_ctx)
    fail("context too long: the prompt has {} tokens, the context size is {}", prompt.size(), s.kv.n_ctx);
  for (const auto& st : stops.strings)
    if (st.empty()) fail("a stop string cannot be empty");
  // Reuse the cached prefix; the last prompt token is always recomputed for its logits.
  size_t keep = 0;
  while (keep < s.tokens.size() && keep + 1 < prompt.size() && s.tokens[keep] == prompt[keep]) ++keep;
  s.kv.truncate((int)keep);
  s.tokens.resize(keep);
  r.reused_tokens = (int)keep;

  Sampler sampler(sp);
  std::vector<float> logits;
  auto t0 = clock::now();
  std::vector<int32_t> fresh(prompt.begin() + (long)keep, prompt.end());
  forward(m, s.kv, make_batch(fresh, false), logits);
  s.tokens = prompt;
  auto t1 = clock::now();
  r.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

  std::vector<int32_t> history = prompt;  // for the repetition penalty
  std::string text;                        // generated text so far (pieces concatenated)
  size_t emitted = 0;
  auto emit_until = [&](size_t end) {
    if (end <= emitted) return true;
    bool go = !on_token || on_token(text.substr(emitted, end - emitted));
    emitted = end;
    return go;
  };
  bool decided = false;
  for (int i = 0; i < n_predict; ++i) {
    int32_t tok = sampler.sample(logits.data(), m.cfg.n_vocab, history);
    if (stops.at_end_of_turn && m.tok.is_eog(tok)) {
      r.stop = StopReason::EndOfTurn;
      r.stop_token = tok;
      decided = true;
      break;
    }
    r.tokens.push_back(tok);
    history.push_back(tok);
    text += m.tok.token_to_piece(tok);
    size_t hit = std::string::npos;
    for (const auto& st : stops.strings) {
      size_t at = text.find(st, emitted > st.size() ? emitted - st.size() : 0);
      if (at != std::string::npos && at < hit) {
        hit = at;
        r.stop_string = st;
      }
    }
    if (hit != std::string::npos) {
      text.resize(hit);
      emit_until(hit);
      r.stop = StopReason::StopString;
      decided = true;
      break;
    }
    size_t hold = std::max(incomplete_utf8_tail(text), pending_stop_prefix(text, stops.strings));
    if (!emit_until(text.size() - hold)) {
      r.stop = StopReason::Cancelled;
      decided = true;
      break;
    }
    if (i + 1 == n_predict) break;
    if (s.kv.n >= s.kv.n_ctx) {
      r.stop = StopReason::ContextFull;
      decided = true;
      break;
    }
    forward(m, s.kv, make_batch({tok}, false), logits);
    s.tokens.push_back(tok);
  }
  if (!decided) r.stop = StopReason::Length;
  if (r.stop != StopReason::Cancelled && r.stop != StopReason::StopString) emit_until(text.size());
  r.stopped_at_eos = r.stop == StopReason::EndOfTurn;
  r.text = std::move(text);
  r.gen_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return r;
}

GenerateResult generate(const Model& m, const std::string& prompt, int n_predict, int n_ctx, const SamplingParams& sp,
                        bool add_bos, const std::function<bool(const std::string&)>& on_token,
                        const StopConditions& stops, bool parse_special) {
  std::vector<int32_t> ids = m.tok.encode(prompt, add_bos, parse_special);
  if (ids.empty()) fail("the prompt is empty and the model adds no BOS token: nothing to condition on");
  if (n_predict < 0) fail("--n-predict must be >= 0, got {}", n_predict);
  if ((int)ids.size() >= n_ctx) fail("context too long: the prompt has {} tokens, the context size is {}", ids.size(), n_ctx);
  Session s = make_session(m, std::min((int)ids.size() + std::max(n_predict, 1), n_ctx));
  return generate_tokens(m, s, ids, n_predict, sp, stops, on_token);
}

}  // namespace flops
