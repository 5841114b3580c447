// flops quantize IN.gguf OUT.gguf TYPE: convert a model's tensors (llama-quantize's names).
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/threads.h"
#include "model/quantize.h"

namespace flops::cli {

namespace {

std::string type_counts(const std::vector<TensorPlan>& plan, bool out) {
  std::map<std::string, int> n;
  for (const TensorPlan& p : plan) n[std::string(dtype_name(out ? p.to : p.from))]++;
  std::string s;
  for (auto& [k, v] : n) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", k, v);
  return s;
}

}  // namespace

void add_quantize(CLI::App& app) {
  struct Opts {
    std::string in, out, type;
    int threads = 0;
    bool json = false, quiet = false, allow_requantize = false, pure = false, verbose = false;
  };
  auto o = std::make_shared<Opts>();
  std::string types;
  for (const QuantMix& m : quant_mixes()) types += (types.empty() ? "" : ", ") + m.name;
  auto* cmd = app.add_subcommand("quantize", "convert a GGUF model to another tensor type, as llama-quantize does");
  cmd->add_option("input", o->in, "GGUF model to read (F32, F16 or BF16 tensors)")->required();
  cmd->add_option("output", o->out, "GGUF file to write (atomically)")->required();
  cmd->add_option("type", o->type, "type or mix: " + types + " (Q3_K, Q4_K, Q5_K mean the _M mixes)")->required();
  cmd->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  cmd->add_flag("--allow-requantize", o->allow_requantize, "accept tensors that are already quantized (loses accuracy)");
  cmd->add_flag("--pure", o->pure, "every quantized weight in TYPE's base type: no mix rules, no Q6_K output");
  cmd->add_flag("--verbose", o->verbose, "list every tensor with its old and new type");
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  cmd->add_flag("--quiet", o->quiet, "no progress bar");
  cmd->callback([o] {
    const QuantMix& mix = quant_mix(o->type);  // fails early, before reading anything
    if (o->in == o->out) fail("input and output are the same file '{}'", o->in);
    set_threads(o->threads);
    QuantizeOptions qo;
    qo.allow_requantize = o->allow_requantize;
    qo.pure = o->pure;
    const bool show = !o->json && !o->quiet;
    int64_t total = 0;
    for (const auto& t : gguf_open(o->in).tensors) total += (int64_t)t.n_elements;
    Progress bar("quantize", total, "weights", show);
    qo.progress = [&](int64_t done, int64_t) { bar.update(done); };
    const QuantizeResult r = quantize_file(o->in, o->out, mix, qo);
    bar.finish();
    // On stderr, so that a script reading --json still hears of them.
    for (const TensorPlan& p : r.tensors)
      if (p.fallback) fmt::print(stderr, "fallback: {}: {}\n", p.name, p.note);
    if (o->json) {
      nlohmann::json j;
      j["input"] = o->in;
      j["output"] = o->out;
      j["type"] = mix.name;
      j["file_type"] = mix.file_type;
      j["bytes_in"] = r.file_bytes_in;
      j["bytes_out"] = r.file_bytes_out;
      j["bits_per_weight_in"] = r.bits_per_weight_in();
      j["bits_per_weight_out"] = r.bits_per_weight_out();
      j["elements"] = r.n_elements;
      j["seconds"] = r.seconds;
      for (const TensorPlan& p : r.tensors) {
        nlohmann::json t = {{"name", p.name},           {"shape", p.shape}, {"from", dtype_name(p.from)},
                            {"to", dtype_name(p.to)},   {"bytes_in", p.bytes_in}, {"bytes_out", p.bytes_out},
                            {"fallback", p.fallback}};
        if (!p.note.empty()) t["note"] = p.note;
        j["tensors"].push_back(t);
      }
      fmt::print("{}\n", j.dump());
      return;
    }
    if (o->verbose)
      for (const TensorPlan& p : r.tensors)
        fmt::print("{:<36} {:>6} -> {:<6} {:>10} -> {:>10} bytes{}\n", p.name, dtype_name(p.from), dtype_name(p.to),
                   p.bytes_in, p.bytes_out, p.note.empty() ? "" : "  (" + p.note + ")");
    fmt::print("{} -> {} ({}, general.file_type {})\n", o->in, o->out, mix.name, mix.file_type);
    fmt::print("tensors        {} -> {}\n", type_counts(r.tensors, false), type_counts(r.tensors, true));
    fmt::print("size           {:.2f} MiB -> {:.2f} MiB ({:.1f}%)\n", r.file_bytes_in / 1048576.0,
               r.file_bytes_out / 1048576.0, 100.0 * (double)r.file_bytes_out / (double)r.file_bytes_in);
    fmt::print("bits/weight    {:.3f} -> {:.3f} ({} weights)\n", r.bits_per_weight_in(), r.bits_per_weight_out(),
               r.n_elements);
    fmt::print("time           {:.2f} s\n", r.seconds);
  });
}

}  // namespace flops::cli
