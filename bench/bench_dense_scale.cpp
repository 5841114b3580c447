// Dense search at a size where embedding the chunks with a model is out of reach on this machine
// (flops-b embeds ~18 chunks/s here: a million would take ~15 hours), so the vectors are
// synthetic: unit vectors scattered around 1,024 seeded centres (clustered, as real embeddings
// are; uniform random vectors in 128 dimensions are HNSW's worst case, not a realistic one).
//   bench_dense_scale [N (default 1000000)] [dim (128)] [queries (200)] [HNSW vectors (N)] [threads]
// Times per query, side by side in one run: exact search (the engine's matmul over all N
// vectors, then top 10) and HNSW (the index's own build_hnsw / HnswIndex, M 16, ef_construction
// 200) at several ef, with recall@10 against exact over the same vectors. Prints build time,
// graph size, RSS, and one JSON line.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "search_timing.h"
#include "core/threads.h"
#include "search/dense.h"

using namespace flops;
using namespace flops::search;
using namespace flops::bench;

namespace {

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, (size_t)(p * (double)(v.size() - 1) + 0.5))];
}

void normalise(float* x, int d) {
  double s = 0;
  for (int i = 0; i < d; i++) s += (double)x[i] * x[i];
  float inv = (float)(1.0 / std::sqrt(std::max(s, 1e-30)));
  for (int i = 0; i < d; i++) x[i] *= inv;
}

// n unit vectors: centre c (one of `centres`) plus Gaussian noise of std `spread` per coordinate.
void clustered(std::mt19937_64& rng, const std::vector<float>& centres, int dim, size_t n, float spread, float* out) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  size_t nc = centres.size() / dim;
  for (size_t i = 0; i < n; i++) {
    const float* c = centres.data() + (rng() % nc) * dim;
    float* x = out + i * dim;
    for (int k = 0; k < dim; k++) x[k] = c[k] + spread * g(rng);
    normalise(x, dim);
  }
}

struct Timed {
  std::vector<double> ms, cpu;
};

}  // namespace

