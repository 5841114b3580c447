// flops ask: answer a question from an index's passages, with numbered citations.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/search_opts.h"
#include "core/error.h"
#include "core/utf8.h"
#include "cost/receipt.h"
#include "search/ask.h"
#include "search/indexer.h"

namespace flops::cli {

void add_ask(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string index, question, embed_model;
    SearchFlags f;
    search::AskOptions a;
    int ctx = 0;
  };
  auto o = std::make_shared<Opts>();
  o->f.o.k = 8;
  o->a.sampling.temp = 0.0f;
  auto* cmd = app.add_subcommand("ask", "answer a question from an index, citing its passages");
  cmd->add_option("index", o->index, "index file (flops index)")->required();
  cmd->add_option("question", o->question, "the question")->required();
  add_model_opts(cmd, o->m);
  add_cache_opts(cmd, o->m);
  add_search_flags(cmd, o->f, false);
  cmd->add_option("-k,--passages", o->f.o.k, "passages retrieved, best first, as many as fit the context (default 8)");
  cmd->add_option("--embed-model", o->embed_model, "embedding model for the query (default: the index's own)");
  cmd->add_option("-n,--n-predict", o->a.n_predict, "answer tokens at most (default 96)");
  cmd->add_option("-c,--ctx-size", o->ctx, "context (default: the model's)");
  cmd->add_option("--min-passage-tokens", o->a.min_passage_tokens, "smallest part of a passage worth including (default 24)");
  cmd->add_option("--temp", o->a.sampling.temp, "temperature; 0 = greedy (default 0: the same answer every time)");
  cmd->add_option("--top-k", o->a.sampling.top_k, "top-k sampling (default 40)");
  cmd->add_option("--top-p", o->a.sampling.top_p, "top-p sampling (default 0.95)");
  cmd->add_option("-s,--seed", o->a.sampling.seed, "random seed (default 42)");
  cmd->callback([o, cmd] {
    if (!cmd->count("--mode")) o->f.mode = "auto";
    bool auto_mode = o->f.mode == "auto";
    if (auto_mode) o->f.mode = "bm25";
    finish_search_flags(o->f);
    if (size_t bad = utf8_invalid_offset(o->question); bad != std::string::npos)
      fail("the question is not valid UTF-8 (byte offset {})", bad);
    auto m = open_model(o->m);
    if (o->ctx < 0) fail("--ctx-size must be positive, got {}", o->ctx);
    o->a.n_ctx = choose_context(*m, o->ctx, m->cfg.n_ctx_train > 0 ? m->cfg.n_ctx_train : 512);
    cost::Meter meter;
    search::Searcher s(o->index, o->embed_model);
    if (auto_mode && s.has_vectors()) o->f.o.mode = search::Mode::Hybrid;
    o->a.search = o->f.o;
    cost::MeterReading t0 = cost::read_meter();
    search::AskResult r = search::ask(s, *m, o->question, o->a);
    cost::MeterReading t1 = cost::read_meter();
    cost::ReceiptOptions ro;
    ro.label = "ask";
    cost::Receipt receipt = cost::finish(meter, ro);
    // The parts: retrieval (search + prompt fitting) and generation, from the generation's clock.
    double gen_s = r.generation.prompt_seconds + r.generation.gen_seconds;
    nlohmann::json parts = {{"total_wall_s", t1.wall_s - t0.wall_s}, {"generation_wall_s", gen_s},
                            {"retrieval_wall_s", std::max(0.0, t1.wall_s - t0.wall_s - gen_s)}};
    nlohmann::json build = search::build_cost_json(s.store());
    if (o->m.json) {
      nlohmann::json j = search::to_json(r);
      j["mode"] = search::mode_name(o->f.o.mode);
      j["model"] = m->path;
      j["receipt"] = cost::to_json(receipt);
      j["receipt_parts"] = parts;
      j["index_cost"] = build;
      fmt::print("{}\n", j.dump());
      return;
    }
    fmt::print("{}\n\n", r.answer.empty() ? std::string("(the model gave no answer)") : r.answer);
    fmt::print("Sources{}:\n", r.citations.empty() ? " given to the model (the answer cites none)" : "");
    for (const auto& p : r.passages) {
      bool cited = std::find(r.citations.begin(), r.citations.end(), p.n) != r.citations.end();
      if (!r.citations.empty() && !cited) continue;
      fmt::print("  [{}] {}{}\n", p.n, p.title.empty() ? p.source : p.title + " (" + p.source + ")", p.truncated ? " (cut)" : "");
    }
    if (!r.dropped.empty()) fmt::print("(dropped citation numbers that name no passage: {})\n", fmt::join(r.dropped, ", "));
    if (!r.retrieval.note.empty()) fmt::print("(retrieval: {})\n", r.retrieval.note);
    if (!o->m.quiet) {
      fmt::print(stderr, "prompt: {} tokens with {} passages, context {} ({} for the answer, {} generated)\n",
                 r.prompt_tokens, r.passages.size(), r.n_ctx, r.n_predict, r.generation.tokens.size());
      fmt::print(stderr, "time: retrieval {:.3f} s, generation {:.3f} s\n", parts["retrieval_wall_s"].get<double>(), gen_s);
      cost::print_receipt(stderr, receipt);
      print_index_cost(stderr, build);
    }
  });
}

}  // namespace flops::cli
