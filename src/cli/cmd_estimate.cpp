// flops estimate: FLOPs, time, energy, CO2e and money of a training or inference run.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cost/estimate.h"

namespace flops::cli {

void add_estimate(CLI::App& app) {
  // Options stay strings so that units ("300 W", "14.8 days") are parsed, and
  // errors worded, in one place (cost::make_input).
  struct Opts {
    std::vector<std::pair<std::string, std::string>> specs = {
        {"preset", "published run to reproduce: gpt3, gpt3-patterson (other options override it)"},
        {"params", "parameters N, e.g. 175B or 1.75e11"},
        {"model", "GGUF model file: N and per-token FLOPs from its config"},
        {"config", "model shape: arch=gpt2,n_layer=96,n_embd=12288,n_head=96,n_ff=49152,n_vocab=50257"},
        {"tokens", "training tokens D, e.g. 300B"},
        {"seq-len", "training sequence length (adds attention FLOPs; needs --model or --config)"},
        {"infer-tokens", "tokens processed at inference"},
        {"context", "earlier tokens each inference token attends to, on average (default 0)"},
        {"budget", "FLOP budget: plan the Chinchilla-optimal N and D, e.g. 1e23"},
        {"tokens-per-param", "tokens per parameter for --budget (default 20)"},
        {"hardware", "v100-pcie, v100-sxm2, a100, h100-sxm, h200, tpu-v4, this-machine (default a100)"},
        {"precision", "fp32, fp16 or bf16 (default: the device's best)"},
        {"devices", "number of devices (default 1)"},
        {"mfu", "model FLOPs utilization, e.g. 40% or 0.4 (default 40%)"},
        {"sustained", "sustained FLOP/s per device, e.g. 28 TFLOP/s (overrides --mfu)"},
        {"power", "average power per device, e.g. 300 W (default: TDP)"},
        {"pue", "datacenter PUE (default 1.0)"},
        {"carbon", "grid intensity: a region (us, fr, de, patterson-gpt3, ...) or e.g. 429 g/kWh (default us)"},
        {"price", "electricity price per kWh, e.g. 0.10"},
        {"rent", "rental price per device-hour, e.g. 2.50"},
        {"currency", "what --price and --rent are in, printed with the cost, e.g. EUR (default: $ when they say $)"},
        {"duration", "known wall-clock time, e.g. 14.8 days (used instead of FLOPs / throughput)"},
        {"claim", "a published figure to check against the estimate, e.g. \"1 TWh\" or \"552 tCO2e\""},
        {"watts-per-core", "this-machine power per busy core (default 10 W)"},
    };
    std::vector<std::string> values;
    std::vector<CLI::Option*> opts;
    bool json = false, list = false;
  };
  auto o = std::make_shared<Opts>();
  o->values.resize(o->specs.size());
  auto* cmd = app.add_subcommand("estimate", "what a training or inference run costs: FLOPs, time, energy, CO2e, money");
  for (size_t i = 0; i < o->specs.size(); ++i)
    o->opts.push_back(cmd->add_option("--" + o->specs[i].first, o->values[i], o->specs[i].second));
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->add_flag("--list", o->list, "list the hardware, grid regions and presets with their sources");
  cmd->callback([o] {
    if (o->list) {
      std::printf("Hardware (--hardware):\n");
      for (const auto& h : cost::hardware_table())
        std::printf("  %-10s %-18s fp32 %-14s fp16 %-14s bf16 %-14s TDP %-6s  %s\n", h.key.c_str(), h.name.c_str(),
                    h.fp32 ? cost::format_flop_rate(h.fp32).c_str() : "-", h.fp16 ? cost::format_flop_rate(h.fp16).c_str() : "-",
                    h.bf16 ? cost::format_flop_rate(h.bf16).c_str() : "-", cost::format_power(h.tdp_w).c_str(),
                    h.source.c_str());
      std::printf("  %-10s measured by `flops calibrate` (sgemm)\n", "this-machine");
      std::printf("Grid carbon intensity (--carbon):\n");
      for (const auto& g : cost::grid_table())
        std::printf("  %-15s %5.0f gCO2e/kWh  %-40s %s\n", g.key.c_str(), g.g_per_kwh, g.name.c_str(), g.source.c_str());
      std::printf("Presets (--preset):\n");
      for (const auto& p : cost::preset_names()) std::printf("  %-15s %s\n", p.c_str(), cost::preset(p).title.c_str());
      return;
    }
    cost::Args args;
    for (size_t i = 0; i < o->specs.size(); ++i)
      if (o->opts[i]->count() > 0) args.emplace_back(o->specs[i].first, o->values[i]);
    cost::Estimate e = cost::estimate(cost::make_input(args));
    if (o->json)
      std::printf("%s\n", cost::to_json(e).dump(2).c_str());
    else
      cost::print_estimate(stdout, e);
  });
}

}  // namespace flops::cli
