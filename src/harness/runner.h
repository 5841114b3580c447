#pragma once
// Runs a prepared task on a backend: every request once (from --cache when it was answered
// before), in batches, with a progress bar; then the per-document scores, the task's metrics
// with their standard errors, and what the run cost (tokens, FLOPs counted, seconds, joules).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/backend.h"
#include "harness/cache.h"
#include "harness/instances.h"

namespace flops::harness {

struct RunOptions {
  int batch_size = 1;          // requests per backend call
  bool progress = true;
  int bootstrap_iters = 100000;  // the harness's default
  bool keep_samples = false;   // fill TaskResult::samples (for --log-samples)
};

struct MetricValue {
  std::string metric;   // acc, acc_norm, exact_match, f1, perplexity, acc_weighted, ...
  std::string filter = "none";
  double value = 0;
  std::optional<double> stderr_;
  bool higher_is_better = true;
};

struct TaskResult {
  std::string name, alias, output_type, split, backend;
  size_t n = 0, n_docs = 0;
  int num_fewshot = 0;
  std::vector<MetricValue> metrics;
  // Cost of this run of the task (cached answers cost nothing now).
  int64_t requests = 0, cached = 0, truncated = 0;
  int64_t prompt_tokens = 0, gen_tokens = 0;
  double flops = -1;    // counted (local) or reported by the endpoint; -1 unknown
  double seconds = 0;
  double joules = -1;   // local: from the receipt (measured or modeled); -1 unknown
  std::string energy_method;
  nlohmann::json notes;
  double chance = -1;  // multiple_choice: mean of 1 / choices (what guessing scores)
  std::vector<nlohmann::json> samples;
};

TaskResult run_task(const PreparedTask& p, Backend& b, RequestCache* cache, const RunOptions& o);

struct GroupResult {
  std::string name, alias;
  std::vector<std::string> tasks;
  std::vector<MetricValue> metrics;
  size_t n = 0;
  int64_t prompt_tokens = 0, gen_tokens = 0;
  double flops = 0, seconds = 0, joules = 0;
  bool flops_known = true, joules_known = true;
};

// The group's metrics from its tasks' (which must all have run), as the harness aggregates.
GroupResult aggregate_group(const GroupConfig& g, const std::vector<const TaskResult*>& tasks);

const MetricValue* find_metric(const std::vector<MetricValue>& ms, const std::string& metric, const std::string& filter);

}  // namespace flops::harness
