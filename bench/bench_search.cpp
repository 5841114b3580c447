// Search latency at scale (src/search/README.md, "Scale", has the commands that build the 1M-chunk index):
//   bench_search INDEX [queries (default 200)] [threads (default all)]
// Opens the index once, then times each query: BM25; dense exact (the engine's matmul over
// every vector); dense HNSW at several ef, with recall@10 against exact. Queries are 2-5 words
// drawn (seeded) from stored chunks. Prints p50/p99 latencies, their ratios measured side by
// side, memory (VmRSS / VmHWM), and one JSON line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "search_timing.h"
#include "core/threads.h"
#include "search/searcher.h"

using namespace flops;
using namespace flops::search;
using namespace flops::bench;

namespace {

struct Lat {
  std::vector<double> ms, cpu;
  double cpu_start = 0;
  Clock::time_point t;
  void start() { t = Clock::now(), cpu_start = cpu_ms(); }
  void stop() { ms.push_back(ms_since(t)), cpu.push_back(cpu_ms() - cpu_start); }
  double cpu_pct(double p) const {
    Lat c;
    c.ms = cpu;
    return c.pct(p);
  }
  double pct(double p) const {
    if (ms.empty()) return 0;
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    return s[std::min(s.size() - 1, (size_t)(p * (double)(s.size() - 1) + 0.5))];
  }
};

}  // namespace

