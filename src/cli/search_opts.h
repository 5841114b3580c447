#pragma once
// Retrieval flags shared by flops search, search-eval and ask.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "search/searcher.h"

namespace flops::cli {

struct SearchFlags {
  std::string mode = "bm25", fusion = "rrf";
  search::SearchOptions o;
};

// --mode, -k (when with_k), --k1, --b, --title-weight, --prf, --fb-docs, --fb-terms,
// --fb-weight, --fusion, --alpha, --rrf-k, --depth, --exact, --ef
void add_search_flags(CLI::App* cmd, SearchFlags& f, bool with_k = true);
// Checks the values and fills f.o.mode / f.o.fusion.
void finish_search_flags(SearchFlags& f);
// "index build: 1.23 GFLOP, 4.5 s, 45 J (modeled ...)" for the receipt of a query.
void print_index_cost(std::FILE* out, const nlohmann::json& cost);

}  // namespace flops::cli
