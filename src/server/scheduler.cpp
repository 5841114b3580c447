#include "server/scheduler.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "core/log.h"
#include "cost/receipt.h"
#include "model/json_constraint.h"
#include "model/kv_cache.h"
#include "model/sampling.h"
#include "model/forward.h"
#include "model/lora_adapter.h"
#include "server/stop_text.h"

namespace flops::server {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

double rapl_joules() {
  cost::EnergyReading r;
  cost::read_rapl(r);
  double j = 0;
  for (double x : r.rapl_j) j += x;
  return j;
}

// Log-probability of `token` under one row of logits and the k most likely tokens.
TokenInfo token_info(const float* l, int n_vocab, int32_t token, int k) {
  TokenInfo t;
  t.id = token;
  double mx = -INFINITY;
  for (int i = 0; i < n_vocab; i++) mx = std::max(mx, (double)l[i]);
  double sum = 0;
  for (int i = 0; i < n_vocab; i++) sum += std::exp((double)l[i] - mx);
  const double lse = mx + std::log(sum);
  t.logprob = (double)l[token] - lse;
  if (k > 0)
    for (int32_t i : top_k_indices(l, n_vocab, (size_t)k)) t.top.emplace_back(i, (double)l[i] - lse);
  return t;
}

}  // namespace

bool Job::wait_output(size_t seen_text, size_t seen_tokens, double timeout_s) {
  std::unique_lock<std::mutex> lk(mu);
  return cv.wait_for(lk, std::chrono::duration<double>(timeout_s),
                     [&] { return done || text.size() > seen_text || tokens.size() > seen_tokens; });
}

struct SlotState {
  int id = 0;
  KVCache kv;
  std::vector<int32_t> cached;   // the tokens whose keys and values are in kv
  std::shared_ptr<const LoraSet> cached_lora;  // the adapter those keys and values were computed with
  std::shared_ptr<Job> job;
  std::optional<Sampler> sampler;
  std::vector<int32_t> pending;  // tokens to feed next step
  bool in_prompt = false;
  std::vector<int32_t> history;  // prompt + generated, for the repetition penalty
  std::unordered_map<int32_t, int> counts;  // generated tokens, for presence/frequency penalties
  StopText st;
  std::optional<JsonConstraint> jc;
  int generated = 0;
  std::vector<float> work;       // logits being sampled from
};

Scheduler::Scheduler(const Model& m, const SchedulerOptions& o, std::mutex& engine_mu)
    : m_(m), o_(o), engine_mu_(engine_mu) {
  for (int i = 0; i < o.n_slots; i++) {
    auto s = std::make_unique<SlotState>();
    s->id = i;
    s->kv = make_kv_cache(m, o.n_ctx);
    slots_.push_back(std::move(s));
  }
  rapl_ = rapl_joules() > 0;
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { stop(); }

bool Scheduler::submit(const std::shared_ptr<Job>& job) {
  std::lock_guard<std::mutex> lk(mu_);
  if (stop_ || (int)queue_.size() >= o_.max_queue) return false;
  job->t_submit = steady_seconds();
  job->prompt_tokens = (int)job->p.prompt.size();
  queue_.push_back(job);
  cv_.notify_all();
  return true;
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& j : queue_) {
    std::lock_guard<std::mutex> jl(j->mu);
    j->done = true;
    j->finish_reason = "cancelled";
    j->error = "the server is shutting down";
    j->cv.notify_all();
  }
  queue_.clear();
  for (auto& s : slots_)
    if (s->job) finish(*s, "cancelled", "the server is shutting down");
}

int Scheduler::queued() const {
  std::lock_guard<std::mutex> lk(mu_);
  return (int)queue_.size();
}

int Scheduler::active() const { return n_active_.load(); }

double Scheduler::decode_rate() const {
  std::lock_guard<std::mutex> lk(mu_);
  double now = steady_seconds();
  int n = 0;
  double first = now;
  for (auto& [t, k] : recent_)
    if (t > now - 10) {
      n += k;
      first = std::min(first, t);
    }
  double span = std::max(now - first, 1.0);
  return n / span;
}

