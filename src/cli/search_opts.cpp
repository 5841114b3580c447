#include "cli/search_opts.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/progress.h"

namespace flops::cli {

void add_search_flags(CLI::App* cmd, SearchFlags& f, bool with_k) {
  cmd->add_option("--mode", f.mode, "bm25 (default), dense or hybrid");
  if (with_k) cmd->add_option("-k,--top-k", f.o.k, "results (default 10)");
  cmd->add_option("--k1", f.o.bm25.k1, "BM25 k1 (default 1.2)");
  cmd->add_option("--b", f.o.bm25.b, "BM25 b (default 0.75)");
  cmd->add_option("--title-weight", f.o.bm25.title_weight, "weight of title terms against body terms (default 1)");
  cmd->add_flag("--prf", f.o.prf, "RM3 pseudo-relevance feedback on the lexical query");
  cmd->add_option("--fb-docs", f.o.prf_params.fb_docs, "RM3 feedback chunks (default 10)");
  cmd->add_option("--fb-terms", f.o.prf_params.fb_terms, "RM3 expansion terms (default 10)");
  cmd->add_option("--fb-weight", f.o.prf_params.orig_weight, "RM3 weight of the original query (default 0.5)");
  cmd->add_option("--fusion", f.fusion, "hybrid: rrf (default) or weighted");
  cmd->add_option("--alpha", f.o.alpha, "weighted fusion: share of the BM25 score (default 0.5)");
  cmd->add_option("--rrf-k", f.o.rrf_k, "reciprocal-rank fusion constant (default 60)");
  cmd->add_option("--depth", f.o.depth, "hybrid: results of each list fused (default 100)");
  cmd->add_flag("--exact", f.o.exact, "dense: score every vector even when an HNSW graph exists");
  cmd->add_option("--ef", f.o.ef, "HNSW search breadth (default 100)");
}

void finish_search_flags(SearchFlags& f) {
  f.o.mode = search::parse_mode(f.mode);
  f.o.fusion = search::parse_fusion(f.fusion);
  if (f.o.bm25.k1 < 0) fail("--k1 must be >= 0, got {}", f.o.bm25.k1);
  if (f.o.bm25.b < 0 || f.o.bm25.b > 1) fail("--b must be in [0, 1], got {}", f.o.bm25.b);
  if (f.o.bm25.title_weight < 0) fail("--title-weight must be >= 0, got {}", f.o.bm25.title_weight);
  if (f.o.prf_params.fb_docs < 1 || f.o.prf_params.fb_terms < 1) fail("--fb-docs and --fb-terms must be >= 1");
  if (f.o.prf_params.orig_weight < 0 || f.o.prf_params.orig_weight > 1) fail("--fb-weight must be in [0, 1]");
  if (f.o.alpha < 0 || f.o.alpha > 1) fail("--alpha must be in [0, 1], got {}", f.o.alpha);
  if (f.o.rrf_k < 0) fail("--rrf-k must be >= 0, got {}", f.o.rrf_k);
  if (f.o.depth < 1) fail("--depth must be >= 1, got {}", f.o.depth);
  if (f.o.ef < 1) fail("--ef must be >= 1, got {}", f.o.ef);
}

void print_index_cost(std::FILE* out, const nlohmann::json& c) {
  std::string method = c.value("energy_method", std::string());
  method = method.substr(0, method.find(' '));  // "measured" or "modeled"
  fmt::print(out, "index build (all runs): {} FLOP, {} wall, {:.1f} CPU-s, {:.1f} J {}\n", format_si(c.value("flops", 0.0)),
             format_duration(c.value("wall_s", 0.0)), c.value("cpu_s", 0.0), c.value("energy_j", 0.0), method);
}

}  // namespace flops::cli
