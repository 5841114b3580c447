#include "cost/estimate.h"

#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "core/threads.h"
#include "cost/calibrate.h"
#include "cost/receipt.h"
#include "model/gguf.h"

namespace flops::cost {

// ---- presets ----

std::vector<std::string> preset_names() { return {"gpt3", "gpt3-patterson"}; }

EstimateInput preset(const std::string& name) {
  EstimateInput in;
  in.preset = name;
  const char* brown = "GPT-3 175B trained on 300B tokens (Brown et al. 2020, 'Language Models are Few-Shot Learners')";
  if (name == "gpt3") {
    in.title = "the GPT-3 arithmetic: 6ND FLOPs on 10,000 V100s at 28 TFLOP/s, 300 W each, PUE 1.5";
    in.params = 175e9;
    in.train_tokens = 300e9;
    in.hardware = "v100-sxm2";
    in.precision = "fp16";
    in.devices = 10000;
    in.sustained = 28e12;
    in.power_w = 300;
    in.pue = 1.5;
    in.carbon = "patterson-gpt3";
    // The published arithmetic rounds 3.15e23 / (10,000 x 28 TFLOP/s) = 13.02 days to
    // 13.0 days and multiplies that: 13.0 d x 24 h x 10,000 x 300 W = 936 MWh.
    in.duration_s = 13.0 * 86400;
    in.sources = {
        {"params", brown},
        {"train_tokens", brown},
        {"devices", "10,000 V100s: the GPU count of the supercomputer Microsoft built for OpenAI (2020), as the "
                    "published arithmetic assumes"},
        {"rate", "28 TFLOP/s per V100: the sustained mixed-precision rate of Lambda Labs' 2020 GPT-3 estimate"},
        {"power", "300 W: the V100 SXM2 TDP, taken as the average draw"},
        {"pue", "1.5: a typical (not hyperscale) datacenter, as in the published arithmetic"},
        {"duration", "13.0 days: 3.15e23 / (10,000 x 28 TFLOP/s) = 13.02 days, rounded as published; energy uses it"},
    };
    in.published = {
        {"flops", "3.14e23 FLOP as reported (Brown et al. 2020, 3,640 PF-days)"},
        {"wall", "13.0 days"},
        {"energy_it", "936 MWh"},
        {"energy_facility", "1,404 MWh"},
    };
    return in;
  }
  if (name == "gpt3-patterson") {
    in.title = "Patterson et al. 2021 for GPT-3: 10,000 V100s for 14.8 days, ~330 W each, PUE 1.1, 0.429 kgCO2e/kWh";
    in.params = 175e9;
    in.train_tokens = 300e9;
    in.hardware = "v100-sxm2";
    in.precision = "fp16";
    in.devices = 10000;
    in.duration_s = 14.8 * 86400;
    // The paper prints "330 W", rounded: 3,552,000 GPU-hours x 330 W x 1.1 would be 1,289 MWh,
    // while the paper's 1,287 MWh (and 552 t = 1,287 MWh x 0.429) imply 329.4 W.
    in.power_w = 1287e3 / 1.1 / 3.552e6 * 1000;
    in.pue = 1.1;
    in.carbon = "patterson-gpt3";
    in.sources = {
        {"params", brown},
        {"train_tokens", brown},
        {"devices", "10,000 V100s (Patterson et al. 2021)"},
        {"duration", "14.8 days = 3,552,000 GPU-hours (Patterson et al. 2021)"},
        {"power",
         "329.4 W: printed as ~330 W by Patterson et al.; the value their 1,287 MWh over 3,552,000 GPU-hours "
         "at PUE 1.1 implies"},
        {"pue", "1.1 (Patterson et al. 2021)"},
    };
    in.published = {
        {"flops", "3.14e23 FLOP (Patterson et al. 2021, from Brown et al. 2020)"},
        {"device_hours", "3,552,000 GPU-hours"},
        {"energy_facility", "1,287 MWh"},
        {"co2e", "552 tCO2e"},
    };
    return in;
  }
  std::string names;
  for (auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
  fail("invalid --preset: unknown preset '{}' (known: {})", name, names);
}

ModelConfig parse_config_spec(const std::string& spec) {
  ModelConfig c;
  c.n_head_kv = 0;
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? spec.size() : comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos) fail("invalid --config: '{}' is not key=value", item);
    std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "arch") {
      c.arch = parse_arch(v);
      c.arch_name = v;
      continue;
    }
    double x = parse_positive(v, Dim::Count, "--config " + k);
    if (x != std::floor(x) || x > 2e9) fail("invalid --config {}: '{}' is not a whole number in range", k, v);
    int n = (int)x;
    if (k == "n_layer") c.n_layer = n;
    else if (k == "n_embd") c.n_embd = n;
    else if (k == "n_head") c.n_head = n;
    else if (k == "n_head_kv") c.n_head_kv = n;
    else if (k == "n_ff") c.n_ff = n;
    else if (k == "n_vocab") c.n_vocab = n;
    else if (k == "n_ctx") c.n_ctx_train = n;
    else fail("invalid --config: unknown key '{}' (known: arch, n_layer, n_embd, n_head, n_head_kv, n_ff, n_vocab, n_ctx)", k);
  }
  for (auto [k, v] : {std::pair{"n_layer", c.n_layer}, {"n_embd", c.n_embd}, {"n_head", c.n_head}, {"n_ff", c.n_ff}})
    if (v <= 0) fail("invalid --config: '{}' is missing", k);
  if (c.n_head_kv == 0) c.n_head_kv = c.n_head;
  if (c.n_embd % c.n_head != 0) fail("invalid --config: n_embd {} is not divisible by n_head {}", c.n_embd, c.n_head);
  if (c.n_head % c.n_head_kv != 0) fail("invalid --config: n_head {} is not divisible by n_head_kv {}", c.n_head, c.n_head_kv);
  c.n_rot = c.head_dim();
  return c;
}

