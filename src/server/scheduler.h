#pragma once
// Continuous batching. The scheduler owns -np slots, each with its own KV cache, positions,
// sampler and JSON constraint. One thread runs steps: between steps, waiting jobs take free
// slots (the slot whose cache shares the longest prefix with the prompt, which is then reused, or
// copied from a busy slot that holds more of it)
// and finished or cancelled jobs leave; each step is one forward_multi over every active slot's
// new tokens (a prompt chunk, or the token sampled last step).
//
// A job is one sequence (one choice of a request). The HTTP side submits it and reads its
// output as it grows (Job::wait_output); it cancels by setting Job::cancel (a client that went
// away), which frees the slot at the next step.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/flop_counter.h"
#include "model/model.h"
#include "server/request.h"

namespace flops::server {

struct TokenInfo {
  int32_t id = 0;
  std::string piece;  // bytes this token adds
  double logprob = 0;
  std::vector<std::pair<int32_t, double>> top;  // the most likely alternatives, best first
};

// What the engine spent on one job: its share of every step it took part in.
struct JobCost {
  counter::Totals flops;
  double cpu_s = 0;
  double rapl_j = 0;  // when RAPL is readable
  bool rapl = false;
};

struct Job {
  GenParams p;
  std::atomic<bool> cancel{false};

  // Output, guarded by mu; the scheduler appends, the HTTP side reads.
  std::mutex mu;
  std::condition_variable cv;
  std::string text;                    // shown text so far (stop strings cut)
  std::vector<TokenInfo> tokens;       // generated tokens (with logprobs when asked)
  std::vector<TokenInfo> prompt_scores;  // score_prompt: prompt tokens 1.. with their log-probabilities
  bool done = false;
  std::string finish_reason;           // stop, length, cancelled, timeout, error
  std::string error;
  int prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
  JobCost cost;
  double t_submit = 0, t_first = 0, t_end = 0;  // steady seconds

  // Waits until the output grows past `seen_text` bytes / `seen_tokens` tokens or the job ends,
  // at most `timeout_s`. Returns true if something is new.
  bool wait_output(size_t seen_text, size_t seen_tokens, double timeout_s);
};

struct SchedulerOptions {
  int n_slots = 4;
  int n_ctx = 256;
  int max_queue = 64;        // waiting jobs beyond this are refused (503)
  int prompt_chunk = 256;    // prompt tokens a slot feeds per step, so decoding slots keep pace
};

struct SlotState;

class Scheduler {
 public:
  // engine_mu is held during every step: other users of the model (detection, embeddings) take
  // it too, so that the FLOP counter's deltas belong to one piece of work.
  Scheduler(const Model& m, const SchedulerOptions& o, std::mutex& engine_mu);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // False when the queue is full.
  bool submit(const std::shared_ptr<Job>& job);
  void stop();  // finishes every job as cancelled and ends the thread

  int queued() const;
  int active() const;
  bool idle() const { return queued() == 0 && active() == 0; }
  // Generated tokens per second over the last ~10 s.
  double decode_rate() const;
  uint64_t steps() const { return steps_; }
  // The most distinct adapters (the base counts as one) any step has run side by side.
  int max_adapters_per_step() const { return max_adapters_; }

 private:
  void loop();
  void step(std::vector<int>& active_slots);
  void admit();
  void finish(SlotState& s, const std::string& reason, const std::string& error = "");

  const Model& m_;
  SchedulerOptions o_;
  std::mutex& engine_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::unique_ptr<SlotState>> slots_;
  std::atomic<int> n_active_{0};
  std::atomic<uint64_t> steps_{0};
  std::atomic<int> max_adapters_{0};
  bool stop_ = false;
  bool rapl_ = false;
  std::deque<std::pair<double, int>> recent_;  // (time, tokens generated in that step), under mu_
  std::thread thread_;
};

double steady_seconds();

}  // namespace flops::server
