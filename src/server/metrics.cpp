#include "server/metrics.h"

#include <fmt/format.h>

namespace flops::server {

void Metrics::count_request(const std::string& route, int status) {
  std::lock_guard<std::mutex> lk(mu);
  requests[{route, status}]++;
}

void Metrics::add_work(uint64_t prompt, uint64_t completion, double f, double j, double c) {
  std::lock_guard<std::mutex> lk(mu);
  prompt_tokens += prompt;
  completion_tokens += completion;
  flops += f;
  joules += j;
  co2e_g += c;
}

std::string prometheus_text(Metrics& m, const Gauges& g) {
  std::lock_guard<std::mutex> lk(m.mu);
  std::string s;
  auto metric = [&](const char* name, const char* type, const char* help) {
    s += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("flops_requests_total", "counter", "HTTP requests answered, by route and status");
  for (auto& [k, v] : m.requests) s += fmt::format("flops_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", k.first, k.second, v);
  metric("flops_prompt_tokens_total", "counter", "prompt tokens processed");
  s += fmt::format("flops_prompt_tokens_total {}\n", m.prompt_tokens);
  metric("flops_completion_tokens_total", "counter", "tokens generated");
  s += fmt::format("flops_completion_tokens_total {}\n", m.completion_tokens);
  metric("flops_decode_tokens_per_second", "gauge", "tokens generated per second over the last 10 s");
  s += fmt::format("flops_decode_tokens_per_second {:.3f}\n", g.decode_tokens_per_s);
  metric("flops_queue_depth", "gauge", "requests waiting for a slot");
  s += fmt::format("flops_queue_depth {}\n", g.queue_depth);
  metric("flops_slots_busy", "gauge", "slots decoding a request");
  s += fmt::format("flops_slots_busy {}\n", g.slots_busy);
  metric("flops_slots_total", "gauge", "slots (-np)");
  s += fmt::format("flops_slots_total {}\n", g.slots_total);
  metric("flops_batch_steps_total", "counter", "batched forward passes run");
  s += fmt::format("flops_batch_steps_total {}\n", g.steps);
  metric("flops_flops_total", "counter", "floating-point operations executed for answers (counted by the engine)");
  s += fmt::format("flops_flops_total {:.0f}\n", m.flops);
  metric("flops_energy_joules_total", "counter", "energy of the answers (measured by RAPL when readable, else modeled)");
  s += fmt::format("flops_energy_joules_total {:.6f}\n", m.joules);
  metric("flops_co2e_grams_total", "counter", "CO2-equivalent of that energy");
  s += fmt::format("flops_co2e_grams_total {:.9f}\n", m.co2e_g);
  metric("flops_rejected_busy_total", "counter", "requests refused with 503 because the queue was full");
  s += fmt::format("flops_rejected_busy_total {}\n", m.rejected_busy);
  metric("flops_lora_adapters_per_step_max", "gauge", "most distinct adapters (the base counts as one) decoded in one batched step");
  s += fmt::format("flops_lora_adapters_per_step_max {}\n", g.max_adapters_per_step);
  metric("flops_lora_adapters_loaded", "gauge", "adapters of --lora-dir held in memory");
  s += fmt::format("flops_lora_adapters_loaded {}\n", g.adapters_loaded);
  metric("flops_lora_adapter_bytes", "gauge", "bytes of the adapters held in memory");
  s += fmt::format("flops_lora_adapter_bytes {}\n", g.adapter_bytes);
  metric("flops_lora_adapter_loads_total", "counter", "adapter files loaded (a reload after eviction counts again)");
  s += fmt::format("flops_lora_adapter_loads_total {}\n", g.adapter_loads);
  metric("flops_uptime_seconds", "gauge", "seconds since the server started");
  s += fmt::format("flops_uptime_seconds {:.1f}\n", g.uptime_s);
  return s;
}

}  // namespace flops::server