namespace {

void set_source(EstimateInput& in, const std::string& key, const std::string& text) {
  for (auto& [k, v] : in.sources)
    if (k == key) {
      v = text;
      return;
    }
  in.sources.emplace_back(key, text);
}

std::string source_of(const EstimateInput& in, const std::string& key, const std::string& def = "") {
  for (auto& [k, v] : in.sources)
    if (k == key) return v;
  return def;
}

std::string published_of(const EstimateInput& in, const std::string& key) {
  for (auto& [k, v] : in.published)
    if (k == key) return v;
  return "";
}

}  // namespace

EstimateInput make_input(const Args& args) {
  EstimateInput in;
  for (auto& [k, v] : args)
    if (k == "preset") in = preset(v);
  std::vector<std::string> changed;
  for (auto& [k, v] : args) {
    const std::string field = "--" + k;
    if (k == "preset") continue;
    if (k != "claim" && k != "price" && k != "rent" && k != "carbon") changed.push_back(field);
    if (k == "params") {
      in.params = parse_positive(v, Dim::Count, field);
      set_source(in, "params", "given");
    } else if (k == "model") {
      GGUFFile g = gguf_open(v);
      in.config = config_from_gguf(g);
      in.config_from = v;
      in.params = 0;
    } else if (k == "config") {
      in.config = parse_config_spec(v);
      in.config_from = "--config";
      in.params = 0;
    } else if (k == "tokens") {
      in.train_tokens = parse_positive(v, Dim::Count, field);
      set_source(in, "train_tokens", "given");
    } else if (k == "seq-len") {
      in.seq_len = parse_positive(v, Dim::Count, field);
    } else if (k == "infer-tokens") {
      in.infer_tokens = parse_positive(v, Dim::Count, field);
    } else if (k == "context") {
      in.context = parse_quantity(v, Dim::Count, field);
      if (in.context < 0) fail("invalid {}: '{}' must not be negative", field, v);
    } else if (k == "budget") {
      in.budget = parse_positive(v, Dim::Flops, field);
    } else if (k == "tokens-per-param") {
      in.tokens_per_param = parse_positive(v, Dim::Count, field);
    } else if (k == "hardware") {
      in.hardware = v;
      in.precision.clear();
    } else if (k == "precision") {
      in.precision = v;
    } else if (k == "devices") {
      in.devices = parse_positive(v, Dim::Count, field);
      if (in.devices != std::floor(in.devices)) fail("invalid {}: '{}' is not a whole number of devices", field, v);
      set_source(in, "devices", "given");
    } else if (k == "mfu") {
      in.mfu = parse_positive(v, Dim::Fraction, field);
      if (in.mfu > 1) fail("invalid {}: '{}' is above 100%", field, v);
      in.sustained = 0;
      set_source(in, "rate", "given as MFU");
    } else if (k == "sustained") {
      in.sustained = parse_positive(v, Dim::FlopRate, field);
      in.mfu = 0;
      set_source(in, "rate", "given");
    } else if (k == "power") {
      in.power_w = parse_positive(v, Dim::Power, field);
      set_source(in, "power", "given");
    } else if (k == "pue") {
      in.pue = parse_positive(v, Dim::Count, field);
      if (in.pue < 1) fail("invalid {}: '{}' is below 1 (facility energy cannot be less than IT energy)", field, v);
      set_source(in, "pue", "given");
    } else if (k == "carbon") {
      resolve_grid(v, field);
      in.carbon = v;
    } else if (k == "currency") {
      if (v.empty() || v.size() > 8) fail("invalid {}: '{}' must be a short name such as USD or EUR", field, v);
      in.currency = v;
    } else if (k == "price") {
      if (v.find('$') != std::string::npos && in.currency.empty()) in.currency = "$";
      in.price_kwh = parse_quantity(v, Dim::Price, field);
      if (in.price_kwh < 0) fail("invalid {}: '{}' must not be negative", field, v);
    } else if (k == "rent") {
      if (v.find('$') != std::string::npos && in.currency.empty()) in.currency = "$";
      in.rent_hour = parse_quantity(v, Dim::Price, field);
      if (in.rent_hour < 0) fail("invalid {}: '{}' must not be negative", field, v);
    } else if (k == "duration") {
      in.duration_s = parse_positive(v, Dim::Time, field);
      set_source(in, "duration", "given");
    } else if (k == "claim") {
      parse_claim(v, field);
      in.claim = v;
    } else if (k == "watts-per-core") {
      in.watts_per_core = parse_positive(v, Dim::Power, field);
    } else {
      fail("unknown estimate option '{}'", field);
    }
  }
  // A changed preset no longer describes the published run: drop its published figures
  // rather than print them beside numbers computed from other inputs.
  if (!in.preset.empty() && !changed.empty()) {
    in.published.clear();
    std::string list;
    for (auto& c : changed) list += (list.empty() ? "" : ", ") + c;
    in.title += " (modified: " + list + ")";
  }
  if (in.budget > 0 && (in.params > 0 || in.train_tokens > 0) && in.preset.empty())
    fail("invalid --budget: give either a FLOP budget or --params/--tokens, not both");
  if (in.budget > 0) {
    in.params = 0;
    in.train_tokens = 0;
    in.published.clear();
  }
  bool machine = false;
  try {
    find_hardware(in.hardware);
  } catch (const Error&) {
    std::string k = in.hardware;
    for (char& c : k) c = (char)std::tolower((unsigned char)c);
    machine = k == "this-machine" || k == "this_machine" || k == "this" || k == "cpu" || k == "local";
    if (!machine) throw;
  }
  if (machine && in.this_machine_flops <= 0) {
    in.this_machine_threads = get_threads();
    Calibration c = machine_peak(in.this_machine_threads);
    in.this_machine_flops = c.sgemm_flops;
  }
  return in;
}

