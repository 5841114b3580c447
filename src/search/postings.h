#pragma once
// The inverted index, written by segments (one per committed batch of chunks) and read by BM25.
//
// A term's postings in one segment are one blob of LEB128 varints, chunk ids ascending:
//   (delta << 1 | has_title)  tf_body  [tf_title]
// delta = chunk id minus the previous one (the first is the id itself). Titles are a second
// field of every chunk of a document (BM25F-style weighting at query time), mostly absent, so
// one bit says whether tf_title follows. Segments are merged into one at the end of a run when
// there are many of them or many deleted chunks; a query reads every segment of its terms, so
// scores do not depend on how the index was cut into segments.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "search/db.h"

namespace flops::search {

struct Posting {
  uint32_t chunk = 0;
  uint32_t tf = 0;        // occurrences in the chunk's text
  uint32_t tf_title = 0;  // occurrences in its document's title
};

void put_varint(std::string& out, uint64_t v);
// Reads one varint at p (advancing it); fails on a truncated blob.
uint64_t get_varint(const char*& p, const char* end);

void encode_postings(const std::vector<Posting>& ps, std::string& out);
// Appends the postings of `blob` to `out`.
void decode_postings(std::string_view blob, std::vector<Posting>& out);

// Postings of one batch of chunks, kept in memory until the batch commits.
struct SegmentBuilder {
  std::map<std::string, std::vector<Posting>> terms;
  std::vector<uint32_t> ids, lens, docs;  // lens: body, title per chunk
  void add(uint32_t chunk, uint32_t doc, const std::vector<std::string>& body, const std::vector<std::string>& title);
  bool empty() const { return ids.empty(); }
  void clear();
};

// Writes the builder as a new segment (inside the caller's transaction); returns its id.
int64_t write_segment(Db& db, const SegmentBuilder& b);

// Merges every segment into one, dropping deleted chunks from postings, segments and vector
// blocks, and empties `deleted` (inside the caller's transaction).
void merge_segments(Db& db);

std::string u32_blob(const std::vector<uint32_t>& v);
std::vector<uint32_t> blob_u32(std::string_view b);

}  // namespace flops::search
