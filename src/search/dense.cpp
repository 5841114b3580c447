#include "search/dense.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>

#include <hnswlib/hnswlib.h>
#include <omp.h>

#include "core/error.h"
#include "core/matmul.h"
#include "core/threads.h"
#include "search/postings.h"

namespace flops::search {

VectorSet load_vectors(Db& db, int dim, const std::unordered_set<uint32_t>& deleted) {
  VectorSet v;
  v.dim = dim;
  if (dim <= 0) return v;
  Stmt st(db, "SELECT ids, data FROM vec_blocks ORDER BY id");
  const size_t row = (size_t)dim * sizeof(float);
  while (st.step()) {
    auto ids = blob_u32(st.blob(0));
    std::string_view data = st.blob(1);
    if (data.size() != ids.size() * row) fail("corrupt index: a vector block of {} bytes holds {} ids of dim {}", data.size(), ids.size(), dim);
    for (size_t i = 0; i < ids.size(); i++) {
      if (deleted.count(ids[i])) continue;
      v.ids.push_back(ids[i]);
      size_t at = v.data.size();
      v.data.resize(at + dim);
      std::memcpy(v.data.data() + at, data.data() + i * row, row);
    }
  }
  // Blocks are written in id order, but a merge may rewrite some: keep ids ascending.
  if (!std::is_sorted(v.ids.begin(), v.ids.end())) {
    std::vector<size_t> order(v.ids.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v.ids[a] < v.ids[b]; });
    VectorSet s;
    s.dim = dim;
    s.ids.resize(order.size());
    s.data.resize(v.data.size());
    for (size_t i = 0; i < order.size(); i++) {
      s.ids[i] = v.ids[order[i]];
      std::memcpy(s.data.data() + i * dim, v.data.data() + order[i] * dim, row);
    }
    return s;
  }
  return v;
}

void exact_scores(const VectorSet& v, const float* queries, int nq, std::vector<float>& scores) {
  scores.assign((size_t)nq * v.size(), 0.0f);
  if (v.size() == 0 || nq == 0) return;
  matmul(DType::F32, v.data.data(), (int64_t)v.size(), v.dim, queries, nq, scores.data());
}

std::vector<ScoredId> top_k(const float* scores, const uint32_t* ids, size_t n, int k) {
  std::vector<uint32_t> idx(n);
  for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
  auto better = [&](uint32_t a, uint32_t b) { return scores[a] != scores[b] ? scores[a] > scores[b] : ids[a] < ids[b]; };
  size_t kk = std::min(n, (size_t)std::max(0, k));
  std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), better);
  std::vector<ScoredId> out(kk);
  for (size_t i = 0; i < kk; i++) out[i] = {ids[idx[i]], scores[idx[i]]};
  return out;
}

std::string hnsw_path(const std::string& index_path) { return index_path + ".hnsw"; }

void build_hnsw(const VectorSet& v, const std::string& path, const HnswParams& p,
                const std::function<void(int64_t)>& progress) {
  hnswlib::InnerProductSpace space((size_t)v.dim);
  hnswlib::HierarchicalNSW<float> g(&space, std::max<size_t>(1, v.size()), (size_t)p.M, (size_t)p.ef_construction, 100);
  std::atomic<int64_t> done{0};
  const int64_t n = (int64_t)v.size();
  // The first point alone, then the rest in parallel (hnswlib locks per node).
  if (n > 0) g.addPoint(v.data.data(), v.ids[0]);
  int threads = get_threads();
#pragma omp parallel for schedule(dynamic, 256) num_threads(threads)
  for (int64_t i = 1; i < n; i++) {
    g.addPoint(v.data.data() + (size_t)i * v.dim, v.ids[i]);
    int64_t d = ++done;
    if (progress && d % 4096 == 0 && omp_get_thread_num() == 0) progress(d);
  }
  if (progress) progress(n);
  std::string tmp = path + ".tmp";
  g.saveIndex(tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("cannot write '{}': {}", path, ec.message());
}

struct HnswIndex::Impl {
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> g;
  explicit Impl(int dim) : space((size_t)dim) {}
};

HnswIndex::HnswIndex(const std::string& path, int dim, size_t n_expected) : impl_(std::make_unique<Impl>(dim)) {
  if (!std::filesystem::exists(path)) fail("HNSW graph '{}' is missing: run flops index again to rebuild it", path);
  try {
    impl_->g = std::make_unique<hnswlib::HierarchicalNSW<float>>(&impl_->space, path);
  } catch (const std::exception& e) {
    fail("cannot read HNSW graph '{}': {}", path, e.what());
  }
  if (impl_->g->data_size_ != (size_t)dim * sizeof(float))
    fail("HNSW graph '{}' holds vectors of another dimension", path);
  if (impl_->g->cur_element_count != n_expected)
    fail("HNSW graph '{}' holds {} vectors, the index {}: run flops index again to rebuild it", path,
         (size_t)impl_->g->cur_element_count, n_expected);
}

HnswIndex::~HnswIndex() = default;

size_t HnswIndex::size() const { return impl_->g->cur_element_count; }

std::vector<ScoredId> HnswIndex::search(const float* q, int k, int ef) const {
  if (k <= 0 || size() == 0) return {};
  impl_->g->setEf((size_t)std::max(ef, k));
  auto pq = impl_->g->searchKnn(q, (size_t)k);
  std::vector<ScoredId> out(pq.size());
  for (size_t i = pq.size(); i-- > 0;) {
    out[i] = {(uint32_t)pq.top().second, 1.0f - pq.top().first};
    pq.pop();
  }
  std::stable_sort(out.begin(), out.end(), [](const ScoredId& a, const ScoredId& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  return out;
}

}  // namespace flops::search