double attention_flops_per_token(const ModelConfig& c, double seq_len) {
  // QK^T and AV: 2 x head_dim FLOPs each per (query head, key); a token at position i
  // of a causal sequence sees i+1 keys, (S+1)/2 on average.
  return 4.0 * c.head_dim() * c.n_head * c.n_layer * (seq_len + 1) / 2.0;
}

double training_flops(const ModelConfig& c, double tokens, double seq_len) {
  return training_flops((double)c.n_params_matmul(), tokens) + 3.0 * attention_flops_per_token(c, seq_len) * tokens;
}

ChinchillaPlan chinchilla_optimal(double budget, double tpp) {
  // C = 6 N D with D = tpp N  =>  N = sqrt(C / (6 tpp)).
  ChinchillaPlan p;
  p.n = std::sqrt(budget / (6.0 * tpp));
  p.d = tpp * p.n;
  return p;
}

namespace {
// Four significant figures, for showing what a rounded figure was rounded from.
std::string precise_time(double s) {
  if (s >= 2 * 86400 && s < 1000 * 86400.0) return fmt::format("{:.2f} days", s / 86400);
  return format_time(s);
}
}  // namespace

double brain_years(double j) { return j / (kBrainWatts * kSecondsPerYear); }
double homes_powered(double j) { return j / 3.6e6 / kHomeKwhPerYear; }
double car_km(double g) { return g / kCarGramsPerKm; }

