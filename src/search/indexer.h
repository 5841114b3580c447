#pragma once
// `flops index`: source files -> documents -> chunks -> terms and embeddings -> the index.
//
// Work is committed in batches (about --batch-chunks chunks, whole documents only): one SQLite
// transaction adds the documents, chunks, a postings segment, a vector block, the files whose
// documents are all in, and the counters. A crash leaves the last committed batch; the next run
// with --resume continues (a half-done file keeps the documents it has and adds the rest).
// Re-running on a complete index is incremental: a file whose content hash (SHA-256) is
// unchanged is skipped, a changed one is re-indexed, and files no longer among the inputs are
// removed. The index mirrors the inputs of its latest run.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "search/dense.h"
#include "search/parse.h"
#include "search/store.h"

namespace flops::search {

struct IndexOptions {
  std::vector<std::string> inputs;  // files and folders; empty with resume = the stored inputs
  std::string output;
  InputFormat format = InputFormat::Auto;
  // Settings of a new index; an existing one keeps its own, and a value given here that
  // differs from it is an error (unset = the index's, or the default for a new index).
  std::optional<std::string> stemmer;
  std::optional<bool> stopwords;
  std::optional<int> chunk_tokens, chunk_overlap;
  std::optional<Boundary> boundary;
  std::optional<std::string> model_path;  // "" = lexical only
  std::optional<int> embed_tokens;        // 0 = the model's context
  bool resume = false;
  int batch_chunks = 1024;
  int64_t hnsw_min = 50000;  // build the HNSW graph from this many vectors on (0 = never)
  HnswParams hnsw;
  bool progress = true;
};

struct IndexReport {
  int64_t files_seen = 0, files_indexed = 0, files_unchanged = 0, files_removed = 0, files_resumed = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // file, why
  int64_t docs_added = 0, chunks_added = 0, docs_removed = 0;
  int64_t n_docs = 0, n_chunks = 0;
  int64_t segments = 0;
  bool merged = false;
  bool hnsw_built = false;
  bool has_model = false;
  std::string model;
  uint64_t bytes = 0;  // database (+ HNSW) on disk
  double seconds = 0;
};

// Runs the whole build; `on_progress(done, total)` is called per batch with chunks.
IndexReport build_index(const IndexOptions& o);

nlohmann::json to_json(const IndexReport& r);

// Every document file under the inputs, sorted, with its format (folders are walked; files
// of unknown type given by name are an error).
std::vector<std::pair<std::string, InputFormat>> collect_inputs(const std::vector<std::string>& inputs, InputFormat f);

}  // namespace flops::search

namespace flops::search {
// What building the index cost, summed over its runs: {flops, wall_s, cpu_s, energy_j, energy_method}.
nlohmann::json build_cost_json(Store& s);
}  // namespace flops::search
