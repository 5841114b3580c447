#include "search/searcher.h"

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "core/error.h"
#include "core/log.h"
#include "search/hash.h"

namespace flops::search {

Mode parse_mode(const std::string& n) {
  if (n == "bm25") return Mode::Bm25;
  if (n == "dense") return Mode::Dense;
  if (n == "hybrid") return Mode::Hybrid;
  fail("unknown --mode '{}' (bm25, dense, hybrid)", n);
}

std::string mode_name(Mode m) { return m == Mode::Bm25 ? "bm25" : m == Mode::Dense ? "dense" : "hybrid"; }

Searcher::Searcher(const std::string& path, const std::string& model) : path_(path), model_override_(model) {
  store_ = Store::open(path);
  std::string state = store_->meta_or("state", "new");
  if (state != "complete")
    fail("index '{}' is unfinished (an interrupted flops index): run flops index --resume -o {} first", path, path);
  settings_ = store_->settings();
  lex_ = std::make_unique<LexicalIndex>(*store_);
  if (!model.empty()) {
    if (!settings_.has_model())
      fail("index '{}' has no embeddings (it was built without -m), so -m {} cannot be used with it", path, model);
    std::string sha = sha256_file(model);
    if (sha != settings_.model_sha256)
      fail("index '{}' was embedded with {} (sha256 {}), not {} (sha256 {}): use that model or rebuild the index", path,
           settings_.model_name, settings_.model_sha256.substr(0, 12), model, sha.substr(0, 12));
  }
}

Searcher::~Searcher() = default;

const Embedder& Searcher::embedder() {
  if (emb_) return *emb_;
  if (!settings_.has_model())
    fail("index '{}' has no embeddings (it was built without -m MODEL): use --mode bm25, or rebuild it with -m", path_);
  std::string p = model_override_.empty() ? settings_.model_path : model_override_;
  if (!std::filesystem::exists(p))
    fail("index '{}' was embedded with {}, which is not at '{}' any more: pass -m with that model", path_,
         settings_.model_name, p);
  auto e = Embedder::load(p, settings_.embed_max_tokens);
  if (e->sha256 != settings_.model_sha256)
    fail("index '{}' was embedded with {} (sha256 {}), but '{}' now holds another model (sha256 {}): rebuild the index",
         path_, settings_.model_name, settings_.model_sha256.substr(0, 12), p, e->sha256.substr(0, 12));
  emb_ = std::move(e);
  return *emb_;
}

std::vector<float> Searcher::embed_queries(const std::vector<std::string>& q) { return embedder().embed(q); }

bool Searcher::has_hnsw() {
  if (hnsw_state_ == 0) {
    auto gen = store_->meta("hnsw.generation");
    hnsw_state_ = gen && *gen == store_->meta_or("vec.generation", "0") && std::filesystem::exists(hnsw_path(path_)) ? 1 : -1;
  }
  return hnsw_state_ > 0;
}

std::vector<Hit> Searcher::aggregate(const std::vector<ScoredId>& chunks, bool docs, size_t limit) {
  std::vector<Hit> out;
  if (!docs) {
    std::vector<ScoredId> c = chunks;
    sort_hits(c, limit);
    for (auto& s : c) out.push_back({s.id, s.score, s.id});
    return out;
  }
  std::unordered_map<uint32_t, Hit> best;
  for (const ScoredId& s : chunks) {
    uint32_t d = lex_->doc_of(s.id);
    if (d == 0) continue;
    auto [it, fresh] = best.try_emplace(d, Hit{d, s.score, s.id});
    if (!fresh && (s.score > it->second.score || (s.score == it->second.score && s.id < it->second.chunk)))
      it->second = Hit{d, s.score, s.id};
  }
  out.reserve(best.size());
  for (auto& [d, h] : best) out.push_back(h);
  auto better = [](const Hit& a, const Hit& b) { return a.score != b.score ? a.score > b.score : a.id < b.id; };
  if (limit < out.size()) {
    std::partial_sort(out.begin(), out.begin() + limit, out.end(), better);
    out.resize(limit);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
  return out;
}

std::vector<Hit> Searcher::lexical_ranking(const std::vector<QueryTerm>& q, const SearchOptions& o, size_t limit,
                                           int64_t* postings) {
  return aggregate(lex_->score(q, o.bm25, postings), o.docs, limit);
}

std::vector<Hit> Searcher::dense_ranking(const float* qvec, const SearchOptions& o, size_t limit, bool* used_hnsw) {
  embedder();
  if (!o.exact && has_hnsw()) {
    if (!hnsw_) hnsw_ = std::make_unique<HnswIndex>(hnsw_path(path_), settings_.dim, (size_t)std::stoll(store_->meta_or("hnsw.n", "0")));
    // Documents: over-fetch chunks so that enough distinct documents remain.
    int want = (int)std::min<size_t>(hnsw_->size(), o.docs ? limit * 4 : limit);
    auto hits = hnsw_->search(qvec, want, std::max(o.ef, want));
    if (used_hnsw) *used_hnsw = true;
    return aggregate(hits, o.docs, limit);
  }
  if (!vectors_) vectors_ = std::make_unique<VectorSet>(load_vectors(store_->db(), settings_.dim, lex_->deleted()));
  std::vector<float> scores;
  exact_scores(*vectors_, qvec, 1, scores);
  if (used_hnsw) *used_hnsw = false;
  if (!o.docs) {
    std::vector<Hit> out;
    for (auto& s : top_k(scores.data(), vectors_->ids.data(), vectors_->size(), (int)limit)) out.push_back({s.id, s.score, s.id});
    return out;
  }
  std::vector<ScoredId> all(vectors_->size());
  for (size_t i = 0; i < all.size(); i++) all[i] = {vectors_->ids[i], scores[i]};
  return aggregate(all, true, limit);
}

std::vector<Hit> Searcher::fuse(const std::vector<Hit>& a, const std::vector<Hit>& b, const SearchOptions& o, size_t limit) {
  std::unordered_map<uint32_t, uint32_t> chunk_of;
  std::vector<ScoredId> la, lb;
  for (auto& h : b) chunk_of[h.id] = h.chunk, lb.push_back({h.id, h.score});
  for (auto& h : a) chunk_of[h.id] = h.chunk, la.push_back({h.id, h.score});  // lexical's best chunk wins
  auto f = o.fusion == FusionMethod::Rrf ? fuse_rrf(la, lb, o.rrf_k, (size_t)o.depth)
                                         : fuse_weighted(la, lb, o.alpha, (size_t)o.depth);
  std::vector<Hit> out;
  for (size_t i = 0; i < std::min(limit, f.size()); i++) out.push_back({f[i].id, f[i].score, chunk_of[f[i].id]});
  return out;
}

SearchResult Searcher::search(const std::string& query, const SearchOptions& o) {
  if (o.k < 1) fail("-k must be at least 1, got {}", o.k);
  SearchResult r;
  r.terms = lex_->query_terms(query);
  r.stopwords = lex_->analyzer().stopwords_in(query);
  if (lex_->n_chunks() == 0) {
    r.note = "the index is empty";
    return r;
  }
  size_t depth = (size_t)std::max(o.k, o.depth);
  std::vector<Hit> lexical, dense;
  if (o.mode != Mode::Dense) {
    if (o.prf && !r.terms.empty()) {
      auto first = lex_->score(r.terms, o.bm25, &r.postings);
      sort_hits(first, (size_t)o.prf_params.fb_docs);
      r.terms = lex_->rm3(r.terms, first, o.prf_params, o.bm25);
    }
    lexical = lexical_ranking(r.terms, o, o.mode == Mode::Bm25 ? (size_t)o.k : depth, &r.postings);
  }
  if (o.mode != Mode::Bm25) {
    std::vector<float> q = embed_queries({query});
    dense = dense_ranking(q.data(), o, o.mode == Mode::Dense ? (size_t)o.k : depth, &r.hnsw);
  }
  if (o.mode == Mode::Bm25) r.hits = lexical;
  else if (o.mode == Mode::Dense) r.hits = dense;
  else r.hits = fuse(lexical, dense, o, (size_t)o.k);
  if (o.mode != Mode::Dense && r.terms.empty()) {
    std::string why = r.stopwords.empty() ? std::string("the query has no words to search for")
                                          : fmt::format("every word of the query is a stop word ({})", fmt::join(r.stopwords, ", "));
    r.note = o.mode == Mode::Bm25 ? why : why + ": the lexical half is empty, the ranking is dense only";
  } else if (r.hits.empty()) {
    r.note = "no chunk contains any of the query's terms";
  }
  return r;
}

ChunkView Searcher::chunk(uint32_t id) {
  Stmt st(store_->db(),
          "SELECT c.doc_id, c.ord, c.start, c.end, d.key, d.title, d.text, d.meta, f.path FROM chunks c "
          "JOIN docs d ON d.id = c.doc_id JOIN files f ON f.id = d.file_id WHERE c.id = ?");
  st.bind(1, (int64_t)id);
  ChunkView v;
  v.id = id;
  if (!st.step()) fail("index '{}': chunk {} not found", path_, id);
  v.doc = st.int64(0);
  v.ord = (int)st.int64(1);
  size_t a = (size_t)st.int64(2), b = (size_t)st.int64(3);
  v.key = st.text(4);
  v.title = st.text(5);
  std::string text = st.text(6);
  v.text = text.substr(std::min(a, text.size()), b - a);
  v.meta = nlohmann::json::parse(st.text(7), nullptr, false);
  v.file = st.text(8);
  st.reset();
  return v;
}

std::string Searcher::doc_key(uint32_t doc) {
  Stmt st(store_->db(), "SELECT d.key, f.path FROM docs d JOIN files f ON f.id = d.file_id WHERE d.id = ?");
  st.bind(1, (int64_t)doc);
  std::string k;
  if (st.step()) k = st.text(0).empty() ? st.text(1) : st.text(0);
  st.reset();
  return k;
}

}  // namespace flops::search
