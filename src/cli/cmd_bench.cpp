// flops bench: llama-bench's flags, table and JSON fields, so that any GGUF file is measured the
// same way by both tools (prompt processing pp<n> and generation tg<n> in tokens/s).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/machine.h"
#include "core/progress.h"
#include "core/threads.h"
#include "eval/bench.h"

namespace flops::cli {

namespace {

std::pair<int, int> parse_pg(const std::string& s) {
  int a = -1, b = -1;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%d,%d%c", &a, &b, &tail) != 2 || a < 0 || b < 0)
    fail("-pg takes PROMPT,GEN token counts (like 512,128), got '{}'", s);
  return {a, b};
}

}  // namespace

void add_bench(CLI::App& app) {
  struct Opts {
    std::string model;
    std::vector<int> n_prompt{512}, n_gen{128}, threads;
    std::vector<std::string> pg;
    int reps = 5, n_batch = 2048;
    std::string output = "md";
    std::string cache_type_k = "f16", cache_type_v = "f16";
    bool json = false, progress = false, bandwidth = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("bench", "prompt and generation speed, as llama-bench measures it");
  cmd->add_option("-m,--model", o->model, "GGUF model file (default: $FLOPS_MODEL or the shipped model)");
  cmd->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens, comma-separated list (0: no prompt test)")
      ->delimiter(',');
  cmd->add_option("-n,--n-gen", o->n_gen, "generated tokens, comma-separated list (0: no generation test)")
      ->delimiter(',');
  cmd->add_option("--pg", o->pg, "PROMPT,GEN: a prompt then generation, timed together (llama-bench's -pg)");
  cmd->add_option("-t,--threads", o->threads, "thread counts, comma-separated list (default: all cores)")
      ->delimiter(',');
  cmd->add_option("-r,--repetitions", o->reps, "repetitions of each test (default 5)");
  cmd->add_option("-b,--batch-size", o->n_batch, "prompt tokens per forward pass (default 2048)");
  cmd->add_option("-o,--output", o->output, "md (default), json or jsonl");
  cmd->add_option("--cache-type-k", o->cache_type_k, "KV cache type of the keys: f32 or f16 (default f16; also -ctk)");
  cmd->add_option("--cache-type-v", o->cache_type_v, "KV cache type of the values: f32 or f16 (default f16; also -ctv)");
  cmd->add_flag("--json", o->json, "same as -o json");
  cmd->add_flag("--progress", o->progress, "show a progress bar per test on stderr");
  cmd->add_flag("--bandwidth", o->bandwidth,
                "also measure the read bandwidth and report each generation test's weight bytes/s against it");
  cmd->callback([o] {
    if (o->json) o->output = "json";
    if (o->output != "md" && o->output != "json" && o->output != "jsonl")
      fail("--output must be md, json or jsonl, got '{}'", o->output);
    if (o->threads.empty()) o->threads.push_back(hardware_threads());
    std::vector<BenchTest> tests;
    for (int p : o->n_prompt) {
      if (p < 0) fail("-p must be >= 0, got {}", p);
      if (p > 0) tests.push_back({p, 0});
    }
    for (int n : o->n_gen) {
      if (n < 0) fail("-n must be >= 0, got {}", n);
      if (n > 0) tests.push_back({0, n});
    }
    for (auto& s : o->pg) {
      auto [a, b] = parse_pg(s);
      if (a + b > 0) tests.push_back({a, b});
    }
    if (tests.empty()) fail("nothing to measure: every -p, -n and -pg is 0");
    for (int t : o->threads)
      if (t < 1) fail("--threads must be >= 1, got {}", t);

    ModelOpts mo;
    mo.model = o->model;
    mo.cache_type_k = o->cache_type_k;
    mo.cache_type_v = o->cache_type_v;
    auto m = open_model(mo);
    const bool md = o->output == "md";
    const double wbytes = decode_weight_bytes(*m);
    if (md) fmt::print("{}", bench_markdown_header());
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    std::vector<std::string> notes;
    for (int th : o->threads) {
      double bw = o->bandwidth ? measure_read_bandwidth(th, 1.0) : 0.0;
      if (o->bandwidth && md)
        notes.push_back(fmt::format("read bandwidth, {} thread{}: {:.1f} GB/s", th, th > 1 ? "s" : "", bw / 1e9));
      for (const BenchTest& t : tests) {
        Progress bar(fmt::format("{} t{}", t.name(), th), o->reps, "runs", o->progress && stderr_is_terminal());
        BenchResult r = run_bench_test(*m, t, th, o->reps, o->n_batch, [&](int done, int) { bar.update(done); });
        bar.finish();
        nlohmann::ordered_json j = bench_json(*m, r);
        if (o->bandwidth && t.n_prompt == 0) {
          // Every generated token reads the weights once (the cache is small next to them).
          const double rate = wbytes * r.avg_ts;
          j["read_bandwidth"] = bw;
          j["weight_bytes_per_token"] = wbytes;
          j["weight_bytes_per_second"] = rate;
          if (md)
            notes.push_back(fmt::format("{} at {} thread{}: {:.1f} GB/s of weights, {:.0f}% of the read bandwidth",
                                        t.name(), th, th > 1 ? "s" : "", rate / 1e9, 100.0 * rate / bw));
        }
        if (md) {
          fmt::print("{}", bench_markdown_row(*m, r));
          std::fflush(stdout);
        } else if (o->output == "jsonl") {
          fmt::print("{}\n", j.dump());
          std::fflush(stdout);
        } else {
          all.push_back(j);
        }
      }
    }
    if (o->output == "json") fmt::print("{}\n", all.dump(2));
    if (md) {
      fmt::print("\nbuild: flops\n");
      for (auto& n : notes) fmt::print("{}\n", n);
    }
  });
}

}  // namespace flops::cli
