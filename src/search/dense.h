#pragma once
// Dense retrieval over the chunk embeddings of an index.
//
// Exact: every stored vector is scored against the query with the engine's matmul (one
// 2*N*dim FLOP product, counted like any model product); vectors are L2-normalised, so the
// dot product is the cosine. Approximate: an HNSW graph (hnswlib, inner-product space) built by
// `flops index` once the index holds --hnsw-min vectors, kept beside the database as
// INDEX.hnsw and tied to it by the vector generation recorded in both.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "search/db.h"

namespace flops::search {

struct ScoredId {
  uint32_t id = 0;
  float score = 0;
};

// Live vectors (deleted chunks left out), ascending chunk id.
struct VectorSet {
  int dim = 0;
  std::vector<uint32_t> ids;
  std::vector<float> data;  // ids.size() x dim
  size_t size() const { return ids.size(); }
};

VectorSet load_vectors(Db& db, int dim, const std::unordered_set<uint32_t>& deleted);

// scores[q * N + i] = dot(query q, vector i) for nq queries.
void exact_scores(const VectorSet& v, const float* queries, int nq, std::vector<float>& scores);
// The k best of n scores (ties: smaller id first), best first.
std::vector<ScoredId> top_k(const float* scores, const uint32_t* ids, size_t n, int k);

struct HnswParams {
  int M = 16;
  int ef_construction = 200;
  int ef_search = 100;
};

std::string hnsw_path(const std::string& index_path);

// Builds the graph of every vector (labels = chunk ids) and writes it atomically to `path`.
void build_hnsw(const VectorSet& v, const std::string& path, const HnswParams& p,
                const std::function<void(int64_t done)>& progress = {});

class HnswIndex {
 public:
  // Fails when the file is missing, of another dimension, or not of n elements.
  HnswIndex(const std::string& path, int dim, size_t n_expected);
  ~HnswIndex();
  std::vector<ScoredId> search(const float* query, int k, int ef) const;
  size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flops::search
