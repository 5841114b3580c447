#include "search/store.h"

#include <filesystem>

#include "core/error.h"

namespace flops::search {

std::unique_ptr<Store> Store::open(const std::string& path) {
  if (!std::filesystem::exists(path)) fail("index not found: '{}' (build it with flops index DOCS -o {})", path, path);
  if (std::filesystem::is_directory(path)) fail("'{}' is a folder, not an index file", path);
  std::unique_ptr<Store> s(new Store(path, false));
  s->check_format();
  return s;
}

std::unique_ptr<Store> Store::open_or_create(const std::string& path, bool* created) {
  namespace fs = std::filesystem;
  bool exists = fs::exists(path);
  if (exists && fs::is_directory(path)) fail("'{}' is a folder, not an index file", path);
  if (exists && fs::file_size(path) > 0) {
    if (created) *created = false;
    return open(path);
  }
  std::unique_ptr<Store> s(new Store(path, true));
  s->create_schema();
  if (created) *created = true;
  return s;
}

void Store::check_format() {
  std::string version;
  try {
    Stmt st(db_, "SELECT value FROM meta WHERE key = 'format_version'");
    if (st.step()) version = st.text(0);
  } catch (const Error&) {
    fail("'{}' is not a flops index (no meta table)", path());
  }
  if (version.empty()) fail("'{}' is not a flops index (no format version)", path());
  if (version != std::to_string(kIndexFormatVersion))
    fail("index '{}' has format version {}; this flops reads version {}: rebuild it (delete the file and run flops index again)",
         path(), version, kIndexFormatVersion);
}

void Store::create_schema() {
  Transaction t(db_);
  db_.exec(
      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,"
      " done INTEGER NOT NULL);"
      "CREATE TABLE docs(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, key TEXT NOT NULL, title TEXT NOT NULL,"
      " text TEXT NOT NULL, meta TEXT NOT NULL, n_chunks INTEGER NOT NULL, UNIQUE(file_id, key));"
      "CREATE TABLE chunks(id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, ord INTEGER NOT NULL, start INTEGER NOT NULL,"
      " end INTEGER NOT NULL, tokens INTEGER NOT NULL, len INTEGER NOT NULL, tlen INTEGER NOT NULL);"
      "CREATE INDEX chunks_doc ON chunks(doc_id);"
      "CREATE TABLE segments(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, ids BLOB NOT NULL, lens BLOB NOT NULL,"
      " docs BLOB NOT NULL);"
      "CREATE TABLE postings(term TEXT NOT NULL, seg INTEGER NOT NULL, df INTEGER NOT NULL, data BLOB NOT NULL,"
      " PRIMARY KEY(term, seg)) WITHOUT ROWID;"
      "CREATE TABLE vec_blocks(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, ids BLOB NOT NULL, data BLOB NOT NULL);"
      "CREATE TABLE deleted(chunk_id INTEGER PRIMARY KEY);");
  set_meta("format_version", std::to_string(kIndexFormatVersion));
  set_meta("state", "new");
  t.commit();
}

std::optional<std::string> Store::meta(const std::string& key) {
  Stmt st(db_, "SELECT value FROM meta WHERE key = ?");
  st.bind(1, key);
  if (st.step()) {
    std::string v = st.text(0);
    st.reset();
    return v;
  }
  return std::nullopt;
}

std::string Store::meta_or(const std::string& key, const std::string& fallback) {
  auto v = meta(key);
  return v ? *v : fallback;
}

void Store::set_meta(const std::string& key, const std::string& value) {
  Stmt st(db_, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  st.bind(1, key).bind(2, value).run();
}

IndexSettings Store::settings() {
  IndexSettings s;
  s.analyzer.stemmer = meta_or("analyzer.stemmer", "english");
  s.analyzer.stopwords = meta_or("analyzer.stopwords", "1") == "1";
  s.chunk.max_tokens = std::stoi(meta_or("chunk.max_tokens", "200"));
  s.chunk.overlap = std::stoi(meta_or("chunk.overlap", "32"));
  s.chunk.boundary = parse_boundary(meta_or("chunk.boundary", "sentence"));
  s.model_name = meta_or("model.name", "");
  s.model_path = meta_or("model.path", "");
  s.model_sha256 = meta_or("model.sha256", "");
  s.dim = std::stoi(meta_or("model.dim", "0"));
  s.pooling = meta_or("model.pooling", "");
  s.embed_max_tokens = std::stoi(meta_or("model.max_tokens", "0"));
  return s;
}

void Store::write_settings(const IndexSettings& s) {
  set_meta("analyzer.stemmer", s.analyzer.stemmer);
  set_meta("analyzer.stopwords", s.analyzer.stopwords ? "1" : "0");
  set_meta("chunk.max_tokens", std::to_string(s.chunk.max_tokens));
  set_meta("chunk.overlap", std::to_string(s.chunk.overlap));
  set_meta("chunk.boundary", boundary_name(s.chunk.boundary));
  set_meta("model.name", s.model_name);
  set_meta("model.path", s.model_path);
  set_meta("model.sha256", s.model_sha256);
  set_meta("model.dim", std::to_string(s.dim));
  set_meta("model.pooling", s.pooling);
  set_meta("model.max_tokens", std::to_string(s.embed_max_tokens));
}

IndexStats Store::stats() {
  IndexStats s;
  s.n_chunks = std::stoll(meta_or("stats.n_chunks", "0"));
  s.n_docs = std::stoll(meta_or("stats.n_docs", "0"));
  s.n_files = std::stoll(meta_or("stats.n_files", "0"));
  s.sum_len_body = std::stoll(meta_or("stats.sum_len_body", "0"));
  s.sum_len_title = std::stoll(meta_or("stats.sum_len_title", "0"));
  s.next_chunk_id = std::stoll(meta_or("stats.next_chunk_id", "1"));
  return s;
}

void Store::write_stats(const IndexStats& s) {
  set_meta("stats.n_chunks", std::to_string(s.n_chunks));
  set_meta("stats.n_docs", std::to_string(s.n_docs));
  set_meta("stats.n_files", std::to_string(s.n_files));
  set_meta("stats.sum_len_body", std::to_string(s.sum_len_body));
  set_meta("stats.sum_len_title", std::to_string(s.sum_len_title));
  set_meta("stats.next_chunk_id", std::to_string(s.next_chunk_id));
}

void check_same_settings(const IndexSettings& have, const IndexSettings& want, const std::string& path) {
  auto differ = [&](const std::string& what, const std::string& a, const std::string& b) {
    if (a != b)
      fail("index '{}' was built with {} {}, not {}: rebuild it (delete the file) to change it", path, what, a, b);
  };
  differ("--chunk-tokens", std::to_string(have.chunk.max_tokens), std::to_string(want.chunk.max_tokens));
  differ("--chunk-overlap", std::to_string(have.chunk.overlap), std::to_string(want.chunk.overlap));
  differ("--chunk-boundary", boundary_name(have.chunk.boundary), boundary_name(want.chunk.boundary));
  differ("--stemmer", have.analyzer.stemmer, want.analyzer.stemmer);
  differ("stop words", have.analyzer.stopwords ? "on" : "off", want.analyzer.stopwords ? "on" : "off");
  if (have.model_sha256 != want.model_sha256) {
    auto name = [](const IndexSettings& s) {
      return s.has_model() ? fmt::format("{} (sha256 {})", s.model_name, s.model_sha256.substr(0, 12)) : std::string("no model");
    };
    fail("index '{}' was embedded with {}, not {}: rebuild it (delete the file) to change the embedding model", path,
         name(have), name(want));
  }
}

}  // namespace flops::search
