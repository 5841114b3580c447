// flops eval: lm-evaluation-harness-style tasks on a local model, an OpenAI-compatible
// endpoint, or recorded answers; with what every question cost.
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/mmap_file.h"
#include "core/threads.h"
#include "cost/receipt.h"
#include "harness/backend.h"
#include "harness/cache.h"
#include "harness/make_task.h"
#include "harness/registry.h"
#include "harness/report.h"
#include "harness/runner.h"

namespace flops::cli {

namespace {

struct EvalOpts {
  ModelOpts m;
  std::string tasks;
  bool list = false;
  std::vector<std::string> include, data_dirs;
  int ctx = 0;
  std::string api_base, api_model, api_key;
  bool api_completions = false;
  int api_timeout = 300;
  std::string responses, responses_key;
  int limit = 0, num_fewshot = -1, batch = 0, bootstrap = 100000;
  uint64_t seed = 1234;
  std::string cache, log_samples, output, make_task, task_name;
};

void write_text(const std::string& path, const std::string& text) { write_file_atomic(path, text.data(), text.size()); }

void print_list(const harness::Registry& r, bool json) {
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : r.entries)
      j.push_back({{"name", e.name}, {"type", e.output_type}, {"file", e.file}, {"tags", e.tags}, {"tasks", e.members}});
    fmt::print("{}\n", j.dump());
    return;
  }
  size_t w = 4;
  for (const auto& e : r.entries) w = std::max(w, e.name.size());
  fmt::print("{:<{}}  {:<15}  {}\n", "task", w, "type", "data / group members");
  for (const auto& e : r.entries) {
    std::string what = e.is_group ? fmt::format("{} tasks", e.members.size()) : e.dataset;
    fmt::print("{:<{}}  {:<15}  {}\n", e.name, w, e.output_type, what);
  }
  fmt::print("{} tasks and groups from {}\n", r.entries.size(), fmt::join(r.dirs, ", "));
}

void run(const EvalOpts& o) {
  if (!o.make_task.empty()) {
    if (o.output.empty()) fail("--make-task needs -o TASK.yaml (where to write the task)");
    harness::MadeTask t = harness::make_task(o.make_task, o.output, o.task_name);
    // The written file must load: check it before saying so.
    harness::parse_task_yaml(t.yaml, o.output, {});
    write_text(o.output, t.yaml);
    if (o.m.json)
      fmt::print("{}\n", nlohmann::json{{"task", t.name}, {"file", o.output}, {"questions", t.questions}, {"options", t.options}}.dump());
    else
      fmt::print("wrote {} (task {}: {} questions, {} options each); run it with: flops eval --tasks {}\n", o.output, t.name,
                 t.questions, t.options, o.output);
    return;
  }
  std::vector<std::string> data_dirs = o.data_dirs;
  for (auto& d : harness::default_data_dirs()) data_dirs.push_back(d);
  harness::Registry reg = harness::load_registry(o.include, data_dirs);
  if (o.list) return print_list(reg, o.m.json);
  if (o.tasks.empty()) fail("no task given: --tasks NAME[,NAME...] (flops eval --list shows them)");
  int backends = !o.api_base.empty() + !o.responses.empty() + !o.m.model.empty();
  if (backends > 1) fail("give one of -m MODEL, --api-base URL or --responses FILE");
  if (o.limit < 0) fail("--limit must be >= 0, got {}", o.limit);
  if (o.batch < 0) fail("--batch-size must be >= 1, got {}", o.batch);
  if (!o.output.empty() && std::filesystem::is_directory(o.output)) fail("-o: '{}' is a folder", o.output);

  harness::Selection sel = harness::select_tasks(reg, o.tasks);
  // Every task's data and templates are checked before anything runs.
  harness::PrepareOptions po;
  po.limit = o.limit;
  po.num_fewshot = o.num_fewshot;
  po.fewshot_seed = o.seed;
  std::vector<harness::PreparedTask> prepared;
  for (auto& t : sel.tasks) prepared.push_back(harness::prepare_task(t, po));

  bool show = !o.m.json && !o.m.quiet;
  std::unique_ptr<Model> model;
  std::unique_ptr<harness::Backend> shared;
  if (!o.api_base.empty()) {
    harness::ApiOptions ao;
    ao.base = o.api_base;
    ao.model = o.api_model;
    ao.api_key = o.api_key;
    ao.chat = !o.api_completions;
    ao.timeout_s = o.api_timeout;
    ao.seed = o.seed;
    shared = harness::make_api_backend(ao);
  } else if (o.responses.empty()) {
    ModelOpts mo = o.m;
    mo.model = resolve_model_path(o.m.model);
    model = open_model(mo);
    harness::LocalOptions lo;
    lo.n_ctx = o.ctx > 0 ? choose_context(*model, o.ctx, o.ctx) : 0;
    shared = harness::make_local_backend(*model, mo.model, lo);
  }
  std::unique_ptr<harness::RequestCache> cache;
  if (!o.cache.empty()) cache = std::make_unique<harness::RequestCache>(o.cache);

  cost::Meter meter;
  harness::RunOptions ro;
  // Local: questions share passes (their contexts, then all their choices); endpoints: one
  // request at a time unless asked, as the harness does.
  ro.batch_size = o.batch > 0 ? o.batch : (model ? 32 : 1);
  ro.progress = show;
  ro.bootstrap_iters = o.bootstrap;
  ro.keep_samples = !o.log_samples.empty();
  std::vector<harness::TaskResult> results;
  for (auto& p : prepared) {
    std::unique_ptr<harness::Backend> replay;
    harness::Backend* b = shared.get();
    if (!o.responses.empty()) {
      replay = harness::make_replay_backend({o.responses, o.responses_key}, p.cfg);
      b = replay.get();
    }
    if (show && stderr_is_terminal())
      fmt::print(stderr, "{}: {} questions ({} split{}), {}\n", p.cfg.name, p.inst.size(), p.eval_split,
                 p.num_fewshot > 0 ? fmt::format(", {}-shot", p.num_fewshot) : "", b->describe());
    results.push_back(harness::run_task(p, *b, cache.get(), ro));
  }
  std::vector<harness::GroupResult> groups;
  for (const auto& g : sel.groups) {
    std::vector<const harness::TaskResult*> members;
    for (const auto& name : g.tasks)
      for (const auto& r : results)
        if (r.name == name) members.push_back(&r);
    groups.push_back(harness::aggregate_group(g, members));
  }
  cost::ReceiptOptions rop;
  rop.label = "eval";
  cost::Receipt receipt = cost::finish(meter, rop);

  nlohmann::json config = {{"backend", shared ? shared->describe() : "responses " + o.responses},
                           {"limit", o.limit},
                           {"num_fewshot", o.num_fewshot},
                           {"fewshot_seed", o.seed},
                           {"batch_size", ro.batch_size}};
  if (model) config["model"] = std::filesystem::path(model->path).filename().string();
  if (!o.api_model.empty()) config["model"] = o.api_model;
  if (!o.responses.empty()) config["model"] = std::filesystem::path(o.responses).filename().string();
  nlohmann::json j = harness::results_json(results, groups, config);
  // An endpoint other than flops serve reports tokens but not what its answers cost: say so
  // rather than print a cost of zero.
  const char* unreported = "the endpoint reported no FLOPs or joules (flops serve adds them to usage; "
                           "llama-server and OpenAI report tokens only)";
  for (const auto& r : results)
    if (!o.api_base.empty() && r.requests > r.cached && r.flops < 0) j["cost"][r.name]["note"] = unreported;
  if (shared && shared->local_compute()) j["receipt"] = cost::to_json(receipt);
  if (cache) j["cache"] = {{"file", o.cache}, {"hits", cache->hits}, {"stored", cache->stored}};
  std::string dumped = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Files are written only now, whole, so a failed run leaves none behind.
  if (!o.log_samples.empty()) write_text(o.log_samples, harness::samples_jsonl(results));
  if (!o.output.empty()) write_text(o.output, j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (o.m.json) {
    fmt::print("{}\n", dumped);
    return;
  }
  fmt::print("{}", harness::results_table(results, groups));
  std::fflush(stdout);  // the notes below go to stderr after the table
  for (const auto& r : results)
    if (r.truncated > 0)
      fmt::print(stderr, "note: {}: {} of {} requests were longer than the window and lost their first tokens\n", r.name,
                 r.truncated, r.requests);
  for (const auto& r : results)
    if (j["cost"][r.name].contains("note")) fmt::print(stderr, "note: {}: {}\n", r.name, unreported);
  if (!o.m.quiet && shared && shared->local_compute()) cost::print_receipt(stderr, receipt);
}

}  // namespace

