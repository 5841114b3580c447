#pragma once
// Queries against an index: BM25 (optionally with RM3), dense (exact or HNSW), or hybrid
// (both fused), ranking chunks or documents (a document scores as its best chunk).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "search/dense.h"
#include "search/embedder.h"
#include "search/fusion.h"
#include "search/lexical.h"
#include "search/store.h"

namespace flops::search {

enum class Mode { Bm25, Dense, Hybrid };
Mode parse_mode(const std::string& name);  // bm25, dense, hybrid
std::string mode_name(Mode m);

struct SearchOptions {
  Mode mode = Mode::Bm25;
  int k = 10;
  bool docs = false;  // rank documents instead of chunks
  Bm25Params bm25;
  bool prf = false;
  PrfParams prf_params;
  FusionMethod fusion = FusionMethod::Rrf;
  double alpha = 0.5;  // weighted fusion: share of the lexical score
  int rrf_k = 60;
  int depth = 100;     // units of each list that fusion reads
  bool exact = false;  // dense: score every vector even when an HNSW graph exists
  int ef = 100;        // HNSW search breadth
};

struct Hit {
  uint32_t id = 0;     // chunk id, or document id when ranking documents
  float score = 0;
  uint32_t chunk = 0;  // the (best) chunk
};

struct SearchResult {
  std::vector<Hit> hits;
  std::string note;                 // why the result is empty, when it is
  std::vector<QueryTerm> terms;     // the lexical query (after RM3 when on)
  std::vector<std::string> stopwords;
  int64_t postings = 0;             // postings BM25 read
  bool hnsw = false;                // dense part answered by the HNSW graph
};

struct ChunkView {
  uint32_t id = 0;
  int64_t doc = 0;
  int ord = 0;
  std::string file, key, title, text;  // text: the chunk's own
  nlohmann::json meta;
  // "path" or "path#key" for documents inside a multi-document file.
  std::string source() const { return key.empty() ? file : file + "#" + key; }
};

class Searcher {
 public:
  // model: the embedding model file for queries ("" = the one recorded in the index); it must be
  // the index's model (same SHA-256).
  explicit Searcher(const std::string& index_path, const std::string& model = "");
  ~Searcher();

  SearchResult search(const std::string& query, const SearchOptions& o);

  // Building blocks (evaluation reuses query embeddings and first-pass rankings).
  bool has_vectors() const { return settings_.has_model(); }
  const IndexSettings& settings() const { return settings_; }
  IndexStats stats() { return store_->stats(); }
  Store& store() { return *store_; }
  LexicalIndex& lexical() { return *lex_; }
  const Embedder& embedder();  // loads the model on first use
  // nq x dim, normalised.
  std::vector<float> embed_queries(const std::vector<std::string>& queries);
  // Best first, at most `limit` units.
  std::vector<Hit> lexical_ranking(const std::vector<QueryTerm>& q, const SearchOptions& o, size_t limit,
                                   int64_t* postings = nullptr);
  std::vector<Hit> dense_ranking(const float* qvec, const SearchOptions& o, size_t limit, bool* used_hnsw = nullptr);
  std::vector<Hit> fuse(const std::vector<Hit>& lexical, const std::vector<Hit>& dense, const SearchOptions& o, size_t limit);
  bool has_hnsw();

  ChunkView chunk(uint32_t id);
  // The document's key ("" for one-document files) or, when empty, its file path.
  std::string doc_key(uint32_t doc);
  std::string path() const { return path_; }

 private:
  std::string path_, model_override_;
  std::unique_ptr<Store> store_;
  IndexSettings settings_;
  std::unique_ptr<LexicalIndex> lex_;
  std::unique_ptr<Embedder> emb_;
  std::unique_ptr<VectorSet> vectors_;
  std::unique_ptr<HnswIndex> hnsw_;
  int hnsw_state_ = 0;  // 0 unknown, 1 present, -1 absent
  std::vector<Hit> aggregate(const std::vector<ScoredId>& chunks, bool docs, size_t limit);
};

}  // namespace flops::search
