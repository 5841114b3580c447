#pragma once
// Where answers come from: a local GGUF model, an OpenAI-compatible endpoint, or a file of
// recorded answers. Each backend answers batches of two kinds of request, as the harness's
// model interface does: the log-likelihood of a continuation after a context, and a greedy
// generation after a context until a stop string or a token budget.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness/instances.h"

namespace flops {
struct Model;
}

namespace flops::harness {

struct LLRequest {
  const Instance* inst = nullptr;
  int k = 0;  // which continuation of the instance
  std::string context, continuation;
};

struct LLResult {
  double logprob = 0;
  bool is_greedy = false;
  int64_t prompt_tokens = 0;   // tokens the model read for this request
  bool truncated = false;      // the context was cut on the left to fit the window
  double flops = -1;           // reported by the backend for this request (-1: not known)
  double joules = -1;
};

struct GenRequest {
  const Instance* inst = nullptr;
  std::string context;
  std::vector<std::string> until;
  int max_gen_toks = 256;
};

struct GenResult {
  std::string text;            // cut at the first stop string
  int64_t prompt_tokens = 0, gen_tokens = 0;
  bool truncated = false;
  double flops = -1, joules = -1;
};

struct Backend {
  virtual ~Backend() = default;
  virtual std::string describe() const = 0;  // "model flops-a.gguf", "endpoint http://... model m"
  // Identifies the answers for --cache ("" = answers are not cached, e.g. replayed ones).
  virtual std::string cache_id() const = 0;
  // true when FLOPs and energy are spent in this process (and counted by the global counter).
  virtual bool local_compute() const = 0;
  virtual std::vector<LLResult> loglikelihood(const std::vector<LLRequest>& reqs) = 0;
  virtual std::vector<GenResult> generate(const std::vector<GenRequest>& reqs) = 0;
  // What the backend noticed on the way (replay: records and prompts compared); null for none.
  virtual nlohmann::json notes() const { return nullptr; }
};

struct LocalOptions {
  int n_ctx = 0;  // window (0 = the model's trained context)
};
std::unique_ptr<Backend> make_local_backend(const Model& m, const std::string& path, const LocalOptions& o);

struct ApiOptions {
  std::string base;     // http://host:port[/v1]
  std::string model;
  std::string api_key;
  bool chat = true;     // generation through /v1/chat/completions (else /v1/completions)
  int timeout_s = 300;
  uint64_t seed = 1234;
};
std::unique_ptr<Backend> make_api_backend(const ApiOptions& o);

struct ReplayOptions {
  std::string path;
  std::string key;  // a template or field giving each record's doc id ("" = doc_id, else the task's doc_id)
};
// Replay needs to know the task for the default key; one backend per task.
std::unique_ptr<Backend> make_replay_backend(const ReplayOptions& o, const TaskConfig& task);

// The harness's split of a request into context and continuation: trailing spaces of the
// context move to the start of the continuation, so a word and its leading space stay one token.
void move_trailing_space(std::string& context, std::string& continuation);

// `text` cut before the first occurrence of any stop string; `stopped` says whether one was found.
std::string cut_at_stop(const std::string& text, const std::vector<std::string>& until, bool* stopped = nullptr);

}  // namespace flops::harness