void add_eval(CLI::App& app) {
  auto o = std::make_shared<EvalOpts>();
  auto* cmd = app.add_subcommand("eval", "evaluate a model on lm-evaluation-harness-style tasks, with what each question costs");
  add_model_opts(cmd, o->m);
  add_cache_opts(cmd, o->m);
  cmd->add_option("--tasks", o->tasks, "tasks, groups, tags, patterns (mmlu_*) or task files, comma-separated");
  cmd->add_flag("--list", o->list, "list the tasks flops knows");
  cmd->add_option("--include-path", o->include, "also read task files from this folder (repeatable)");
  cmd->add_option("--data-dir", o->data_dirs, "look up relative dataset paths here too (repeatable; also $FLOPS_DATA)");
  cmd->add_option("-c,--ctx-size", o->ctx, "window of the local model (default: its trained context)");
  cmd->add_option("--api-base", o->api_base, "an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1");
  cmd->add_option("--api-model", o->api_model, "the model name the endpoint serves");
  cmd->add_option("--api-key", o->api_key, "bearer token for the endpoint");
  cmd->add_flag("--api-completions", o->api_completions, "generate through /v1/completions instead of /v1/chat/completions");
  cmd->add_option("--api-timeout", o->api_timeout, "seconds to wait for one answer (default 300)");
  cmd->add_option("--responses", o->responses, "replay recorded answers (JSON lines keyed by document id)");
  cmd->add_option("--responses-key", o->responses_key, "field or template giving a record's document id");
  cmd->add_option("--limit", o->limit, "the first N documents of each task only");
  cmd->add_option("--num-fewshot", o->num_fewshot, "few-shot examples (overrides the task's num_fewshot)");
  cmd->add_option("--seed", o->seed, "seed of the few-shot draw (default 1234, the harness's)");
  cmd->add_option("--batch-size", o->batch, "requests per backend call (default: 32 for -m, 1 for an endpoint)");
  cmd->add_option("--bootstrap-iters", o->bootstrap, "bootstrap resamples for the stderr of f1 and perplexity (default 100000)");
  cmd->add_option("--cache", o->cache, "keep answered requests in this file; a rerun continues from it");
  cmd->add_option("--log-samples", o->log_samples, "write one JSON line per question (prompt, log-likelihoods, answer, correct)");
  cmd->add_option("-o,--output", o->output, "write the results JSON here (with --make-task: the task file)");
  cmd->add_option("--make-task", o->make_task, "make a task file from a CSV of question, options, answer");
  cmd->add_option("--task-name", o->task_name, "name of the task --make-task writes (default: the file name)");
  cmd->callback([o] { run(*o); });
}

}  // namespace flops::cli
