#pragma once
// Text generation: prompt processing in one batch, then one token at a time, until a stop:
//   Length       n_predict tokens were generated
//   EndOfTurn    the model produced an end-of-generation token (EOS, EOT, <|im_end|>...: see
//                Tokenizer::is_eog); the token is not part of the text
//   StopString   the text reached one of the stop strings (a chat template's end-of-turn marker
//                written as plain text); the text ends before it
//   ContextFull  the context window is full
//   Cancelled    the caller's on_token returned false
#include <functional>
#include <string>
#include <vector>

#include "model/forward.h"
#include "model/sampling.h"

namespace flops {

enum class StopReason { Length, EndOfTurn, StopString, ContextFull, Cancelled };
// "length", "end_of_turn", "stop_string", "context_full", "cancelled"
const char* stop_reason_name(StopReason r);

struct GenerateResult {
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> tokens;  // generated (an end-of-turn token is not included)
  std::string text;             // decoded generated text, cut before a stop string
  double prompt_seconds = 0, gen_seconds = 0;
  StopReason stop = StopReason::Length;
  std::string stop_string;  // StopString: which one
  int32_t stop_token = -1;  // EndOfTurn: which token
  int reused_tokens = 0;    // prompt tokens whose keys and values were already in the session's cache
  bool stopped_at_eos = false;  // stop == EndOfTurn
};

struct StopConditions {
  bool at_end_of_turn = true;        // stop at the tokenizer's end-of-generation tokens
  std::vector<std::string> strings;  // stop when the generated text contains one of these
};

// A KV cache and the tokens whose keys and values it holds (kv.n == tokens.size()), kept across
// calls so that a conversation only computes what is new.
struct Session {
  KVCache kv;
  std::vector<int32_t> tokens;
};
Session make_session(const Model& m, int n_ctx);

// Generates after `prompt`, the whole context as tokens. The prefix it shares with
// session.tokens is reused (the cache is truncated where they differ); the prompt must leave room
// in the cache. on_token(piece) receives the text as it becomes final (whole UTF-8 characters,
// nothing that could still turn out to start a stop string); return false to stop.
GenerateResult generate_tokens(const Model& m, Session& session, const std::vector<int32_t>& prompt, int n_predict,
                               const SamplingParams& sp, const StopConditions& stops = {},
                               const std::function<bool(const std::string&)>& on_token = {});

// The prompt as text: tokenized with add_bos and parse_special, then generate_tokens in a fresh
// session of min(prompt + n_predict, n_ctx) slots.
GenerateResult generate(const Model& m, const std::string& prompt, int n_predict, int n_ctx, const SamplingParams& sp,
                        bool add_bos, const std::function<bool(const std::string&)>& on_token = {},
                        const StopConditions& stops = {}, bool parse_special = false);

}  // namespace flops
