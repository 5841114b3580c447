#pragma once
// The index file: one SQLite database.
//
//   meta(key, value)           format version, analyzer, chunking, embedding model identity,
//                              build state and cost, live counts
//   files(id, path, hash, size, done)       one row per source file; done = all its documents
//                              are committed (a file interrupted mid-way has done = 0)
//   docs(id, file_id, key, title, text, meta, n_chunks)
//   chunks(id, doc_id, ord, start, end, tokens, len, tlen)   byte spans of the document text,
//                              model tokens, body and title term counts
//   segments(id, n, ids, lens, docs)        per committed batch: chunk ids (u32), their
//                              (body, title) term counts and documents, for BM25
//   postings(term, seg, df, data)           the inverted index: one blob per term and segment
//   vec_blocks(id, n, ids, data)            chunk embeddings, n x dim float32 per block
//   deleted(chunk_id)          chunks of removed documents still present in segments or
//                              vector blocks (filtered when searching, dropped by a merge)
//
// Chunk ids come from meta.next_chunk_id and are never reused, so a deleted id cannot come back
// as another chunk.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "search/analyze.h"
#include "search/chunk.h"
#include "search/db.h"

namespace flops::search {

// Version 1: the layout above.
inline constexpr int kIndexFormatVersion = 1;

// What an index was built with; fixed when it is created.
struct IndexSettings {
  AnalyzerConfig analyzer;
  ChunkConfig chunk;
  // The embedding model ("" = lexical only) and how it embeds.
  std::string model_name, model_path, model_sha256;
  int dim = 0;
  std::string pooling;
  int embed_max_tokens = 0;
  bool has_model() const { return !model_sha256.empty(); }
};

struct IndexStats {
  int64_t n_chunks = 0, n_docs = 0, n_files = 0;
  int64_t sum_len_body = 0, sum_len_title = 0;
  int64_t next_chunk_id = 0;
};

class Store {
 public:
  // Opens an existing index (fails clearly when missing, not an index, or of another format).
  static std::unique_ptr<Store> open(const std::string& path);
  // Creates the file and schema when missing; otherwise opens it as open() does.
  static std::unique_ptr<Store> open_or_create(const std::string& path, bool* created);

  Db& db() { return db_; }
  const std::string& path() const { return db_.path(); }

  std::optional<std::string> meta(const std::string& key);
  std::string meta_or(const std::string& key, const std::string& fallback);
  void set_meta(const std::string& key, const std::string& value);

  IndexSettings settings();
  void write_settings(const IndexSettings& s);
  IndexStats stats();
  void write_stats(const IndexStats& s);

 private:
  explicit Store(const std::string& path, bool create) : db_(path, create) {}
  void check_format();
  void create_schema();
  Db db_;
};

// Fails with a one-line reason when `wanted` cannot be added to an index built with `have`.
void check_same_settings(const IndexSettings& have, const IndexSettings& wanted, const std::string& path);

}  // namespace flops::search
