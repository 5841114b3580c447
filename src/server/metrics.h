#pragma once
// Counters for GET /metrics, in Prometheus' text exposition format (version 0.0.4).
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace flops::server {

struct Metrics {
  std::mutex mu;
  std::map<std::pair<std::string, int>, uint64_t> requests;  // (route, status) -> count
  uint64_t prompt_tokens = 0, completion_tokens = 0;
  double flops = 0, joules = 0, co2e_g = 0;
  uint64_t rejected_busy = 0, cancelled = 0, timeouts = 0;

  void count_request(const std::string& route, int status);
  void add_work(uint64_t prompt, uint64_t completion, double flops, double joules, double co2e_g);
};

struct Gauges {
  int queue_depth = 0, slots_busy = 0, slots_total = 0;
  double decode_tokens_per_s = 0;
  uint64_t steps = 0;
  double uptime_s = 0;
  int max_adapters_per_step = 0;                          // distinct adapters in one batch (base = one)
  size_t adapters_loaded = 0, adapter_bytes = 0;          // --lora-dir's cache
  uint64_t adapter_loads = 0;
};

std::string prometheus_text(Metrics& m, const Gauges& g);

}  // namespace flops::server