Estimate estimate(const EstimateInput& in) {
  Estimate e;
  e.in = in;
  e.grid = resolve_grid(in.carbon);
  e.hw = find_hardware(in.hardware, in.this_machine_flops, in.this_machine_threads);
  std::string prec = in.precision;
  if (prec.empty()) prec = e.hw.measured ? "fp32" : e.hw.bf16 > 0 ? "bf16" : e.hw.fp16 > 0 ? "fp16" : "fp32";
  e.peak = peak_for(e.hw, prec);
  e.precision = prec;
  if (!(in.devices > 0)) fail("invalid --devices: {} must be greater than zero", in.devices);
  if (in.pue < 1) fail("invalid --pue: {} is below 1", in.pue);

  auto A = [&](std::string key, std::string label, double v, std::string unit, std::string text, std::string how) {
    e.assumptions.push_back({key, label, v, unit, text, how, ""});
  };
  auto R = [&](std::string key, std::string label, double v, std::string unit, std::string text, std::string how) {
    e.results.push_back({key, label, v, unit, text, how, published_of(in, key)});
  };

  // N and D.
  const ModelConfig* cfg = in.config ? &*in.config : nullptr;
  if (in.budget > 0) {
    ChinchillaPlan p = chinchilla_optimal(in.budget, in.tokens_per_param);
    e.n_params = p.n;
    e.train_tokens = p.d;
    e.chinchilla = true;
    A("budget", "FLOP budget C", in.budget, "FLOP", format_flops(in.budget), "given");
    A("params", "parameters N", e.n_params, "", format_count(e.n_params),
      fmt::format("Chinchilla-optimal: N = sqrt(C / (6 x {})), D = {} N (Hoffmann et al. 2022)",
                  fmt::format("{:g}", in.tokens_per_param), fmt::format("{:g}", in.tokens_per_param)));
    A("train_tokens", "training tokens D", e.train_tokens, "", format_count(e.train_tokens),
      fmt::format("{:g} tokens per parameter", in.tokens_per_param));
  } else {
    if (in.params > 0) {
      e.n_params = in.params;
    } else if (cfg) {
      e.n_params = (double)cfg->n_params_matmul();
    }
    if (in.train_tokens <= 0 && in.infer_tokens <= 0)
      fail("missing --tokens: give training tokens (--tokens), inference tokens (--infer-tokens) or a FLOP budget "
           "(--budget)");
    if (e.n_params <= 0) fail("missing --params: give N (--params), a model (--model FILE.gguf) or --config");
    e.train_tokens = in.train_tokens;
    std::string how = in.params > 0 ? source_of(in, "params", "given")
                                    : fmt::format("matmul parameters of the model config ({}): {} layers, d={}, ff={}, vocab={}",
                                                  in.config_from, cfg->n_layer, cfg->n_embd, cfg->n_ff, cfg->n_vocab);
    A("params", "parameters N", e.n_params, "", format_count(e.n_params), how);
    if (e.train_tokens > 0)
      A("train_tokens", "training tokens D", e.train_tokens, "", format_count(e.train_tokens),
        source_of(in, "train_tokens", "given"));
  }
  if (in.infer_tokens > 0) {
    A("infer_tokens", "inference tokens", in.infer_tokens, "", format_count(in.infer_tokens), "given");
    A("context", "context per token", in.context, "", format_number(in.context),
      "earlier tokens each one attends to (average)");
  }

  // FLOPs.
  if (e.train_tokens > 0) {
    e.flops_train = training_flops(e.n_params, e.train_tokens);
    R("flops_train", "training FLOPs", e.flops_train, "FLOP", format_flops(e.flops_train),
      fmt::format("6 N D = 6 x {} x {} (2 forward + 4 backward per parameter per token)", format_count(e.n_params),
                  format_count(e.train_tokens)));
    if (cfg && in.seq_len > 0) {
      e.flops_train_attention = 3.0 * attention_flops_per_token(*cfg, in.seq_len) * e.train_tokens;
      A("seq_len", "sequence length", in.seq_len, "", format_number(in.seq_len), "given");
      R("flops_train_attention", "+ attention (train)", e.flops_train_attention, "FLOP",
        format_flops(e.flops_train_attention),
        fmt::format("3 x 4 x head_dim x heads x layers x (S+1)/2 x D = 3 x 4 x {} x {} x {} x {} x {}",
                    cfg->head_dim(), cfg->n_head, cfg->n_layer, format_number((in.seq_len + 1) / 2),
                    format_count(e.train_tokens)));
    }
  }
  if (in.infer_tokens > 0) {
    double mm = 2.0 * e.n_params * in.infer_tokens, attn = 0;
    // The config's own formula prices one (query, key) pair; a token attends to its
    // context plus itself. A fractional context is an average over tokens.
    if (cfg) attn = (cfg->forward_flops(1, 0) - 2.0 * (double)cfg->n_params_matmul()) * (in.context + 1) * in.infer_tokens;
    e.flops_infer = mm + attn;
    R("flops_infer", "inference FLOPs", e.flops_infer, "FLOP", format_flops(e.flops_infer),
      cfg ? fmt::format("2 N per token + attention 4 x head_dim x heads x layers x (context+1) = {} + {}",
                        format_flops(mm), format_flops(attn))
          : fmt::format("2 N per token = 2 x {} x {} (attention not included: give --model or --config)",
                        format_count(e.n_params), format_count(in.infer_tokens)));
  }
  e.flops = e.flops_train + e.flops_train_attention + e.flops_infer;
  if (e.flops_train > 0 && (e.flops_train_attention > 0 || e.flops_infer > 0))
    R("flops", "total FLOPs", e.flops, "FLOP", format_flops(e.flops), "sum of the above");
  else
    for (Row& r : e.results)
      if (r.key == "flops_train" || r.key == "flops_infer") {
        if (r.published.empty()) r.published = published_of(in, "flops");
      }

  // Hardware and throughput.
  A("hardware", "hardware", e.peak, "FLOP/s", e.hw.name,
    fmt::format("{} peak {}{}; {}", prec, format_flop_rate(e.peak),
                e.hw.tdp_w > 0 ? fmt::format(", TDP {}", format_power(e.hw.tdp_w)) : "", e.hw.source));
  A("devices", "devices", in.devices, "", format_count(in.devices), source_of(in, "devices", "given"));
  if (in.sustained > 0) {
    e.rate = in.sustained;
    e.mfu = e.rate / e.peak;
    A("rate", "sustained per device", e.rate, "FLOP/s", format_flop_rate(e.rate),
      fmt::format("{}; = {:.1f}% of {} peak (MFU)", source_of(in, "rate", "given"), 100 * e.mfu, prec));
  } else if (in.mfu > 0) {
    e.mfu = in.mfu;
    e.rate = e.mfu * e.peak;
    A("rate", "sustained per device", e.rate, "FLOP/s", format_flop_rate(e.rate),
      fmt::format("MFU {:.1f}% x {} peak {}", 100 * e.mfu, prec, format_flop_rate(e.peak)));
  } else if (in.duration_s > 0) {
    e.rate = e.flops / (in.devices * in.duration_s);
    e.mfu = e.rate / e.peak;
    A("rate", "sustained per device", e.rate, "FLOP/s", format_flop_rate(e.rate),
      fmt::format("implied by FLOPs / (devices x duration); = {:.1f}% of {} peak (MFU)", 100 * e.mfu, prec));
  } else {
    e.mfu = 0.4;
    e.rate = e.mfu * e.peak;
    A("rate", "sustained per device", e.rate, "FLOP/s", format_flop_rate(e.rate),
      fmt::format("assumed MFU 40% of {} peak (default; large dense runs report 30-50%, e.g. PaLM 46%); set --mfu "
                  "or --sustained",
                  prec));
  }

  // Time.
  e.wall_computed_s = e.flops / (in.devices * e.rate);
  if (in.duration_s > 0) {
    e.wall_s = in.duration_s;
    A("duration", "wall-clock (given)", in.duration_s, "s", format_time(in.duration_s), source_of(in, "duration", "given"));
  } else {
    e.wall_s = e.wall_computed_s;
  }
  R("wall", "wall-clock time", e.wall_s, "s", format_time(e.wall_s),
    in.duration_s > 0
        ? (std::fabs(e.wall_computed_s / e.wall_s - 1) > 1e-9
               ? fmt::format("given; FLOPs / (devices x rate) = {} / ({} x {}) = {}", format_flops(e.flops),
                             format_number(in.devices), format_flop_rate(e.rate), precise_time(e.wall_computed_s))
               : std::string("given"))
        : fmt::format("FLOPs / (devices x rate) = {} / ({} x {})", format_flops(e.flops), format_number(in.devices),
                      format_flop_rate(e.rate)));
  e.device_hours = in.devices * e.wall_s / 3600;
  R("device_hours", "device-hours", e.device_hours, "h",
    e.device_hours >= 1000 && e.device_hours < 1e15 ? format_int(e.device_hours) : format_number(e.device_hours),
    fmt::format("devices x time = {} x {}", format_number(in.devices), format_time(e.wall_s)));

  // Power and energy.
  std::string power_how;
  if (in.power_w > 0) {
    e.power_w = in.power_w;
    power_how = source_of(in, "power", "given");
  } else if (e.hw.tdp_w > 0) {
    e.power_w = e.hw.tdp_w;
    power_how = "assumed: the device's TDP (full power the whole run; real averages are often lower)";
  } else {
    double wpc = in.watts_per_core > 0 ? in.watts_per_core : kAssumedWattsPerCore;
    int threads = in.this_machine_threads > 0 ? in.this_machine_threads : 1;
    e.power_w = wpc * threads;
    power_how = fmt::format("assumed: {} busy threads x {} per core ({})", threads, format_power(wpc),
                            kAssumedWattsPerCoreSource);
  }
  A("power", "power per device", e.power_w, "W", format_power(e.power_w), power_how);
  A("pue", "PUE", in.pue, "", fmt::format("{:.2f}", in.pue),
    source_of(in, "pue", in.pue == 1.0 ? "1.0 = IT energy only (no cooling or power-delivery overhead)" : "given"));
  A("carbon", "grid intensity", e.grid.g_per_kwh, "g/kWh", format_number(e.grid.g_per_kwh) + " gCO2e/kWh",
    e.grid.key == "custom" ? std::string("given") : fmt::format("{}: {}", e.grid.name, e.grid.source));
  e.energy_it_j = in.devices * e.power_w * e.wall_s;
  e.energy_facility_j = e.energy_it_j * in.pue;
  e.co2e_g = e.energy_facility_j / 3.6e6 * e.grid.g_per_kwh;
  R("energy_it", "IT energy", e.energy_it_j, "J", format_energy(e.energy_it_j),
    fmt::format("devices x power x time = {} x {} x {}", format_number(in.devices), format_power(e.power_w),
                format_time(e.wall_s)));
  R("energy_facility", "facility energy", e.energy_facility_j, "J", format_energy(e.energy_facility_j),
    fmt::format("IT energy x PUE = {} x {:.2f}", format_energy(e.energy_it_j), in.pue));
  R("co2e", "CO2e", e.co2e_g, "gCO2e", format_mass(e.co2e_g),
    fmt::format("facility energy x intensity = {} x {} g/kWh", format_energy(e.energy_facility_j),
                format_number(e.grid.g_per_kwh)));
  // "$12.3" or "12.3 EUR"; without a currency, the unit the price was given in.
  const std::string cur = in.currency.empty() ? "money" : in.currency;
  auto money = [&](double x) {
    if (in.currency == "$") return "$" + format_number(x);
    return format_number(x) + (in.currency.empty() ? " (the unit --price/--rent were given in)" : " " + in.currency);
  };
  if (in.price_kwh > 0) {
    e.money_energy = e.energy_facility_j / 3.6e6 * in.price_kwh;
    R("money_energy", "electricity cost", e.money_energy, cur, money(e.money_energy),
      fmt::format("facility kWh x {} per kWh", format_number(in.price_kwh)));
  }
  if (in.rent_hour > 0) {
    e.money_rent = e.device_hours * in.rent_hour;
    R("money_rent", "rental cost", e.money_rent, cur, money(e.money_rent),
      fmt::format("device-hours x {} per device-hour", format_number(in.rent_hour)));
  }

  // Equivalents.
  e.brain_years = brain_years(e.energy_facility_j);
  e.homes = homes_powered(e.energy_facility_j);
  e.car_km = car_km(e.co2e_g);
  // Small runs read better as a duration than as a fraction of a year.
  auto years_text = [](double y) { return y >= 1 ? format_count(y) + " years" : format_time(y * kSecondsPerYear); };
  R("brain_years", "= a 20 W brain for", e.brain_years, "years", years_text(e.brain_years),
    "facility energy / (20 W x 1 year); " + std::string(kBrainSource));
  R("homes", "= US home-years", e.homes, "homes",
    e.homes >= 1 ? format_count(e.homes) : "1 home for " + format_time(e.homes * kSecondsPerYear),
    "facility kWh / 10,715 kWh; " + std::string(kHomeSource));
  R("car_km", "= km by car", e.car_km, "km", format_count(e.car_km), "CO2e / 249 g/km; " + std::string(kCarSource));

  // A claim to check.
  if (!in.claim.empty()) {
    ClaimCheck c;
    c.text = in.claim;
    c.claimed = parse_claim(in.claim, "--claim");
    switch (c.claimed.dim) {
      case Dim::Energy: c.compared_to = "energy_facility"; c.estimate = e.energy_facility_j; break;
      case Dim::Mass: c.compared_to = "co2e"; c.estimate = e.co2e_g; break;
      case Dim::Time: c.compared_to = "wall"; c.estimate = e.wall_s; break;
      case Dim::Flops: c.compared_to = "flops"; c.estimate = e.flops; break;
      case Dim::Power:
        c.compared_to = "facility_power";
        c.estimate = in.devices * e.power_w * in.pue;
        break;
      default: fail("invalid --claim: cannot compare '{}'", in.claim);
    }
    c.ratio = c.claimed.value / c.estimate;
    if (c.claimed.dim == Dim::Energy) c.brain_years = brain_years(c.claimed.value);
    e.claim = c;
  }
  return e;
}