void Scheduler::finish(SlotState& s, const std::string& reason, const std::string& error) {
  auto job = s.job;
  if (!job) return;
  std::string rest = s.st.flush();
  const int generated = s.generated;
  // The slot is free before the client hears it is done, so that whoever waited on the job
  // sees the scheduler idle (and a new request finds the slot).
  s.job.reset();
  s.jc.reset();
  s.pending.clear();
  n_active_--;
  std::lock_guard<std::mutex> lk(job->mu);
  job->text += rest;
  job->done = true;
  job->finish_reason = reason;
  job->error = error;
  job->completion_tokens = generated;
  job->t_end = steady_seconds();
  job->cv.notify_all();
}

// Waiting jobs take free slots: the slot whose cached tokens share the longest prefix with the
// prompt (its cache is then kept up to there), else the emptiest one; when another slot, busy or
// not, holds a longer prefix, the chosen slot copies it from there.
void Scheduler::admit() {
  std::lock_guard<std::mutex> lk(mu_);
  while (!queue_.empty()) {
    auto job = queue_.front();
    if (job->cancel) {
      queue_.pop_front();
      std::lock_guard<std::mutex> jl(job->mu);
      job->done = true;
      job->finish_reason = "cancelled";
      job->t_end = steady_seconds();
      job->cv.notify_all();
      continue;
    }
    const auto& p = job->p.prompt;
    auto common_prefix = [&](const SlotState& s) {
      size_t lcp = 0;
      // A cache computed with another adapter holds other keys and values: nothing to reuse.
      while (s.cached_lora == job->p.lora && lcp < s.cached.size() && lcp < p.size() && s.cached[lcp] == p[lcp]) lcp++;
      return lcp;
    };
    int best = -1, donor = -1;
    size_t best_lcp = 0, donor_lcp = 0;
    for (auto& s : slots_) {
      const size_t lcp = common_prefix(*s);
      if (!s->job && (best < 0 || lcp > best_lcp || (lcp == best_lcp && s->cached.size() < slots_[best]->cached.size()))) {
        best = s->id;
        best_lcp = lcp;
      }
      if (lcp > donor_lcp) donor = s->id, donor_lcp = lcp;
    }
    if (best < 0) return;
    queue_.pop_front();
    SlotState& s = *slots_[best];
    // At least one prompt token is fed, for the logits of the first new token; scoring the
    // prompt needs the logits of all of it.
    size_t keep = job->p.score_prompt ? 0 : std::min(best_lcp, p.size() - 1);
    // Another slot (busy or not) holds more of the prompt: its keys and values are copied, which
    // costs a memcpy where computing them costs a forward pass over the tokens (clients that
    // share a system prompt, or the same prompt sent n times).
    const size_t donor_keep =
        job->p.score_prompt || donor < 0 ? 0 : std::min({donor_lcp, p.size() - 1, (size_t)slots_[donor]->kv.n});
    if (donor >= 0 && donor != best && donor_keep > keep) {
      s.kv.copy_prefix(slots_[donor]->kv, (int)donor_keep);
      s.cached.assign(p.begin(), p.begin() + donor_keep);
      keep = donor_keep;
    }
    s.kv.truncate((int)keep);
    s.cached.resize(keep);
    s.cached_lora = job->p.lora;
    s.job = job;
    s.pending.assign(p.begin() + keep, p.end());
    s.in_prompt = true;
    s.history = p;
    s.counts.clear();
    s.generated = 0;
    s.st = StopText{};
    s.st.stops = job->p.stop;
    s.sampler.emplace(job->p.sp);
    s.jc.reset();
    if (job->p.grammar) {
      static std::once_flag once;
      static std::unique_ptr<TokenTrie> trie;
      std::call_once(once, [&] { trie = std::make_unique<TokenTrie>(build_token_trie(m_.tok)); });
      s.jc.emplace();
      s.jc->grammar = job->p.grammar.get();
      s.jc->trie = trie.get();
      s.jc->tok = &m_.tok;
    }
    {
      std::lock_guard<std::mutex> jl(job->mu);
      job->cached_tokens = (int)keep;
    }
    n_active_++;
  }
}

