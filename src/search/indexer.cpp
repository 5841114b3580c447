#include "search/indexer.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <unordered_set>

#include "core/error.h"
#include "core/log.h"
#include "core/mmap_file.h"
#include "core/progress.h"
#include "cost/receipt.h"
#include "search/embedder.h"
#include "search/hash.h"
#include "search/postings.h"

namespace flops::search {

namespace fs = std::filesystem;

namespace {

struct PendingChunk {
  Span span;
  std::vector<std::string> body;
};

struct PendingDoc {
  int64_t file_id = 0;
  SourceDoc doc;
  std::vector<std::string> title_terms;
  std::vector<PendingChunk> chunks;
};

std::string embed_input(const SourceDoc& d, const Span& s) {
  std::string_view text = std::string_view(d.text).substr(s.start, s.end - s.start);
  if (d.title.empty()) return std::string(text);
  return d.title + "\n\n" + std::string(text);
}

// The cost of building, summed over every run that committed work (a crashed run's committed
// batches included), so a receipt can say what the index cost.
struct BuildCost {
  double flops = 0, wall_s = 0, cpu_s = 0, energy_j = 0;
  void read(Store& s) {
    flops = std::stod(s.meta_or("build.flops", "0"));
    wall_s = std::stod(s.meta_or("build.wall_s", "0"));
    cpu_s = std::stod(s.meta_or("build.cpu_s", "0"));
    energy_j = std::stod(s.meta_or("build.energy_j", "0"));
  }
};

struct Builder {
  Store& store;
  const IndexOptions& o;
  Analyzer analyzer;
  const Embedder* emb = nullptr;
  IndexStats stats;
  IndexReport& report;
  BuildCost base;
  cost::MeterReading start = cost::read_meter();
  std::string energy_method;
  std::vector<PendingDoc> docs;
  size_t pending_chunks = 0;
  std::vector<int64_t> files_done;
  int64_t vec_generation = 0;

  Builder(Store& s, const IndexOptions& opts, const AnalyzerConfig& a, const Embedder* e, IndexReport& r)
      : store(s), o(opts), analyzer(a), emb(e), report(r) {
    stats = store.stats();
    base.read(store);
    vec_generation = std::stoll(store.meta_or("vec.generation", "0"));
  }

  void write_cost() {
    cost::Receipt r = cost::make_receipt(start, cost::read_meter(), {});
    store.set_meta("build.flops", fmt::format("{}", base.flops + (double)r.flops.total()));
    store.set_meta("build.wall_s", fmt::format("{}", base.wall_s + r.wall_s));
    store.set_meta("build.cpu_s", fmt::format("{}", base.cpu_s + r.cpu_s));
    store.set_meta("build.energy_j", fmt::format("{}", base.energy_j + r.energy_j));
    store.set_meta("build.energy_method", r.energy_method);
  }

  void add(PendingDoc d) {
    pending_chunks += d.chunks.size();
    docs.push_back(std::move(d));
  }

