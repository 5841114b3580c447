#include "search/postings.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "core/error.h"

namespace flops::search {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += (char)((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += (char)v;
}

uint64_t get_varint(const char*& p, const char* end) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) fail("corrupt index: truncated postings");
    uint8_t b = (uint8_t)*p++;
    v |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
  fail("corrupt index: varint too long");
}

void encode_postings(const std::vector<Posting>& ps, std::string& out) {
  uint32_t prev = 0;
  for (const Posting& p : ps) {
    uint64_t delta = p.chunk - prev;
    prev = p.chunk;
    put_varint(out, delta << 1 | (p.tf_title ? 1 : 0));
    put_varint(out, p.tf);
    if (p.tf_title) put_varint(out, p.tf_title);
  }
}

void decode_postings(std::string_view blob, std::vector<Posting>& out) {
  const char* p = blob.data();
  const char* end = p + blob.size();
  uint32_t prev = 0;
  while (p < end) {
    uint64_t h = get_varint(p, end);
    Posting q;
    q.chunk = prev + (uint32_t)(h >> 1);
    prev = q.chunk;
    q.tf = (uint32_t)get_varint(p, end);
    if (h & 1) q.tf_title = (uint32_t)get_varint(p, end);
    out.push_back(q);
  }
}

std::string u32_blob(const std::vector<uint32_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(uint32_t));
}

std::vector<uint32_t> blob_u32(std::string_view b) {
  if (b.size() % 4) fail("corrupt index: blob of {} bytes is not a u32 array", b.size());
  std::vector<uint32_t> v(b.size() / 4);
  if (!v.empty()) std::memcpy(v.data(), b.data(), b.size());
  return v;
}

void SegmentBuilder::add(uint32_t chunk, uint32_t doc, const std::vector<std::string>& body,
                         const std::vector<std::string>& title) {
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> tf;
  for (const auto& t : body) tf[t].first++;
  for (const auto& t : title) tf[t].second++;
  for (auto& [term, c] : tf) {
    auto& list = terms[std::string(term)];
    list.push_back({chunk, c.first, c.second});
  }
  ids.push_back(chunk);
  lens.push_back((uint32_t)body.size());
  lens.push_back((uint32_t)title.size());
  docs.push_back(doc);
}

void SegmentBuilder::clear() {
  terms.clear();
  ids.clear();
  lens.clear();
  docs.clear();
}

int64_t write_segment(Db& db, const SegmentBuilder& b) {
  Stmt seg(db, "INSERT INTO segments(n, ids, lens, docs) VALUES(?, ?, ?, ?)");
  std::string ids = u32_blob(b.ids), lens = u32_blob(b.lens), docs = u32_blob(b.docs);
  seg.bind(1, (int64_t)b.ids.size()).bind_blob(2, ids.data(), ids.size()).bind_blob(3, lens.data(), lens.size());
  seg.bind_blob(4, docs.data(), docs.size()).run();
  int64_t id = db.last_insert_rowid();
  Stmt post(db, "INSERT INTO postings(term, seg, df, data) VALUES(?, ?, ?, ?)");
  std::string blob;
  for (const auto& [term, ps] : b.terms) {
    blob.clear();
    encode_postings(ps, blob);
    post.bind(1, term).bind(2, id).bind(3, (int64_t)ps.size()).bind_blob(4, blob.data(), blob.size()).run();
  }
  return id;
}

