#pragma once
// Ranking metrics, per query, then averaged over the queries that have at least one relevant
// (gain > 0) judgement. A retrieved document without a judgement counts as not relevant.
//   nDCG@k  = DCG@k / IDCG@k, DCG@k = sum_{i<=k} gain_i / log2(i + 1) (linear gains, as
//             trec_eval's ndcg_cut); IDCG from every judged gain of the query, sorted.
//   AP@k    = (1/R) sum_{i<=k, rel_i} P@i, R = the query's relevant documents (MAP@100: k = 100)
//   R@k     = relevant documents in the top k / R
//   RR      = 1 / rank of the first relevant document in the top `depth` (0 when none)
#include <map>
#include <string>
#include <vector>

namespace flops::search {

struct QueryMetrics {
  double ndcg10 = 0, ap100 = 0, recall100 = 0, rr = 0;
};

// ranked: document keys, best first; judged: key -> gain.
QueryMetrics query_metrics(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged);

double ndcg_at(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged, size_t k);
double average_precision_at(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged, size_t k);
double recall_at(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged, size_t k);
double reciprocal_rank(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged, size_t depth);

struct MeanMetrics {
  double ndcg10 = 0, map100 = 0, recall100 = 0, mrr = 0;
  int n = 0;
  void add(const QueryMetrics& m);
  void finish();  // sums -> means
};

}  // namespace flops::search
