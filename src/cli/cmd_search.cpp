// flops search: query an index built by flops index; passages with the query's words marked.
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/search_opts.h"
#include "core/error.h"
#include "core/threads.h"
#include "core/utf8.h"
#include "cost/receipt.h"
#include "search/indexer.h"
#include "search/snippet.h"

namespace flops::cli {

void add_search(CLI::App& app) {
  struct Opts {
    std::string index, query, model;
    SearchFlags f;
    int snippet_words = 40;
    int threads = 0;
    bool json = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("search", "search an index: BM25, dense or hybrid");
  cmd->add_option("index", o->index, "index file (flops index)")->required();
  cmd->add_option("query", o->query, "the query")->required();
  add_search_flags(cmd, o->f);
  cmd->add_flag("--docs", o->f.o.docs, "rank documents (each by its best chunk) instead of chunks");
  cmd->add_option("-m,--model", o->model, "embedding model for the query (default: the index's own)");
  cmd->add_option("--snippet-words", o->snippet_words, "words per snippet (default 40)");
  cmd->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  cmd->add_flag("--json", o->json, "print one JSON object on stdout");
  cmd->add_flag("--quiet", o->quiet, "no cost receipt");
  cmd->callback([o] {
    finish_search_flags(o->f);
    if (o->threads < 0) fail("--threads must be >= 0, got {}", o->threads);
    set_threads(o->threads);
    if (size_t bad = utf8_invalid_offset(o->query); bad != std::string::npos)
      fail("the query is not valid UTF-8 (byte offset {})", bad);
    cost::Meter meter;
    search::Searcher s(o->index, o->model);
    search::SearchResult r = s.search(o->query, o->f.o);
    std::set<std::string> terms;
    for (auto& t : s.lexical().query_terms(o->query)) terms.insert(t.term);
    bool color = stdout_is_terminal() && !o->json;
    std::vector<search::ChunkView> views;
    std::vector<search::Snippet> snippets;
    for (auto& h : r.hits) {
      views.push_back(s.chunk(h.chunk));
      snippets.push_back(search::make_snippet(views.back().text, s.lexical().analyzer(), terms, o->snippet_words));
    }
    cost::ReceiptOptions ro;
    ro.label = "search";
    cost::Receipt receipt = cost::finish(meter, ro);
    nlohmann::json build = search::build_cost_json(s.store());
    if (o->json) {
      nlohmann::json j;
      j["query"] = o->query;
      j["mode"] = o->f.mode;
      j["terms"] = nlohmann::json::array();
      for (auto& t : r.terms) j["terms"].push_back({{"term", t.term}, {"weight", t.weight}});
      if (!r.note.empty()) j["note"] = r.note;
      j["hnsw"] = r.hnsw;
      j["postings"] = r.postings;
      j["results"] = nlohmann::json::array();
      for (size_t i = 0; i < r.hits.size(); i++) {
        const auto& v = views[i];
        nlohmann::json h = {{"rank", i + 1},       {"score", r.hits[i].score}, {"chunk", v.id},   {"ord", v.ord},
                            {"source", v.source()}, {"file", v.file},           {"key", v.key},    {"title", v.title},
                            {"text", v.text},       {"snippet", snippets[i].text}};
        h["highlights"] = nlohmann::json::array();
        for (auto [a, b] : snippets[i].marks) h["highlights"].push_back({a, b});
        j["results"].push_back(h);
      }
      j["receipt"] = cost::to_json(receipt);
      j["index_cost"] = build;
      fmt::print("{}\n", j.dump());
      return;
    }
    if (!r.note.empty()) fmt::print("{}\n", r.note);
    for (size_t i = 0; i < r.hits.size(); i++) {
      const auto& v = views[i];
      fmt::print("{:>2}. {:.4f}  {}{}  ({}{})\n", i + 1, r.hits[i].score, color ? "\x1b[1m" : "", v.title.empty() ? v.source() : v.title,
                 color ? "\x1b[0m" : "", v.source(), v.ord > 0 ? fmt::format(", chunk {}", v.ord + 1) : "");
      fmt::print("    {}\n", search::render_snippet(snippets[i], color ? "\x1b[1;33m" : "**", color ? "\x1b[0m" : "**"));
    }
    if (!o->quiet) {
      cost::print_receipt(stderr, receipt);
      print_index_cost(stderr, build);
    }
  });
}

}  // namespace flops::cli
