#include "search/fusion.h"

#include <algorithm>
#include <unordered_map>

#include "core/error.h"

namespace flops::search {

FusionMethod parse_fusion(const std::string& n) {
  if (n == "rrf") return FusionMethod::Rrf;
  if (n == "weighted") return FusionMethod::Weighted;
  fail("unknown --fusion '{}' (rrf, weighted)", n);
}

std::string fusion_name(FusionMethod f) { return f == FusionMethod::Rrf ? "rrf" : "weighted"; }

void sort_hits(std::vector<ScoredId>& v, size_t k) {
  auto better = [](const ScoredId& a, const ScoredId& b) { return a.score != b.score ? a.score > b.score : a.id < b.id; };
  if (k < v.size()) {
    std::partial_sort(v.begin(), v.begin() + k, v.end(), better);
    v.resize(k);
  } else {
    std::sort(v.begin(), v.end(), better);
  }
}

std::vector<ScoredId> fuse_rrf(const std::vector<ScoredId>& a, const std::vector<ScoredId>& b, int k, size_t depth) {
  std::unordered_map<uint32_t, double> s;
  for (const auto* list : {&a, &b})
    for (size_t r = 0; r < std::min(depth, list->size()); r++) s[(*list)[r].id] += 1.0 / (k + (double)(r + 1));
  std::vector<ScoredId> out;
  out.reserve(s.size());
  for (auto& [id, v] : s) out.push_back({id, (float)v});
  sort_hits(out, out.size());
  return out;
}

std::vector<ScoredId> fuse_weighted(const std::vector<ScoredId>& lex, const std::vector<ScoredId>& dense, double alpha,
                                    size_t depth) {
  std::unordered_map<uint32_t, double> s;
  auto add = [&](const std::vector<ScoredId>& list, double w) {
    size_t n = std::min(depth, list.size());
    if (n == 0) return;
    float hi = list[0].score, lo = list[0].score;
    for (size_t i = 0; i < n; i++) hi = std::max(hi, list[i].score), lo = std::min(lo, list[i].score);
    double range = hi - lo;
    for (size_t i = 0; i < n; i++) s[list[i].id] += w * (range > 0 ? (list[i].score - lo) / range : 1.0);
  };
  add(lex, alpha);
  add(dense, 1 - alpha);
  std::vector<ScoredId> out;
  out.reserve(s.size());
  for (auto& [id, v] : s) out.push_back({id, (float)v});
  sort_hits(out, out.size());
  return out;
}

}  // namespace flops::search