void Scheduler::loop() {
  std::vector<int> active;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] {
        if (stop_) return true;
        if (!queue_.empty()) {
          for (auto& s : slots_)
            if (!s->job) return true;
        }
        return n_active_.load() > 0;
      });
      if (stop_) return;
    }
    admit();
    // Jobs that were cancelled or ran out of time leave before the step.
    double now = steady_seconds();
    active.clear();
    for (auto& s : slots_) {
      if (!s->job) continue;
      if (s->job->cancel) finish(*s, "cancelled");
      else if (now - s->job->t_submit > s->job->p.timeout_s) finish(*s, "timeout", "the request timed out");
      else active.push_back(s->id);
    }
    if (active.empty()) continue;
    try {
      step(active);
    } catch (const std::exception& e) {
      log::error("server: step failed: {}", e.what());
      for (int i : active) finish(*slots_[i], "error", e.what());
    }
    steps_++;
  }
}

void Scheduler::step(std::vector<int>& active) {
  const int V = m_.cfg.n_vocab;
  // Sequences with the same adapter side by side: forward_multi adds each adapter's low-rank
  // products once over its run of rows.
  std::stable_sort(active.begin(), active.end(),
                   [&](int x, int y) { return slots_[x]->job->p.lora.get() < slots_[y]->job->p.lora.get(); });
  int adapters = active.empty() ? 0 : 1;
  for (size_t a = 1; a < active.size(); a++)
    adapters += slots_[active[a]]->job->p.lora != slots_[active[a - 1]]->job->p.lora;
  if (adapters > max_adapters_) max_adapters_ = adapters;
  std::vector<SeqInput> seqs;
  std::vector<int> fed(active.size());
  for (size_t a = 0; a < active.size(); a++) {
    SlotState& s = *slots_[active[a]];
    int n = s.in_prompt ? std::min((int)s.pending.size(), o_.prompt_chunk) : (int)s.pending.size();
    fed[a] = n;
    SeqInput in;
    in.kv = &s.kv;
    in.tokens.assign(s.pending.begin(), s.pending.begin() + n);
    in.all_logits = s.in_prompt && s.job->p.score_prompt;
    in.lora = s.job->p.lora.get();
    seqs.push_back(std::move(in));
  }
  // Each sequence's share of the step: matrix products by tokens, attention by keys read.
  std::vector<double> weight(active.size());
  double total_w = 0;
  const double per_token = 2.0 * (double)m_.n_params();
  const double per_key = 4.0 * m_.cfg.n_layer * m_.cfg.n_head * m_.cfg.head_dim();
  for (size_t a = 0; a < active.size(); a++) {
    double keys = 0;
    for (int t = 0; t < fed[a]; t++) keys += slots_[active[a]]->kv.n + t + 1;
    const LoraSet* lora = slots_[active[a]]->job->p.lora.get();
    weight[a] = fed[a] * (per_token + (lora ? lora->flops_per_token() : 0.0)) + keys * per_key;
    total_w += weight[a];
  }
  std::vector<std::vector<float>> logits;
  counter::Totals spent;
  double cpu0, cpu1, j0 = 0, j1 = 0;
  {
    std::lock_guard<std::mutex> lk(engine_mu_);
    if (rapl_) j0 = rapl_joules();
    cpu0 = cpu_seconds();
    counter::Scope scope;
    forward_multi(m_, seqs, logits);
    spent = scope.elapsed();
    cpu1 = cpu_seconds();
    if (rapl_) j1 = rapl_joules();
  }
  int sampled_now = 0;
  for (size_t a = 0; a < active.size(); a++) {
    SlotState& s = *slots_[active[a]];
    Job& job = *s.job;
    const double share = total_w > 0 ? weight[a] / total_w : 0;
    {
      std::lock_guard<std::mutex> lk(job.mu);
      job.cost.flops.matmul += (uint64_t)std::llround(spent.matmul * share);
      job.cost.flops.attention += (uint64_t)std::llround(spent.attention * share);
      job.cost.flops.other += (uint64_t)std::llround(spent.other * share);
      job.cost.cpu_s += (cpu1 - cpu0) * share;
      job.cost.rapl = rapl_;
      if (rapl_) job.cost.rapl_j += std::max(0.0, j1 - j0) * share;
    }
    const int n = fed[a];
    if (s.in_prompt && job.p.score_prompt) {
      // Row r predicts the token after position cached + r.
      std::vector<TokenInfo> scores;
      for (int r = 0; r < n; r++) {
        size_t target = s.cached.size() + r + 1;
        if (target >= job.p.prompt.size()) break;
        TokenInfo t = token_info(logits[a].data() + (size_t)r * V, V, job.p.prompt[target], job.p.logprobs);
        t.piece = m_.tok.token_to_piece(t.id);
        scores.push_back(std::move(t));
      }
      std::lock_guard<std::mutex> lk(job.mu);
      job.prompt_scores.insert(job.prompt_scores.end(), scores.begin(), scores.end());
    }
    s.cached.insert(s.cached.end(), s.pending.begin(), s.pending.begin() + n);
    s.pending.erase(s.pending.begin(), s.pending.begin() + n);
    if (s.in_prompt && !s.pending.empty()) continue;  // more of the prompt next step
    s.in_prompt = false;
    if (s.generated >= job.p.max_tokens) {  // max_tokens 0: the prompt was only scored
      finish(s, "length");
      continue;
    }
    const float* row = logits[a].data() + (seqs[a].all_logits ? (size_t)(n - 1) * V : 0);
    // A copy of the logits only when penalties or the JSON constraint change them.
    const bool penalties = job.p.presence_penalty != 0 || job.p.frequency_penalty != 0;
    const float* pick_from = row;
    if (penalties || s.jc) {
      s.work.assign(row, row + V);
      pick_from = s.work.data();
    }
    if (penalties)
      for (auto& [t, c] : s.counts) s.work[t] -= job.p.presence_penalty + job.p.frequency_penalty * c;
    int budget = job.p.max_tokens - s.generated;
    if (s.jc && !s.jc->mask(s.work.data(), std::min(budget, s.kv.n_ctx - s.kv.n))) {
      finish(s, "length");
      continue;
    }
    int32_t tok = s.sampler->sample(pick_from, V, s.history);
    sampled_now++;
    if (job.t_first == 0) job.t_first = steady_seconds();
    if (m_.tok.is_eog(tok) && !job.p.ignore_eos && !(s.jc && !s.jc->can_end())) {
      finish(s, "stop");
      continue;
    }
    TokenInfo info;
    if (job.p.logprobs >= 0) info = token_info(row, V, tok, job.p.logprobs);
    info.id = tok;
    info.piece = m_.tok.token_to_piece(tok);
    s.generated++;
    s.history.push_back(tok);
    s.counts[tok]++;
    if (s.jc) s.jc->accept(tok);
    std::string shown = s.st.add(info.piece);
    {
      std::lock_guard<std::mutex> lk(job.mu);
      job.text += shown;
      job.tokens.push_back(std::move(info));
      job.completion_tokens = s.generated;
      job.cv.notify_all();
    }
    if (s.st.stopped || (s.jc && s.jc->must_end())) finish(s, "stop");
    else if (s.generated >= job.p.max_tokens || s.kv.n >= s.kv.n_ctx) finish(s, "length");
    else s.pending = {tok};
  }
  std::lock_guard<std::mutex> lk(mu_);
  double now = steady_seconds();
  recent_.emplace_back(now, sampled_now);
  while (!recent_.empty() && recent_.front().first < now - 10) recent_.pop_front();
}

}  // namespace flops::server