namespace {

std::string ratio_text(double r) {
  if (r >= 1) return fmt::format("{}x the estimate", format_number(r));
  return fmt::format("{}x smaller than the estimate", format_number(1 / r));
}

// "about 780x": two significant figures, the precision the comparison deserves.
std::string about(double r) {
  double x = r >= 1 ? r : 1 / r;
  double mag = std::pow(10.0, std::floor(std::log10(x)) - 1);
  double rounded = std::round(x / mag) * mag;
  std::string t = rounded >= 10 ? format_int(rounded) : fmt::format("{:.1f}", rounded);
  return r >= 1 ? fmt::format("about {}x", t) : fmt::format("about {}x smaller", t);
}

}  // namespace

nlohmann::json to_json(const Estimate& e) {
  using nlohmann::json;
  json j;
  if (!e.in.preset.empty()) j["preset"] = e.in.preset;
  if (!e.in.title.empty()) j["title"] = e.in.title;
  auto rows = [](const std::vector<Row>& rs, bool results) {
    json o = json::object();
    for (const Row& r : rs) {
      json x = {{"value", r.value}, {"text", r.text}};
      if (!r.unit.empty()) x["unit"] = r.unit;
      x[results ? "formula" : "source"] = r.how;
      if (!r.published.empty()) x["published"] = r.published;
      o[r.key] = x;
    }
    return o;
  };
  j["assumptions"] = rows(e.assumptions, false);
  j["results"] = rows(e.results, true);
  auto or_null = [](double v) { return v > 0 ? json(v) : json(nullptr); };  // null: the table has no figure
  j["hardware"] = {{"key", e.hw.key},         {"name", e.hw.name},           {"fp32", or_null(e.hw.fp32)},
                   {"fp16", or_null(e.hw.fp16)}, {"bf16", or_null(e.hw.bf16)}, {"tdp_w", or_null(e.hw.tdp_w)},
                   {"source", e.hw.source},   {"measured", e.hw.measured},   {"precision", e.precision}};
  j["grid"] = {{"key", e.grid.key}, {"name", e.grid.name}, {"g_per_kwh", e.grid.g_per_kwh}, {"source", e.grid.source}};
  j["mfu"] = e.mfu;
  if (e.chinchilla) j["chinchilla"] = {{"budget", e.in.budget}, {"params", e.n_params}, {"tokens", e.train_tokens},
                                       {"tokens_per_param", e.in.tokens_per_param}};
  if (e.claim) {
    const ClaimCheck& c = *e.claim;
    j["claim"] = {{"text", c.text},        {"value", c.claimed.value}, {"dimension", dim_name(c.claimed.dim)},
                  {"compared_to", c.compared_to}, {"estimate", c.estimate}, {"ratio", c.ratio},
                  {"summary", about(c.ratio)}};
    if (c.brain_years > 0) j["claim"]["brain_years"] = c.brain_years;
  }
  return j;
}

