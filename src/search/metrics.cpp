#include "search/metrics.h"

#include <algorithm>
#include <cmath>

namespace flops::search {

namespace {

double gain_of(const std::map<std::string, double>& judged, const std::string& key) {
  auto it = judged.find(key);
  return it == judged.end() ? 0.0 : std::max(0.0, it->second);
}

size_t n_relevant(const std::map<std::string, double>& judged) {
  size_t n = 0;
  for (auto& [k, g] : judged) n += g > 0;
  return n;
}

}  // namespace

double ndcg_at(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged, size_t k) {
  double dcg = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); i++) dcg += gain_of(judged, ranked[i]) / std::log2((double)i + 2);
  std::vector<double> gains;
  for (auto& [key, g] : judged)
    if (g > 0) gains.push_back(g);
  std::sort(gains.rbegin(), gains.rend());
  double idcg = 0;
  for (size_t i = 0; i < std::min(k, gains.size()); i++) idcg += gains[i] / std::log2((double)i + 2);
  return idcg > 0 ? dcg / idcg : 0;
}

double average_precision_at(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged, size_t k) {
  size_t R = n_relevant(judged);
  if (R == 0) return 0;
  double sum = 0;
  size_t hits = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); i++)
    if (gain_of(judged, ranked[i]) > 0) sum += (double)++hits / (double)(i + 1);
  return sum / (double)R;
}

double recall_at(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged, size_t k) {
  size_t R = n_relevant(judged);
  if (R == 0) return 0;
  size_t hits = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); i++) hits += gain_of(judged, ranked[i]) > 0;
  return (double)hits / (double)R;
}

double reciprocal_rank(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged, size_t depth) {
  for (size_t i = 0; i < std::min(depth, ranked.size()); i++)
    if (gain_of(judged, ranked[i]) > 0) return 1.0 / (double)(i + 1);
  return 0;
}

QueryMetrics query_metrics(const std::vector<std::string>& ranked, const std::map<std::string, double>& judged) {
  return {ndcg_at(ranked, judged, 10), average_precision_at(ranked, judged, 100), recall_at(ranked, judged, 100),
          reciprocal_rank(ranked, judged, 100)};
}

void MeanMetrics::add(const QueryMetrics& m) {
  ndcg10 += m.ndcg10, map100 += m.ap100, recall100 += m.recall100, mrr += m.rr;
  n++;
}

void MeanMetrics::finish() {
  if (n == 0) return;
  ndcg10 /= n, map100 /= n, recall100 /= n, mrr /= n;
}

}  // namespace flops::search