void merge_segments(Db& db) {
  std::unordered_set<uint32_t> deleted;
  {
    Stmt st(db, "SELECT chunk_id FROM deleted");
    while (st.step()) deleted.insert((uint32_t)st.int64(0));
  }
  // Segments: one row with every live chunk, in id order.
  std::vector<std::pair<uint32_t, std::pair<uint64_t, uint32_t>>> rows;  // id -> (lens, doc)
  {
    Stmt st(db, "SELECT ids, lens, docs FROM segments ORDER BY id");
    while (st.step()) {
      auto ids = blob_u32(st.blob(0)), lens = blob_u32(st.blob(1)), docs = blob_u32(st.blob(2));
      for (size_t i = 0; i < ids.size(); i++)
        if (!deleted.count(ids[i]))
          rows.push_back({ids[i], {(uint64_t)lens[2 * i] << 32 | lens[2 * i + 1], docs[i]}});
    }
  }
  std::sort(rows.begin(), rows.end());
  SegmentBuilder merged;
  for (auto& [id, v] : rows) {
    merged.ids.push_back(id);
    merged.lens.push_back((uint32_t)(v.first >> 32));
    merged.lens.push_back((uint32_t)v.first);
    merged.docs.push_back(v.second);
  }
  rows.clear();
  db.exec("DELETE FROM segments");
  int64_t seg_id = write_segment(db, merged);

  // Postings: stream terms in order, one term's blobs (from every old segment) at a time.
  db.exec("CREATE TEMP TABLE merged_postings(term TEXT NOT NULL, df INTEGER NOT NULL, data BLOB NOT NULL)");
  {
    Stmt read(db, "SELECT term, data FROM postings ORDER BY term, seg");
    Stmt write(db, "INSERT INTO temp.merged_postings(term, df, data) VALUES(?, ?, ?)");
    std::string term, blob;
    std::vector<Posting> ps;
    auto flush = [&] {
      if (term.empty()) return;
      std::vector<Posting> live;
      live.reserve(ps.size());
      for (const Posting& p : ps)
        if (!deleted.count(p.chunk)) live.push_back(p);
      std::sort(live.begin(), live.end(), [](const Posting& a, const Posting& b) { return a.chunk < b.chunk; });
      if (!live.empty()) {
        blob.clear();
        encode_postings(live, blob);
        write.bind(1, term).bind(2, (int64_t)live.size()).bind_blob(3, blob.data(), blob.size()).run();
      }
      ps.clear();
    };
    while (read.step()) {
      std::string t = read.text(0);
      if (t != term) {
        flush();
        term = t;
      }
      decode_postings(read.blob(1), ps);
    }
    flush();
  }
  db.exec("DELETE FROM postings");
  {
    Stmt copy(db, "INSERT INTO postings(term, seg, df, data) SELECT term, ?, df, data FROM temp.merged_postings ORDER BY term");
    copy.bind(1, seg_id).run();
  }
  db.exec("DROP TABLE temp.merged_postings");

  // Vector blocks: only blocks holding deleted chunks are rewritten.
  if (!deleted.empty()) {
    std::vector<int64_t> touched;
    {
      Stmt st(db, "SELECT id, ids FROM vec_blocks");
      while (st.step()) {
        auto ids = blob_u32(st.blob(1));
        if (std::any_of(ids.begin(), ids.end(), [&](uint32_t i) { return deleted.count(i) > 0; }))
          touched.push_back(st.int64(0));
      }
    }
    Stmt get(db, "SELECT n, ids, data FROM vec_blocks WHERE id = ?");
    Stmt put(db, "UPDATE vec_blocks SET n = ?, ids = ?, data = ? WHERE id = ?");
    Stmt del(db, "DELETE FROM vec_blocks WHERE id = ?");
    for (int64_t b : touched) {
      get.bind(1, b);
      if (!get.step()) continue;
      int64_t n = get.int64(0);
      auto ids = blob_u32(get.blob(1));
      std::string_view data = get.blob(2);
      size_t row = n ? data.size() / (size_t)n : 0;
      std::vector<uint32_t> keep_ids;
      std::string keep;
      for (size_t i = 0; i < ids.size(); i++)
        if (!deleted.count(ids[i])) {
          keep_ids.push_back(ids[i]);
          keep.append(data.substr(i * row, row));
        }
      get.reset();
      if (keep_ids.empty()) {
        del.bind(1, b).run();
        continue;
      }
      std::string kb = u32_blob(keep_ids);
      put.bind(1, (int64_t)keep_ids.size()).bind_blob(2, kb.data(), kb.size()).bind_blob(3, keep.data(), keep.size());
      put.bind(4, b).run();
    }
  }
  db.exec("DELETE FROM deleted");
}

}  // namespace flops::search
