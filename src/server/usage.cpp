#include "server/usage.h"

namespace flops::server {

cost::Receipt measured_receipt(const counter::Totals& flops, double cpu_s, double wall_s, double rapl_j, bool rapl,
                               const UsageContext& u, const std::string& label) {
  cost::MeterReading a, b;
  b.flops = flops;
  b.cpu_s = cpu_s;
  b.wall_s = wall_s;
  if (rapl) {
    a.energy.rapl_j = {0.0};
    a.energy.rapl_range_j = {0.0};
    b.energy.rapl_j = {rapl_j};
    b.energy.rapl_range_j = {0.0};
  }
  cost::ReceiptOptions o;
  o.label = label;
  o.carbon = u.carbon;
  o.peak_flops = u.peak_flops;
  o.peak_source = u.peak_source;
  o.threads = u.threads;
  return cost::make_receipt(a, b, o);
}

cost::Receipt jobs_receipt(const std::vector<std::shared_ptr<Job>>& jobs, double wall_s, const UsageContext& u,
                           const std::string& label) {
  counter::Totals f;
  double cpu = 0, j = 0;
  bool rapl = false;
  for (auto& job : jobs) {
    std::lock_guard<std::mutex> lk(job->mu);
    f.matmul += job->cost.flops.matmul;
    f.attention += job->cost.flops.attention;
    f.other += job->cost.flops.other;
    cpu += job->cost.cpu_s;
    j += job->cost.rapl_j;
    rapl |= job->cost.rapl;
  }
  return measured_receipt(f, cpu, wall_s, j, rapl, u, label);
}

nlohmann::json usage_json(int prompt_tokens, int completion_tokens, int cached_tokens, const cost::Receipt& r) {
  return {
      {"prompt_tokens", prompt_tokens},
      {"completion_tokens", completion_tokens},
      {"total_tokens", prompt_tokens + completion_tokens},
      {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}},
      {"flops", r.flops.total()},
      {"seconds", r.wall_s},
      {"joules", r.energy_j},
      {"co2e_g", r.co2e_g},
      {"energy_source", r.energy_measured ? "measured" : "modeled"},
      {"receipt", cost::to_json(r)},
  };
}

}  // namespace flops::server