int main(int argc, char** argv) {
  restart_with_passive_omp_wait(argv);
  size_t n = argc > 1 ? std::stoull(argv[1]) : 1000000;
  int dim = argc > 2 ? std::atoi(argv[2]) : 128;
  int nq = argc > 3 ? std::atoi(argv[3]) : 200;
  size_t nh = argc > 4 ? std::stoull(argv[4]) : n;
  set_threads(argc > 5 ? std::atoi(argv[5]) : 0);
  nh = std::min(nh, n);
  if (n == 0 || dim <= 0 || nq <= 0) {
    std::fprintf(stderr, "usage: bench_dense_scale [N] [dim] [queries] [HNSW vectors] [threads]\n");
    return 2;
  }

  std::mt19937_64 rng(11);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> centres((size_t)1024 * dim);
  for (size_t i = 0; i < 1024; i++) {
    for (int k = 0; k < dim; k++) centres[i * dim + k] = g(rng);
    normalise(centres.data() + i * dim, dim);
  }
  // Spread so that a vector's cosine to its centre is about 0.7: clusters overlap.
  const float spread = 1.0f / std::sqrt((float)dim);
  auto t0 = Clock::now();
  VectorSet v;
  v.dim = dim;
  v.ids.resize(n);
  v.data.resize(n * (size_t)dim);
  for (size_t i = 0; i < n; i++) v.ids[i] = (uint32_t)(i + 1);
  clustered(rng, centres, dim, n, spread, v.data.data());
  std::vector<float> queries((size_t)nq * dim);
  clustered(rng, centres, dim, (size_t)nq, spread, queries.data());
  fmt::print("{} synthetic vectors of dim {} ({:.0f} MB) made in {:.1f} s, {} threads; RSS {:.0f} MB\n", n, dim,
             n * dim * 4.0 / 1e6, ms_since(t0) / 1e3, get_threads(), status_mb("VmRSS:"));
  nlohmann::json out = {{"vectors", n}, {"dim", dim}, {"queries", nq}, {"threads", get_threads()}, {"synthetic", "clustered"}};

  // Exact over all N, then over the HNSW subset (the truth for its recall).
  auto exact = [&](const VectorSet& s, Timed& t, std::vector<std::set<uint32_t>>* truth) {
    std::vector<float> scores;
    for (int q = 0; q < nq; q++) {
      auto w = Clock::now();
      double c = cpu_ms();
      exact_scores(s, queries.data() + (size_t)q * dim, 1, scores);
      auto top = top_k(scores.data(), s.ids.data(), s.size(), 10);
      t.ms.push_back(ms_since(w));
      t.cpu.push_back(cpu_ms() - c);
      if (truth) {
        truth->push_back({});
        for (auto& h : top) truth->back().insert(h.id);
      }
    }
  };
  Timed ex;
  std::vector<std::set<uint32_t>> truth;
  exact(v, ex, nh == n ? &truth : nullptr);
  fmt::print("exact  N {:>8}  p50 {:8.2f} ms  p99 {:8.2f} ms  CPU p50 {:.2f} ms  ({:.2f} GFLOP/s at p50)\n", n, pct(ex.ms, 0.5),
             pct(ex.ms, 0.99), pct(ex.cpu, 0.5), 2.0 * n * dim / (pct(ex.ms, 0.5) * 1e6));
  out["exact"] = {{"n", n}, {"p50_ms", pct(ex.ms, 0.5)}, {"p99_ms", pct(ex.ms, 0.99)}, {"cpu_p50_ms", pct(ex.cpu, 0.5)}};

  VectorSet sub;
  const VectorSet* hv = &v;
  Timed exs = ex;
  if (nh < n) {
    sub.dim = dim;
    sub.ids.assign(v.ids.begin(), v.ids.begin() + nh);
    sub.data.assign(v.data.begin(), v.data.begin() + nh * dim);
    v = VectorSet{};  // frees the rest: the graph's memory is measured alone
    hv = &sub;
    exs = {};
    exact(sub, exs, &truth);
    fmt::print("exact  N {:>8}  p50 {:8.2f} ms  p99 {:8.2f} ms  CPU p50 {:.2f} ms\n", nh, pct(exs.ms, 0.5), pct(exs.ms, 0.99),
               pct(exs.cpu, 0.5));
    out["exact_subset"] = {{"n", nh}, {"p50_ms", pct(exs.ms, 0.5)}, {"p99_ms", pct(exs.ms, 0.99)}, {"cpu_p50_ms", pct(exs.cpu, 0.5)}};
  }

  std::string path = std::filesystem::temp_directory_path().string() + "/bench_dense_scale." + std::to_string(getpid()) + ".hnsw";
  auto tb = Clock::now();
  double cb = cpu_ms();
  HnswParams hp;
  build_hnsw(*hv, path, hp);
  double build_s = ms_since(tb) / 1e3, build_cpu_s = (cpu_ms() - cb) / 1e3;
  double mb = std::filesystem::file_size(path) / 1e6;
  fmt::print("hnsw   N {:>8}  built in {:.1f} s ({:.1f} CPU-s), graph file {:.0f} MB, RSS {:.0f} MB\n", nh, build_s, build_cpu_s, mb,
             status_mb("VmRSS:"));
  out["hnsw_build"] = {{"n", nh}, {"seconds", build_s}, {"cpu_seconds", build_cpu_s}, {"file_mb", mb}, {"M", hp.M},
                       {"ef_construction", hp.ef_construction}};
  HnswIndex h(path, dim, nh);
  std::filesystem::remove(path);
  out["hnsw"] = nlohmann::json::array();
  for (int ef : {10, 50, 100, 200}) {
    Timed t;
    int found = 0;
    for (int q = 0; q < nq; q++) {
      auto w = Clock::now();
      double c = cpu_ms();
      auto hits = h.search(queries.data() + (size_t)q * dim, 10, ef);
      t.ms.push_back(ms_since(w));
      t.cpu.push_back(cpu_ms() - c);
      for (auto& x : hits) found += (int)truth[q].count(x.id);
    }
    double recall = found / (10.0 * nq);
    fmt::print("hnsw   ef {:>3}  p50 {:8.3f} ms  p99 {:8.3f} ms  CPU p50 {:.3f} ms  recall@10 vs exact {:.4f}  exact/hnsw p50 {:.0f}x\n",
               ef, pct(t.ms, 0.5), pct(t.ms, 0.99), pct(t.cpu, 0.5), recall, pct(exs.ms, 0.5) / std::max(1e-9, pct(t.ms, 0.5)));
    out["hnsw"].push_back({{"ef", ef}, {"p50_ms", pct(t.ms, 0.5)}, {"p99_ms", pct(t.ms, 0.99)}, {"cpu_p50_ms", pct(t.cpu, 0.5)},
                           {"recall_at_10", recall}});
  }
  out["rss_mb"] = status_mb("VmRSS:");
  out["peak_rss_mb"] = status_mb("VmHWM:");
  fmt::print("memory: RSS {:.0f} MB, peak {:.0f} MB\n{}\n", status_mb("VmRSS:"), status_mb("VmHWM:"), out.dump());
  return 0;
}
