#pragma once
// What `flops eval` prints and writes: the per-task table (metric, standard error, N, tokens,
// FLOPs, seconds, joules, and each of those per question), the results JSON (the harness's
// "results" layout, "acc,none" / "acc_stderr,none", plus a "cost" object per task), and the
// per-sample JSON lines of --log-samples.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/runner.h"

namespace flops::harness {

nlohmann::json results_json(const std::vector<TaskResult>& tasks, const std::vector<GroupResult>& groups,
                            const nlohmann::json& config);

std::string results_table(const std::vector<TaskResult>& tasks, const std::vector<GroupResult>& groups);

std::string samples_jsonl(const std::vector<TaskResult>& tasks);

}  // namespace flops::harness
