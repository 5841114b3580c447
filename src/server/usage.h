#pragma once
// The `usage` object of every answer: OpenAI's token counts plus what the work cost, from the
// engine's FLOP counter (each job's share of the batched steps it took part in), wall time,
// energy (RAPL when readable, else modeled from CPU time, and saying which) and CO2e.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cost/receipt.h"
#include "server/scheduler.h"

namespace flops::server {

struct UsageContext {
  double peak_flops = 0;  // this machine's sgemm peak, resolved at start-up
  std::string peak_source;
  std::string carbon = "us";
  int threads = 1;
};

// The receipt of a set of jobs (the choices of one request), over `wall_s` seconds.
cost::Receipt jobs_receipt(const std::vector<std::shared_ptr<Job>>& jobs, double wall_s, const UsageContext& u,
                           const std::string& label);
// The receipt of work measured directly (detect, score, embeddings): counter and CPU deltas.
cost::Receipt measured_receipt(const counter::Totals& flops, double cpu_s, double wall_s, double rapl_j, bool rapl,
                               const UsageContext& u, const std::string& label);

// {"prompt_tokens", "completion_tokens", "total_tokens", "flops", "seconds", "joules", "co2e_g",
//  "energy_source", "receipt": {...}}
nlohmann::json usage_json(int prompt_tokens, int completion_tokens, int cached_tokens, const cost::Receipt& r);

}  // namespace flops::server
