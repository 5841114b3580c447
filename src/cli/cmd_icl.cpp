// flops icl: in-context classification with conventional or structured prompting.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/threads.h"
#include "cost/receipt.h"
#include "prompt/dataset.h"
#include "prompt/icl.h"
#include "prompt/template.h"

namespace flops::cli {

namespace {

// A reproducible subset of the test set (all of it when n <= 0).
std::vector<prompt::Example> sample(std::vector<prompt::Example> v, int n, uint64_t seed) {
  if (n <= 0 || n >= (int)v.size()) return v;
  uint64_t s = seed ^ 0x5bd1e995ull;
  for (int i = 0; i < n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    int j = i + (int)((s >> 33) % (uint64_t)(v.size() - i));
    std::swap(v[i], v[j]);
  }
  v.resize(n);
  return v;
}

}  // namespace

void add_icl(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string demos, test, format = "auto", tmpl = "Input: {text}\\nLabel: {label}\\n\\n", labels, prefix;
    std::string method = "structured";
    int n_demos = -1, group_tokens = 0, groups = 0, ctx = 0, n_test = 0;
    float scale = 0;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("icl", "in-context classification: structured prompting (thousands of demonstrations) or conventional");
  add_model_opts(cmd, o->m);
  add_cache_opts(cmd, o->m);
  cmd->add_option("--demos", o->demos, "demonstrations: JSONL, CSV/TSV with a header, '<label> <text>' lines, TREC")->required();
  cmd->add_option("--test", o->test, "labelled test examples (same formats)")->required();
  cmd->add_option("--format", o->format, "auto, jsonl, csv, tsv, label-text or trec (default auto)");
  cmd->add_option("--template", o->tmpl, "prompt of one example; {label} once, {text} or other fields before it; \\n = newline");
  cmd->add_option("--labels", o->labels, "label words scored, 'a,b,...' (sorted raw labels map in order) or 'raw=a,...'");
  cmd->add_option("--prefix", o->prefix, "text at the start of every group / the prompt (\\n = newline)");
  cmd->add_option("--n-demos", o->n_demos, "demonstrations drawn at random from --demos (default all)");
  auto* gt = cmd->add_option("--group-tokens", o->group_tokens, "structured: tokens per group L (default: context minus the longest test)");
  auto* gm = cmd->add_option("--groups", o->groups, "structured: split the demonstrations into M groups instead");
  gt->excludes(gm);
  cmd->add_option("--method", o->method, "structured (default) or conventional (as many as fit in one context)");
  cmd->add_option("-c,--ctx-size", o->ctx, "context size (default: the model's)");
  cmd->add_option("--n-test", o->n_test, "score a random subset of this many test examples");
  cmd->add_option("--scale", o->scale, "attention scale of the test input (default: the number of groups)");
  cmd->add_option("--seed", o->seed, "seed for drawing demonstrations and test examples (default 1)");
  cmd->callback([o] {
    prompt::IclConfig cfg;
    cfg.method = prompt::parse_method(o->method);
    if (cfg.method == prompt::Method::Conventional && (o->group_tokens > 0 || o->groups > 0))
      fail("--group-tokens and --groups apply to --method structured only");
    if (o->n_demos < -1) fail("--n-demos must be >= 0, got {}", o->n_demos);
    if (o->group_tokens < 0 || o->groups < 0) fail("--group-tokens and --groups must be positive");
    if (o->ctx < 0) fail("--ctx-size must be positive, got {}", o->ctx);
    if (o->scale < 0) fail("--scale must be positive, got {}", o->scale);
    cfg.n_demos = o->n_demos;
    cfg.group_tokens = o->group_tokens;
    cfg.n_groups = o->groups;
    cfg.n_ctx = o->ctx;
    cfg.test_scale = o->scale;
    cfg.seed = o->seed;

    prompt::Template t = prompt::parse_template(o->tmpl);
    auto demos = prompt::read_examples(o->demos, o->format);
    auto tests = sample(prompt::read_examples(o->test, o->format), o->n_test, o->seed);
    std::vector<std::string> raw;
    for (auto& e : demos) raw.push_back(e.label);
    for (auto& e : tests) raw.push_back(e.label);
    prompt::LabelMap labels = prompt::parse_labels(o->labels, raw);
    std::string pre = prompt::unescape(o->prefix);

    cost::Meter meter;
    auto m = open_model(o->m);
    cfg.n_ctx = choose_context(*m, o->ctx, m->cfg.n_ctx_train);
    prompt::Task task = prompt::make_task(m->tok, demos, tests, t, labels, pre);
    bool show = !o->m.json && !o->m.quiet;
    Progress bar("icl", (int64_t)task.contexts.size(), "ex", show);
    prompt::IclResult r = prompt::run_icl(*m, task, cfg, [&](int done, int) { bar.update(done); });
    bar.finish();
    cost::ReceiptOptions ro;
    ro.label = "icl";
    cost::Receipt receipt = cost::finish(meter, ro);

    if (o->m.json) {
      nlohmann::json j;
      j["method"] = prompt::method_name(r.method);
      j["n_demos_requested"] = r.n_demos_requested;
      j["n_demos_used"] = r.n_demos_used;
      j["n_demos_skipped"] = r.n_skipped;
      j["n_groups"] = r.n_groups;
      j["max_group_tokens"] = r.max_group_tokens;
      j["demo_tokens"] = r.demo_tokens;
      j["test_positions_start"] = r.end_pos + 1;
      j["test_scale"] = r.test_scale;
      j["n_ctx"] = r.n_ctx;
      j["labels"] = task.label_names;
      j["n_test"] = r.gold.size();
      j["accuracy"] = r.accuracy;
      j["accuracy_norm"] = r.accuracy_norm;
      j["macro_f1"] = r.macro_f1;
      j["macro_f1_norm"] = r.macro_f1_norm;
      j["cost"] = {{"flops_encode", r.cost.flops_encode}, {"flops_test", r.cost.flops_test},
                   {"seconds_encode", r.cost.seconds_encode}, {"seconds_test", r.cost.seconds_test},
                   {"kv_bytes", r.cost.kv_bytes}, {"peak_rss_bytes", r.cost.peak_rss_bytes}};
      j["predictions"] = r.pred;
      j["gold"] = r.gold;
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump());
      return;
    }
    if (r.method == prompt::Method::Structured)
      fmt::print("structured prompting: {} demonstrations in {} groups of <= {} tokens, test at positions {}.., scale {:g}\n",
                 r.n_demos_used, r.n_groups, r.max_group_tokens, r.end_pos + 1, r.test_scale);
    else
      fmt::print("conventional prompting: {} of {} demonstrations fit ({} tokens of a {}-token context)\n", r.n_demos_used,
                 r.n_demos_requested, r.demo_tokens, r.n_ctx);
    if (r.n_skipped > 0) fmt::print("({} demonstrations longer than a group were left out)\n", r.n_skipped);
    fmt::print("{} test examples, labels: {}\n", r.gold.size(), fmt::join(task.label_names, ", "));
    fmt::print("accuracy  {:.4f}   (length-normalised {:.4f})\n", r.accuracy, r.accuracy_norm);
    fmt::print("macro-F1  {:.4f}   (length-normalised {:.4f})\n", r.macro_f1, r.macro_f1_norm);
    fmt::print("cost: encode demonstrations {} FLOP in {:.3f} s; tests {} FLOP in {:.3f} s; KV cache {:.1f} MB; peak RSS {:.1f} MB\n",
               format_si((double)r.cost.flops_encode), r.cost.seconds_encode, format_si((double)r.cost.flops_test),
               r.cost.seconds_test, r.cost.kv_bytes / 1e6, r.cost.peak_rss_bytes / 1e6);
    std::fflush(stdout);  // the receipt on stderr comes after the results
    if (!o->m.quiet) cost::print_receipt(stderr, receipt);
  });
}

}  // namespace flops::cli
