#pragma once
// `flops estimate`: what a training or inference run costs in FLOPs, time,
// energy, CO2e and money, with every assumption printed beside the figure it
// produced. Presets reproduce published GPT-3 figures.
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cost/tables.h"
#include "cost/units.h"
#include "model/config.h"

namespace flops::cost {

// Everything is in base units (FLOP, FLOP/s, W, s, g/kWh); 0 means "not given".
struct EstimateInput {
  std::string preset;
  std::string title;  // one line saying what this run is (presets set it)

  double params = 0;  // N
  std::optional<ModelConfig> config;
  std::string config_from;      // a GGUF path or "--config"
  double train_tokens = 0;      // D
  double seq_len = 0;           // training sequence length (attention term; needs a config)
  double infer_tokens = 0;      // tokens run through the model at inference
  double context = 0;           // earlier tokens each inference token attends to on average
  double budget = 0;            // FLOP budget: plan the Chinchilla-optimal N and D
  double tokens_per_param = 20; // Hoffmann et al. 2022

  std::string hardware = "a100";
  std::string precision;        // fp32 / fp16 / bf16; "" = the device's best of bf16, fp16, fp32
  double devices = 1;
  double mfu = 0;               // fraction of peak
  double sustained = 0;         // FLOP/s per device; overrides mfu
  double power_w = 0;           // average per device; 0 = TDP
  double pue = 1.0;
  std::string carbon = "us";    // region key or "429 g/kWh"
  double price_kwh = 0;         // money per kWh of facility energy
  double rent_hour = 0;         // money per device-hour
  std::string currency;         // of price_kwh and rent_hour ("$" when they were written with $)
  double duration_s = 0;        // a known wall-clock time: used instead of FLOPs / throughput
  std::string claim;            // "1 TWh": compared with the matching estimate

  double this_machine_flops = 0;  // sgemm FLOP/s, for --hardware this-machine
  int this_machine_threads = 0;
  double watts_per_core = 0;      // this-machine power assumption (0 = receipt default)

  // Where an input came from ("params" -> "GPT-3 175B, Brown et al. 2020"), and
  // figures published for this run ("energy_facility" -> "1,287 MWh (Patterson et al.)").
  std::vector<std::pair<std::string, std::string>> sources;
  std::vector<std::pair<std::string, std::string>> published;
};

// Builds the input from command-line style pairs ("preset" -> "gpt3",
// "params" -> "175B", "power" -> "300 W", ...): the preset first, then every
// other pair overrides it. Fails with one line naming the option on bad values.
using Args = std::vector<std::pair<std::string, std::string>>;
EstimateInput make_input(const Args& args);
std::vector<std::string> preset_names();
EstimateInput preset(const std::string& name);  // fails naming --preset when unknown

// "arch=gpt2,n_layer=96,n_embd=12288,n_head=96,n_ff=49152,n_vocab=50257" (n_head_kv defaults to n_head).
ModelConfig parse_config_spec(const std::string& spec);

struct Row {
  std::string key;
  std::string label;
  double value = 0;
  std::string unit;       // base unit of value: "FLOP", "J", "s", "gCO2e", ...
  std::string text;       // value as printed
  std::string how;        // formula or the assumption's source
  std::string published;  // the published figure, when the preset has one
};

struct ClaimCheck {
  std::string text;        // as given
  Quantity claimed;
  std::string compared_to; // key of the estimate row
  double estimate = 0;
  double ratio = 0;        // claimed / estimate
  double brain_years = 0;  // when the claim is an energy
};

struct Estimate {
  EstimateInput in;
  Hardware hw;
  GridRegion grid;
  double n_params = 0, train_tokens = 0;
  double flops_train = 0, flops_train_attention = 0, flops_infer = 0, flops = 0;
  std::string precision;                      // the one whose peak is used
  double peak = 0, rate = 0, mfu = 0;         // per device
  double wall_s = 0, wall_computed_s = 0, device_hours = 0;
  double power_w = 0, energy_it_j = 0, energy_facility_j = 0, co2e_g = 0;
  double money_energy = 0, money_rent = 0;
  double brain_years = 0, homes = 0, car_km = 0;
  bool chinchilla = false;
  std::vector<Row> assumptions, results;
  std::vector<std::string> notes;
  std::optional<ClaimCheck> claim;
};

Estimate estimate(const EstimateInput& in);
nlohmann::json to_json(const Estimate& e);
void print_estimate(std::FILE* f, const Estimate& e);

// The arithmetic, exposed for tests and for the receipts.
inline double training_flops(double n, double d) { return 6.0 * n * d; }
// Forward attention FLOPs per token of a causal sequence of length seq_len
// (QK^T and AV over (seq_len+1)/2 keys on average), and training FLOPs for
// `tokens` tokens in such sequences: 6 N D + 3 x forward attention (backward
// is twice forward). The figure a training step's counted FLOPs should match.
double attention_flops_per_token(const ModelConfig& c, double seq_len);
double training_flops(const ModelConfig& c, double tokens, double seq_len);
struct ChinchillaPlan {
  double n = 0, d = 0;
};
ChinchillaPlan chinchilla_optimal(double budget_flops, double tokens_per_param = 20);
double brain_years(double joules);
double homes_powered(double joules);  // home-years of electricity
double car_km(double grams_co2e);

}  // namespace flops::cost
