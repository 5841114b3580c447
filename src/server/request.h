#pragma once
// OpenAI request bodies parsed and validated into what the scheduler runs. Every problem is a
// 400 naming the field: wrong type, value out of range, unknown field, missing field.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/json_constraint.h"
#include "model/lora_adapter.h"
#include "model/model.h"
#include "model/sampling.h"

namespace flops::server {

struct Limits {
  int n_ctx = 256;          // per slot
  int max_tokens = 4096;    // the most a request may ask for
  int max_n = 8;            // choices per request
  double timeout_s = 600;   // per request, from submission
};

// What one sequence (one choice) needs: the scheduler's input.
struct GenParams {
  std::vector<int32_t> prompt;
  int max_tokens = 16;
  SamplingParams sp;
  float presence_penalty = 0, frequency_penalty = 0;
  std::vector<std::string> stop;
  int logprobs = -1;             // -1: none; else the alternatives to report per token (0..20)
  bool score_prompt = false;     // completions echo + logprobs: log-probabilities of the prompt tokens
  std::shared_ptr<const JsonGrammar> grammar;  // response_format json_object / json_schema
  double timeout_s = 600;
  bool ignore_eos = false;       // llama.cpp's extension: generate max_tokens whatever comes
  std::shared_ptr<const LoraSet> lora;  // the request's adapter (null: the base); see lora_registry.h
};

struct CompletionRequest {
  std::string model;
  std::string lora;  // the "lora" field: an adapter name
  std::vector<std::vector<int32_t>> prompts;  // one per prompt given (a list of prompts is allowed)
  std::vector<std::string> prompt_texts;
  GenParams params;                           // shared by all prompts; seeds differ per choice
  int n = 1;
  bool stream = false, echo = false, include_usage = true;
};

struct ChatRequest {
  std::string model;
  std::string lora;
  nlohmann::json messages;
  GenParams params;
  int n = 1;
  bool stream = false, include_usage = true;
  bool logprobs = false;
};

// `tokenize(text)` gives the prompt's tokens (completions: with BOS as the model wants).
CompletionRequest parse_completion(const nlohmann::json& body, const Model& m, const Limits& lim,
                                   const TokenTrie* trie);
// The rendered chat prompt is produced by the caller (chat template); this validates the rest.
ChatRequest parse_chat(const nlohmann::json& body, const Model& m, const Limits& lim);
// response_format: nullptr for text; else the grammar. Throws ApiError naming the field.
std::shared_ptr<const JsonGrammar> parse_response_format(const nlohmann::json& body);
// Checks a prompt against the context and sets max_tokens (default: what the context leaves).
void fit_to_context(GenParams& p, const Limits& lim, bool max_tokens_given, const std::string& field);

// The body's JSON, or a 400 saying why it does not parse.
nlohmann::json parse_body(const std::string& body);

// Typed access to fields that records which were read, so that the rest can be rejected.
struct Fields {
  const nlohmann::json& j;
  std::vector<std::string> known;
  explicit Fields(const nlohmann::json& body);
  bool has(const std::string& k);  // present and not null
  std::optional<double> number(const std::string& k, double lo, double hi);
  std::optional<int64_t> integer(const std::string& k, int64_t lo, int64_t hi);
  std::optional<bool> boolean(const std::string& k);
  std::optional<std::string> string(const std::string& k);
  const nlohmann::json* any(const std::string& k);  // accepted, checked by the caller
  void ignore(const std::vector<std::string>& ks);  // accepted without effect
  void reject_unknown() const;
};

}  // namespace flops::server