int main(int argc, char** argv) {
  restart_with_passive_omp_wait(argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_search INDEX [queries] [threads]\n");
    return 2;
  }
  std::string path = argv[1];
  int nq = argc > 2 ? std::atoi(argv[2]) : 200;
  set_threads(argc > 3 ? std::atoi(argv[3]) : 0);
  auto t0 = Clock::now();
  Searcher s(path);
  double open_ms = ms_since(t0);
  IndexStats st = s.stats();
  fmt::print("{}: {} chunks, {} documents; opened in {:.0f} ms, RSS {:.0f} MB\n", path, st.n_chunks, st.n_docs, open_ms,
             status_mb("VmRSS:"));

  // Queries: words of random chunks.
  std::mt19937_64 rng(7);
  std::vector<std::string> queries;
  while ((int)queries.size() < nq) {
    uint32_t id = 1 + (uint32_t)(rng() % (uint64_t)(st.next_chunk_id - 1));
    if (s.lexical().doc_of(id) == 0) continue;
    std::string text = s.chunk(id).text;
    std::vector<std::string> words;
    for (auto& t : s.lexical().analyzer().analyze(text)) words.push_back(text.substr(t.start, t.end - t.start));
    if (words.size() < 5) continue;
    size_t n = 2 + rng() % 4, at = rng() % (words.size() - n + 1);
    std::string q;
    for (size_t i = 0; i < n; i++) q += (i ? " " : "") + words[at + i];
    queries.push_back(q);
  }

  nlohmann::json out = {{"index", path}, {"chunks", st.n_chunks}, {"queries", nq}, {"threads", get_threads()}, {"open_ms", open_ms}};
  SearchOptions o;
  o.k = 10;
  Lat bm25;
  int64_t postings = 0;
  for (auto& q : queries) {
    bm25.start();
    auto terms = s.lexical().query_terms(q);
    auto hits = s.lexical_ranking(terms, o, 10, &postings);
    bm25.stop();
  }
  // Second pass: postings now cached in memory (a long-running server's case).
  Lat bm25_warm;
  for (auto& q : queries) {
    bm25_warm.start();
    s.lexical_ranking(s.lexical().query_terms(q), o, 10);
    bm25_warm.stop();
  }
  fmt::print("bm25          p50 {:8.3f} ms  p99 {:8.3f} ms  CPU p50 {:.3f} p99 {:.3f} ms  ({} postings per query)\n",
             bm25.pct(0.5), bm25.pct(0.99), bm25.cpu_pct(0.5), bm25.cpu_pct(0.99), postings / nq);
  fmt::print("bm25 cached   p50 {:8.3f} ms  p99 {:8.3f} ms  CPU p50 {:.3f} p99 {:.3f} ms  (postings decoded already)\n",
             bm25_warm.pct(0.5), bm25_warm.pct(0.99), bm25_warm.cpu_pct(0.5), bm25_warm.cpu_pct(0.99));
  out["bm25"] = {{"p50_ms", bm25.pct(0.5)}, {"p99_ms", bm25.pct(0.99)}, {"cpu_p50_ms", bm25.cpu_pct(0.5)},
                 {"cpu_p99_ms", bm25.cpu_pct(0.99)}, {"postings_per_query", postings / nq},
                 {"cached_p50_ms", bm25_warm.pct(0.5)}, {"cached_p99_ms", bm25_warm.pct(0.99)},
                 {"cached_cpu_p50_ms", bm25_warm.cpu_pct(0.5)}, {"cached_cpu_p99_ms", bm25_warm.cpu_pct(0.99)}};

  if (s.has_vectors()) {
    Lat embed;
    std::vector<std::vector<float>> qv;
    s.embedder();
    for (auto& q : queries) {
      embed.start();
      qv.push_back(s.embed_queries({q}));
      embed.stop();
    }
    fmt::print("query embed   p50 {:8.3f} ms  p99 {:8.3f} ms  CPU p50 {:.3f} p99 {:.3f} ms\n", embed.pct(0.5), embed.pct(0.99),
               embed.cpu_pct(0.5), embed.cpu_pct(0.99));
    out["embed"] = {{"p50_ms", embed.pct(0.5)}, {"p99_ms", embed.pct(0.99)}};
    SearchOptions e = o;
    e.exact = true;
    auto tl = Clock::now();
    s.dense_ranking(qv[0].data(), e, 10);  // loads the vectors
    double load_ms = ms_since(tl);
    Lat exact;
    std::vector<std::vector<uint32_t>> truth;
    for (auto& v : qv) {
      exact.start();
      auto hits = s.dense_ranking(v.data(), e, 10);
      exact.stop();
      truth.push_back({});
      for (auto& h : hits) truth.back().push_back(h.id);
    }
    fmt::print("dense exact   p50 {:8.3f} ms  p99 {:8.3f} ms  CPU p50 {:.3f} p99 {:.3f} ms  (vectors loaded in {:.0f} ms, RSS {:.0f} MB)\n",
               exact.pct(0.5), exact.pct(0.99), exact.cpu_pct(0.5), exact.cpu_pct(0.99), load_ms, status_mb("VmRSS:"));
    out["exact"] = {{"p50_ms", exact.pct(0.5)}, {"p99_ms", exact.pct(0.99)}, {"cpu_p50_ms", exact.cpu_pct(0.5)},
                    {"cpu_p99_ms", exact.cpu_pct(0.99)}, {"load_ms", load_ms}};
    if (s.has_hnsw()) {
      out["hnsw"] = nlohmann::json::array();
      for (int ef : {10, 50, 100, 200}) {
        SearchOptions h = o;
        h.ef = ef;
        auto th = Clock::now();
        if (ef == 10) s.dense_ranking(qv[0].data(), h, 10);  // loads the graph
        double hload = ms_since(th);
        Lat lat;
        int found = 0, total = 0;
        for (size_t i = 0; i < qv.size(); i++) {
          lat.start();
          auto hits = s.dense_ranking(qv[i].data(), h, 10);
          lat.stop();
          std::set<uint32_t> tr(truth[i].begin(), truth[i].end());
          for (auto& x : hits) found += (int)tr.count(x.id);
          total += (int)truth[i].size();
        }
        double recall = total ? (double)found / total : 0;
        fmt::print("dense hnsw    p50 {:8.3f} ms  p99 {:8.3f} ms  CPU p50 {:.3f} ms  ef {:>3}  recall@10 vs exact {:.4f}  exact/hnsw CPU p50 {:.0f}x{}\n",
                   lat.pct(0.5), lat.pct(0.99), lat.cpu_pct(0.5), ef, recall, exact.cpu_pct(0.5) / std::max(1e-9, lat.cpu_pct(0.5)),
                   ef == 10 ? fmt::format(" (graph loaded in {:.0f} ms)", hload) : "");
        out["hnsw"].push_back({{"ef", ef}, {"p50_ms", lat.pct(0.5)}, {"p99_ms", lat.pct(0.99)}, {"cpu_p50_ms", lat.cpu_pct(0.5)},
                                {"cpu_p99_ms", lat.cpu_pct(0.99)}, {"recall_at_10", recall}});
      }
    }
  }
  out["rss_mb"] = status_mb("VmRSS:");
  out["peak_rss_mb"] = status_mb("VmHWM:");
  fmt::print("memory: RSS {:.0f} MB, peak {:.0f} MB\n", status_mb("VmRSS:"), status_mb("VmHWM:"));
  fmt::print("{}\n", out.dump());
  return 0;
}