  void flush() {
    if (docs.empty() && files_done.empty()) return;
    std::vector<float> vecs;
    if (emb) {
      std::vector<std::string> texts;
      for (const auto& d : docs)
        for (const auto& c : d.chunks) texts.push_back(embed_input(d.doc, c.span));
      vecs = emb->embed(texts);
    }
    Transaction t(store.db());
    Stmt ins_doc(store.db(), "INSERT INTO docs(file_id, key, title, text, meta, n_chunks) VALUES(?, ?, ?, ?, ?, ?)");
    Stmt ins_chunk(store.db(),
                   "INSERT INTO chunks(id, doc_id, ord, start, end, tokens, len, tlen) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    SegmentBuilder seg;
    std::vector<uint32_t> vec_ids;
    for (auto& d : docs) {
      ins_doc.bind(1, d.file_id).bind(2, d.doc.key).bind(3, d.doc.title).bind(4, d.doc.text);
      ins_doc.bind(5, d.doc.meta.dump()).bind(6, (int64_t)d.chunks.size()).run();
      int64_t doc_id = store.db().last_insert_rowid();
      for (size_t k = 0; k < d.chunks.size(); k++) {
        const PendingChunk& c = d.chunks[k];
        int64_t id = stats.next_chunk_id++;
        if (id > (int64_t)UINT32_MAX) fail("index '{}' is full: chunk ids past 2^32", store.path());
        ins_chunk.bind(1, id).bind(2, doc_id).bind(3, (int64_t)k).bind(4, (int64_t)c.span.start);
        ins_chunk.bind(5, (int64_t)c.span.end).bind(6, (int64_t)c.span.tokens).bind(7, (int64_t)c.body.size());
        ins_chunk.bind(8, (int64_t)d.title_terms.size()).run();
        seg.add((uint32_t)id, (uint32_t)doc_id, c.body, d.title_terms);
        vec_ids.push_back((uint32_t)id);
        stats.n_chunks++;
        stats.sum_len_body += (int64_t)c.body.size();
        stats.sum_len_title += (int64_t)d.title_terms.size();
      }
      stats.n_docs++;
      report.docs_added++;
      report.chunks_added += (int64_t)d.chunks.size();
    }
    if (!seg.empty()) write_segment(store.db(), seg);
    if (emb && !vec_ids.empty()) {
      Stmt ins_vec(store.db(), "INSERT INTO vec_blocks(n, ids, data) VALUES(?, ?, ?)");
      std::string ids = u32_blob(vec_ids);
      ins_vec.bind(1, (int64_t)vec_ids.size()).bind_blob(2, ids.data(), ids.size());
      ins_vec.bind_blob(3, vecs.data(), vecs.size() * sizeof(float)).run();
      store.set_meta("vec.generation", std::to_string(++vec_generation));
    }
    Stmt done(store.db(), "UPDATE files SET done = 1 WHERE id = ?");
    for (int64_t f : files_done) done.bind(1, f).run();
    store.write_stats(stats);
    write_cost();
    t.commit();
    docs.clear();
    files_done.clear();
    pending_chunks = 0;
  }

  // Inside the caller's transaction.
  void remove_file_docs(int64_t file_id) {
    Stmt sel(store.db(), "SELECT c.id, c.len, c.tlen FROM chunks c JOIN docs d ON c.doc_id = d.id WHERE d.file_id = ?");
    Stmt del(store.db(), "INSERT OR IGNORE INTO deleted(chunk_id) VALUES(?)");
    sel.bind(1, file_id);
    int64_t n = 0;
    while (sel.step()) {
      del.bind(1, sel.int64(0)).run();
      stats.n_chunks--;
      stats.sum_len_body -= sel.int64(1);
      stats.sum_len_title -= sel.int64(2);
      n++;
    }
    Stmt cnt(store.db(), "SELECT COUNT(*) FROM docs WHERE file_id = ?");
    cnt.bind(1, file_id);
    int64_t nd = cnt.step() ? cnt.int64(0) : 0;
    cnt.reset();
    stats.n_docs -= nd;
    report.docs_removed += nd;
    Stmt dc(store.db(), "DELETE FROM chunks WHERE doc_id IN (SELECT id FROM docs WHERE file_id = ?)");
    dc.bind(1, file_id).run();
    Stmt dd(store.db(), "DELETE FROM docs WHERE file_id = ?");
    dd.bind(1, file_id).run();
    if (n > 0 && emb) store.set_meta("vec.generation", std::to_string(++vec_generation));
  }
};

struct FileRow {
  int64_t id = 0;
  std::string hash;
  bool done = false;
};

std::string canonical(const std::string& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
  return (ec ? fs::absolute(p).lexically_normal() : c).string();
}

bool hidden(const fs::path& p) {
  std::string n = p.filename().string();
  return n.size() > 1 && n[0] == '.';
}

}  // namespace

std::vector<std::pair<std::string, InputFormat>> collect_inputs(const std::vector<std::string>& inputs, InputFormat f) {
  std::vector<std::pair<std::string, InputFormat>> out;
  for (const std::string& in : inputs) {
    if (!fs::exists(in)) fail("not found: '{}'", in);
    if (fs::is_directory(in)) {
      size_t before = out.size();
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(in, fs::directory_options::skip_permission_denied, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (hidden(it->path())) {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (!it->is_regular_file()) continue;
        std::string p = it->path().string();
        if (f == InputFormat::Beir) {
          if (it->path().filename() == "corpus.jsonl") out.push_back({canonical(p), f});
        } else if (f == InputFormat::Smart) {
          out.push_back({canonical(p), f});
        } else if (InputFormat g = format_of_path(p, f); g != InputFormat::Auto) {
          out.push_back({canonical(p), g});
        }
      }
      if (out.size() == before)
        fail("no documents found in '{}' (looked for {})", in,
             f == InputFormat::Beir ? "corpus.jsonl" : f == InputFormat::Smart ? "any file" : ".txt, .md, .html, .jsonl files");
    } else {
      InputFormat g = format_of_path(in, f);
      if (g == InputFormat::Auto)
        fail("{}: unsupported file type '{}' (flops index reads .txt, .md, .html, .jsonl; --format beir or smart for those layouts)",
             in, fs::path(in).extension().string());
      out.push_back({canonical(in), g});
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end(), [](auto& a, auto& b) { return a.first == b.first; }), out.end());
  return out;
}

IndexReport build_index(const IndexOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  IndexReport rep;
  if (o.output.empty()) fail("no index file given (-o INDEX)");
  if (o.batch_chunks < 1) fail("--batch-chunks must be >= 1, got {}", o.batch_chunks);
  bool created = false;
  auto store = Store::open_or_create(o.output, &created);
  std::string state = store->meta_or("state", "new");
  if (state == "building" && !o.resume)
    fail("index '{}' was left unfinished by an interrupted flops index: run it again with --resume to continue", o.output);

  // Settings: a new index takes the given ones (or defaults); an existing one keeps its own.
  IndexSettings want;
  bool fresh = created || state == "new";
  if (!fresh) want = store->settings();
  if (o.stemmer) want.analyzer.stemmer = *o.stemmer;
  if (o.stopwords) want.analyzer.stopwords = *o.stopwords;
  if (o.chunk_tokens) want.chunk.max_tokens = *o.chunk_tokens;
  if (o.chunk_overlap) want.chunk.overlap = *o.chunk_overlap;
  if (o.boundary) want.chunk.boundary = *o.boundary;
  check_chunk_config(want.chunk);
  std::string model_path = o.model_path ? *o.model_path : (fresh ? "" : want.model_path);
  std::unique_ptr<Embedder> emb;
  if (!model_path.empty()) {
    if (!o.model_path && !fs::exists(model_path))
      fail("index '{}' was embedded with {}, which is no longer at '{}': pass -m with that model", o.output,
           want.model_name, model_path);
    emb = Embedder::load(model_path, o.embed_tokens ? *o.embed_tokens : (fresh ? 0 : want.embed_max_tokens));
    want.model_name = emb->name;
    want.model_path = emb->path;
    want.model_sha256 = emb->sha256;
    want.dim = emb->dim;
    want.pooling = emb->pooling;
    want.embed_max_tokens = emb->max_tokens;
  } else {
    want.model_name = want.model_path = want.model_sha256 = want.pooling = "";
    want.dim = want.embed_max_tokens = 0;
  }
  if (fresh) {
    Analyzer probe(want.analyzer);  // fails on an unknown stemmer before anything is written
    Transaction t(store->db());
    store->write_settings(want);
    t.commit();
  } else {
    check_same_settings(store->settings(), want, o.output);
  }

  std::vector<std::string> inputs = o.inputs;
  if (inputs.empty()) {
    if (!o.resume || fresh) fail("no documents given: flops index DOCS... -o INDEX");
    nlohmann::json j = nlohmann::json::parse(store->meta_or("inputs", "[]"));
    for (auto& v : j) inputs.push_back(v.get<std::string>());
    if (inputs.empty()) fail("index '{}' records no inputs to resume from", o.output);
  }
  auto files = collect_inputs(inputs, o.format);
  {
    Transaction t(store->db());
    nlohmann::json j = nlohmann::json::array();
    for (auto& i : inputs) j.push_back(canonical(i));
    store->set_meta("inputs", j.dump());
    store->set_meta("input_format", format_name(o.format));
    store->set_meta("state", "building");
    t.commit();
  }

  Builder b(*store, o, want.analyzer, emb.get(), rep);
  rep.has_model = emb != nullptr;
  rep.model = want.model_name;

  // Files of the index that are no longer among the inputs go first.
  {
    std::set<std::string> wanted;
    for (auto& f : files) wanted.insert(f.first);
    std::vector<std::pair<int64_t, std::string>> gone;
    Stmt st(store->db(), "SELECT id, path FROM files");
    while (st.step())
      if (!wanted.count(st.text(1))) gone.push_back({st.int64(0), st.text(1)});
    if (!gone.empty()) {
      Transaction t(store->db());
      Stmt del(store->db(), "DELETE FROM files WHERE id = ?");
      for (auto& [id, path] : gone) {
        b.remove_file_docs(id);
        del.bind(1, id).run();
        b.stats.n_files--;
        rep.files_removed++;
      }
      store->write_stats(b.stats);
      t.commit();
    }
  }

  uint64_t total_bytes = 0, done_bytes = 0;
  for (auto& f : files) {
    std::error_code ec;
    total_bytes += fs::file_size(f.first, ec);
  }
  Progress bar("index", (int64_t)total_bytes, "B", o.progress);
  Stmt get_file(store->db(), "SELECT id, hash, done FROM files WHERE path = ?");
  for (auto& [path, fmt_] : files) {
    rep.files_seen++;
    std::string content = read_text_file(path);
    uint64_t size = content.size();
    std::string hash = sha256_hex(content);
    std::optional<FileRow> row;
    get_file.bind(1, path);
    if (get_file.step()) row = FileRow{get_file.int64(0), get_file.text(1), get_file.int64(2) != 0};
    get_file.reset();
    if (row && row->hash == hash && row->done) {
      rep.files_unchanged++;
      done_bytes += size;
      bar.update((int64_t)done_bytes);
      continue;
    }
    std::vector<SourceDoc> docs;
    try {
      docs = parse_documents(path, content, fmt_);
    } catch (const Error& e) {
      // A named file must be readable; inside a folder a bad file is skipped and reported.
      bool named = std::any_of(inputs.begin(), inputs.end(), [&](const std::string& i) { return canonical(i) == path; });
      if (named) throw;
      log::warn("skipped {}", e.what());
      rep.skipped.push_back({path, e.what()});
      if (row) {  // it was indexed before: its old content goes
        Transaction t(store->db());
        b.remove_file_docs(row->id);
        Stmt del(store->db(), "DELETE FROM files WHERE id = ?");
        del.bind(1, row->id).run();
        b.stats.n_files--;
        store->write_stats(b.stats);
        t.commit();
      }
      done_bytes += size;
      continue;
    }
    std::unordered_set<std::string> have;  // documents of a half-done file already committed
    {
      Transaction t(store->db());
      if (row && row->hash == hash) {
        Stmt keys(store->db(), "SELECT key FROM docs WHERE file_id = ?");
        keys.bind(1, row->id);
        while (keys.step()) have.insert(keys.text(0));
        rep.files_resumed++;
      } else if (row) {
        b.remove_file_docs(row->id);
        Stmt up(store->db(), "UPDATE files SET hash = ?, size = ?, done = 0 WHERE id = ?");
        up.bind(1, hash).bind(2, (int64_t)size).bind(3, row->id).run();
      } else {
        Stmt ins(store->db(), "INSERT INTO files(path, hash, size, done) VALUES(?, ?, ?, 0)");
        ins.bind(1, path).bind(2, hash).bind(3, (int64_t)size).run();
        row = FileRow{store->db().last_insert_rowid(), hash, false};
        b.stats.n_files++;
      }
      store->write_stats(b.stats);
      t.commit();
    }
    rep.files_indexed++;
    std::unordered_set<std::string> seen;
    auto counter = [&](std::string_view s) { return emb ? emb->count_tokens(s) : count_words(s); };
    for (size_t i = 0; i < docs.size(); i++) {
      SourceDoc& d = docs[i];
      if (!seen.insert(d.key).second) fail("{}: document id '{}' appears twice", path, d.key);
      if (have.count(d.key)) continue;
      PendingDoc pd;
      pd.file_id = row->id;
      for (auto& t : b.analyzer.analyze(d.title)) pd.title_terms.push_back(std::move(t.text));
      for (const Span& s : chunk_text(d.text, want.chunk, counter)) {
        PendingChunk c;
        c.span = s;
        for (auto& t : b.analyzer.analyze(std::string_view(d.text).substr(s.start, s.end - s.start)))
          c.body.push_back(std::move(t.text));
        pd.chunks.push_back(std::move(c));
      }
      if (pd.chunks.empty() && pd.title_terms.empty()) continue;  // nothing to find
      if (pd.chunks.empty()) pd.chunks.push_back({});               // a title alone is one chunk
      pd.doc = std::move(d);
      b.add(std::move(pd));
      if ((int64_t)b.pending_chunks >= o.batch_chunks) {
        b.flush();
        bar.update((int64_t)(done_bytes + size * (i + 1) / docs.size()), fmt::format("{} chunks", b.stats.n_chunks));
      }
    }
    b.files_done.push_back(row->id);
    done_bytes += size;
    if ((int64_t)b.pending_chunks >= o.batch_chunks / 4 || b.files_done.size() >= 256) b.flush();
    bar.update((int64_t)done_bytes, fmt::format("{} chunks", b.stats.n_chunks));
  }
  b.flush();
  bar.finish();

  // Finishing: merge segments when there are many or many deletions, (re)build the HNSW graph.
  int64_t n_deleted = 0, n_segments = 0;
  {
    Stmt c1(store->db(), "SELECT COUNT(*) FROM deleted");
    if (c1.step()) n_deleted = c1.int64(0);
    c1.reset();
    Stmt c2(store->db(), "SELECT COUNT(*) FROM segments");
    if (c2.step()) n_segments = c2.int64(0);
    c2.reset();
  }
  if (n_segments > 8 || (n_deleted > 0 && n_deleted * 10 >= b.stats.n_chunks) || (n_deleted > 0 && b.stats.n_chunks == 0)) {
    Transaction t(store->db());
    merge_segments(store->db());
    b.write_cost();
    t.commit();
    rep.merged = true;
  }
  std::string hpath = hnsw_path(o.output);
  if (emb && o.hnsw_min > 0 && b.stats.n_chunks >= o.hnsw_min) {
    std::string gen = store->meta_or("vec.generation", "0");
    if (store->meta_or("hnsw.generation", "") != gen || !fs::exists(hpath)) {
      std::unordered_set<uint32_t> deleted;
      Stmt st(store->db(), "SELECT chunk_id FROM deleted");
      while (st.step()) deleted.insert((uint32_t)st.int64(0));
      VectorSet v = load_vectors(store->db(), want.dim, deleted);
      Progress hb("hnsw", (int64_t)v.size(), "vec", o.progress);
      build_hnsw(v, hpath, o.hnsw, [&](int64_t d) { hb.update(d); });
      hb.finish();
      Transaction t(store->db());
      store->set_meta("hnsw.generation", gen);
      store->set_meta("hnsw.n", std::to_string(v.size()));
      store->set_meta("hnsw.M", std::to_string(o.hnsw.M));
      store->set_meta("hnsw.ef_construction", std::to_string(o.hnsw.ef_construction));
      b.write_cost();
      t.commit();
      rep.hnsw_built = true;
    }
  } else if (store->meta("hnsw.generation")) {
    Transaction t(store->db());
    store->db().exec("DELETE FROM meta WHERE key LIKE 'hnsw.%'");
    t.commit();
    std::error_code ec;
    fs::remove(hpath, ec);
  }
  {
    Transaction t(store->db());
    b.write_cost();
    store->set_meta("state", "complete");
    t.commit();
  }
  store->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  {
    Stmt c2(store->db(), "SELECT COUNT(*) FROM segments");
    if (c2.step()) rep.segments = c2.int64(0);
    c2.reset();
  }
  rep.n_docs = b.stats.n_docs;
  rep.n_chunks = b.stats.n_chunks;
  std::error_code ec;
  rep.bytes = fs::file_size(o.output, ec);
  if (fs::exists(hpath)) rep.bytes += fs::file_size(hpath, ec);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

nlohmann::json to_json(const IndexReport& r) {
  nlohmann::json j;
  j["files_seen"] = r.files_seen;
  j["files_indexed"] = r.files_indexed;
  j["files_unchanged"] = r.files_unchanged;
  j["files_removed"] = r.files_removed;
  j["files_resumed"] = r.files_resumed;
  j["skipped"] = nlohmann::json::array();
  for (auto& [f, why] : r.skipped) j["skipped"].push_back({{"file", f}, {"reason", why}});
  j["docs_added"] = r.docs_added;
  j["docs_removed"] = r.docs_removed;
  j["chunks_added"] = r.chunks_added;
  j["docs"] = r.n_docs;
  j["chunks"] = r.n_chunks;
  j["segments"] = r.segments;
  j["merged"] = r.merged;
  j["hnsw_built"] = r.hnsw_built;
  j["model"] = r.has_model ? nlohmann::json(r.model) : nlohmann::json(nullptr);
  j["bytes"] = r.bytes;
  j["seconds"] = r.seconds;
  return j;
}

}  // namespace flops::search

namespace flops::search {
nlohmann::json build_cost_json(Store& s) {
  return {{"flops", std::stod(s.meta_or("build.flops", "0"))},
          {"wall_s", std::stod(s.meta_or("build.wall_s", "0"))},
          {"cpu_s", std::stod(s.meta_or("build.cpu_s", "0"))},
          {"energy_j", std::stod(s.meta_or("build.energy_j", "0"))},
          {"energy_method", s.meta_or("build.energy_method", "")}};
}
}  // namespace flops::search
