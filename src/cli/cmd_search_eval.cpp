// flops search-eval: retrieval quality of an index on judged queries (Cranfield, BEIR, TREC).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/search_opts.h"
#include "core/error.h"
#include "core/log.h"
#include "core/threads.h"
#include "cost/receipt.h"
#include "search/evaluate.h"
#include "search/indexer.h"

namespace flops::cli {

void add_search_eval(CLI::App& app) {
  struct Opts {
    std::string index, queries, qrels, queries_format = "auto", qrels_format = "auto", numbering = "auto";
    std::string model, systems = "all", split = "all";
    SearchFlags f;
    bool tune = false;
    int threads = 0;
    bool json = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("search-eval", "nDCG@10, MAP@100, Recall@100 and MRR of an index on judged queries");
  cmd->add_option("index", o->index, "index file (flops index)")->required();
  cmd->add_option("--queries", o->queries, "queries: BEIR queries.jsonl, SMART (cran.qry) or id<TAB>text")->required();
  cmd->add_option("--qrels", o->qrels, "judgements: BEIR qrels.tsv, TREC 4-column, or Cranfield cranqrel")->required();
  cmd->add_option("--queries-format", o->queries_format, "auto, beir, smart, tsv");
  cmd->add_option("--qrels-format", o->qrels_format, "auto, beir, trec, cranfield");
  cmd->add_option("--query-numbering", o->numbering, "given, sequential (i-th query = id i, Cranfield), auto");
  cmd->add_option("--systems", o->systems,
                  "all, or a comma list of bm25, bm25+rm3, dense, hybrid-rrf, hybrid-weighted (default all the index supports)");
  add_search_flags(cmd, o->f, false);
  cmd->add_option("--split", o->split, "queries scored: all (default), A (1st, 3rd, ...) or B (2nd, 4th, ...)");
  cmd->add_flag("--tune", o->tune, "choose each system's settings by 2-fold cross-validation on the queries");
  cmd->add_option("-m,--model", o->model, "embedding model for the queries (default: the index's own)");
  cmd->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  cmd->add_flag("--quiet", o->quiet, "no cost receipt");
  cmd->callback([o, cmd] {
    finish_search_flags(o->f);
    if (o->threads < 0) fail("--threads must be >= 0, got {}", o->threads);
    set_threads(o->threads);
    cost::Meter meter;
    search::Searcher s(o->index, o->model);
    std::string qrels_used;
    search::Qrels qrels = search::read_qrels(o->qrels, o->qrels_format, &qrels_used);
    auto queries = search::read_queries(o->queries, o->queries_format);
    std::string numbering = search::number_queries(queries, qrels, o->numbering);
    size_t n_read = queries.size();
    search::Evaluator ev(s, std::move(queries), std::move(qrels));

    std::vector<std::string> systems;
    if (o->systems == "all") {
      systems = {"bm25", "bm25+rm3"};
      if (s.has_vectors()) systems.insert(systems.end(), {"dense", "hybrid-rrf", "hybrid-weighted"});
    } else {
      std::string rest = o->systems;
      while (!rest.empty()) {
        size_t c = rest.find(',');
        systems.push_back(rest.substr(0, c));
        rest = c == std::string::npos ? "" : rest.substr(c + 1);
      }
    }
    std::vector<size_t> qs = o->split == "all" ? ev.all() : o->split == "A" ? ev.fold(0) : o->split == "B" ? ev.fold(1)
                                                                                                         : std::vector<size_t>{};
    if (qs.empty()) fail("unknown --split '{}' (all, A, B)", o->split);
    if (o->tune && o->split != "all") fail("--tune scores every query by cross-validation: leave --split at all");
    bool show = !o->json && !o->quiet;
    std::vector<search::SystemResult> results;
    for (const std::string& name : systems) {
      search::SearchOptions so = o->f.o;
      if (name == "bm25") so.mode = search::Mode::Bm25, so.prf = false;
      else if (name == "bm25+rm3") so.mode = search::Mode::Bm25, so.prf = true;
      else if (name == "dense") so.mode = search::Mode::Dense, so.prf = false;
      else if (name == "hybrid-rrf") so.mode = search::Mode::Hybrid, so.fusion = search::FusionMethod::Rrf;
      else if (name == "hybrid-weighted") so.mode = search::Mode::Hybrid, so.fusion = search::FusionMethod::Weighted;
      else fail("unknown system '{}' (bm25, bm25+rm3, dense, hybrid-rrf, hybrid-weighted)", name);
      results.push_back(ev.evaluate({name, so}, qs));
      if (o->tune && name != "dense")
        results.push_back(ev.tune(name, so, [&](const std::string& m) {
          if (show) log::info("{}", m);
        }));
    }
    cost::ReceiptOptions ro;
    ro.label = "search-eval";
    cost::Receipt receipt = cost::finish(meter, ro);
    std::string gains = qrels_used == "cranfield"
                            ? "Cranfield codes 1-4 as gains 4-1, code -1 dropped"
                            : "gain = the qrels value (0 = judged not relevant)";
    if (o->json) {
      nlohmann::json j;
      j["index"] = o->index;
      j["queries_read"] = n_read;
      j["queries_scored"] = qs.size();
      j["queries_without_relevant"] = ev.n_without_relevant();
      j["query_numbering"] = numbering;
      j["qrels_format"] = qrels_used;
      j["gains"] = gains;
      j["unjudged"] = "not relevant";
      j["split"] = o->split;
      j["results"] = nlohmann::json::array();
      for (auto& r : results) j["results"].push_back(search::to_json(r));
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump());
      return;
    }
    fmt::print("{}: {} queries read ({} numbering), {} scored{}; {}; unjudged documents count as not relevant\n",
               o->index, n_read, numbering, qs.size(),
               ev.n_without_relevant() ? fmt::format(" ({} without a relevant judgement left out)", ev.n_without_relevant()) : "",
               gains);
    fmt::print("{:<36} {:>7} {:>8} {:>8} {:>8} {:>8}\n", "system", "queries", "nDCG@10", "MAP@100", "R@100", "MRR");
    for (auto& r : results)
      fmt::print("{:<36} {:>7} {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f}\n", r.name, r.metrics.n, r.metrics.ndcg10,
                 r.metrics.map100, r.metrics.recall100, r.metrics.mrr);
    for (auto& r : results) fmt::print("  {}: {}\n", r.name, r.settings.dump());
    if (!o->quiet) cost::print_receipt(stderr, receipt);
  });
}

}  // namespace flops::cli
