#pragma once
// search-eval: runs queries against an index and scores the document rankings (top 100) with
// metrics.h, per retrieval system; optionally tunes each system's settings by 2-fold
// cross-validation over the queries (fold A = 1st, 3rd, 5th ... query; fold B = the others):
// settings are chosen by nDCG@10 on one fold and the figure reported for each query comes from
// the settings chosen on the other fold, so no reported figure uses its own queries for tuning.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "search/metrics.h"
#include "search/qrels.h"
#include "search/searcher.h"

namespace flops::search {

// A retrieval system: a mode plus its settings.
struct System {
  std::string name;  // bm25, bm25+rm3, dense, hybrid-rrf, hybrid-weighted
  SearchOptions opts;
};

struct SystemResult {
  std::string name;
  MeanMetrics metrics;
  std::vector<QueryMetrics> per_query;
  nlohmann::json settings;  // what ran (per fold when tuned)
  double seconds = 0;
};

class Evaluator {
 public:
  // Keeps the queries that have at least one relevant judgement (the others are counted).
  Evaluator(Searcher& s, std::vector<EvalQuery> queries, Qrels qrels);
  size_t n_queries() const { return queries_.size(); }
  size_t n_without_relevant() const { return dropped_; }
  const std::vector<EvalQuery>& queries() const { return queries_; }

  // The top-100 document keys of query i.
  std::vector<std::string> ranking(size_t qi, const SearchOptions& o);
  MeanMetrics run(const std::vector<size_t>& qs, const SearchOptions& o, std::vector<QueryMetrics>* per = nullptr);
  SystemResult evaluate(const System& sys, const std::vector<size_t>& qs);
  // 2-fold cross-validated figure of the system family `name` (grid in evaluate.cpp).
  SystemResult tune(const std::string& name, const SearchOptions& base,
                    const std::function<void(const std::string&)>& log = {});

  std::vector<size_t> all() const;
  std::vector<size_t> fold(int f) const;  // 0: odd positions (1st, 3rd, ...), 1: even

 private:
  Searcher& s_;
  std::vector<EvalQuery> queries_;
  Qrels qrels_;
  size_t dropped_ = 0;
  std::vector<std::vector<QueryTerm>> terms_;
  std::vector<float> qvecs_;
  std::vector<std::vector<Hit>> dense_;  // per query, documents, depth 100 (fixed, so cached)
  std::unordered_map<uint32_t, std::string> keys_;
  std::map<std::pair<int, int>, SearchOptions> tuned_;  // (fold, 0 = bm25 / 1 = rm3): chosen lexical settings
  const std::vector<Hit>& dense_docs(size_t qi, const SearchOptions& o);
  std::vector<Hit> lexical_docs(size_t qi, const SearchOptions& o, size_t limit);
  const std::string& key(uint32_t doc);
};

nlohmann::json to_json(const SystemResult& r);

}  // namespace flops::search