void print_estimate(std::FILE* f, const Estimate& e) {
  std::fprintf(f, "flops estimate%s%s\n", e.in.preset.empty() ? "" : (" --preset " + e.in.preset).c_str(),
               e.in.title.empty() ? "" : (": " + e.in.title).c_str());
  auto table = [&](const char* title, const std::vector<Row>& rows, const char* how_title) {
    std::fprintf(f, "\n%-24s %-20s %s\n", title, "", how_title);
    for (const Row& r : rows) {
      std::fprintf(f, "  %-22s %-20s %s\n", r.label.c_str(), r.text.c_str(), r.how.c_str());
      if (!r.published.empty()) std::fprintf(f, "  %-22s %-20s published: %s\n", "", "", r.published.c_str());
    }
  };
  table("Assumptions", e.assumptions, "source");
  table("Results", e.results, "formula");
  if (e.claim) {
    const ClaimCheck& c = *e.claim;
    std::string est = format_quantity({c.estimate, c.claimed.dim});
    std::fprintf(f, "\nClaim check\n  claimed \"%s\" = %s vs this estimate's %s: the claim is %s (%s)\n", c.text.c_str(),
                 format_quantity(c.claimed).c_str(), est.c_str(), ratio_text(c.ratio).c_str(), about(c.ratio).c_str());
    if (c.brain_years > 0)
      std::fprintf(f, "  %s is %s years of a 20 W human brain\n", format_quantity(c.claimed).c_str(),
                   format_count(c.brain_years).c_str());
  }
}

}  // namespace flops::cost
