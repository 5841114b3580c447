#pragma once
// Combining a lexical and a dense ranking of the same units (chunks or documents).
//
// Reciprocal-rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009):
//   score(d) = sum over lists of 1 / (k + rank(d)),  rank from 1, k = 60 by default;
// a unit absent from a list gets nothing from it.
// Weighted score fusion: each list's scores min-max normalised to [0, 1] over its own top
// `depth` units, then alpha * lexical + (1 - alpha) * dense (absent = 0).
// Both read only the top `depth` of each list. Ties: smaller id first.
#include <string>
#include <vector>

#include "search/dense.h"

namespace flops::search {

enum class FusionMethod { Rrf, Weighted };

FusionMethod parse_fusion(const std::string& name);  // rrf, weighted
std::string fusion_name(FusionMethod f);

// Lists best first.
std::vector<ScoredId> fuse_rrf(const std::vector<ScoredId>& a, const std::vector<ScoredId>& b, int k, size_t depth);
std::vector<ScoredId> fuse_weighted(const std::vector<ScoredId>& lexical, const std::vector<ScoredId>& dense,
                                    double alpha, size_t depth);

// Sorts best first (ties: smaller id) and keeps k.
void sort_hits(std::vector<ScoredId>& v, size_t k);

}  // namespace flops::search
