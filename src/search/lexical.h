#pragma once
// Okapi BM25 over the index's own inverted index, with the title as a second field and
// pseudo-relevance feedback (RM3).
//
// For a query term t with document frequency df (live chunks holding it) among N live chunks:
//   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))          (never negative, as in Lucene)
//   tf'    = tf_body + w * tf_title                        (w = title weight, BM25F-style)
//   dl'    = len_body + w * len_title,  avgdl' = avg_body + w * avg_title
//   s(t)   = idf(t) * tf' (k1 + 1) / (tf' + k1 (1 - b + b dl' / avgdl'))
// and a chunk scores sum_t q(t) s(t), q(t) = the term's count in the query (or its RM3 weight).
//
// RM3 (Lavrenko & Croft's relevance model, interpolated as in Abdul-Jaleel et al., TREC 2004):
// the fb_docs best chunks of the first pass each give a term distribution p(w|D) = tf/|D|
// (body and title terms), weighted by the chunk's first-pass score; the fb_terms heaviest
// terms of the sum, normalised, are mixed with the normalised original query:
//   q'(w) = orig_weight * q(w)/sum q + (1 - orig_weight) * p(w|R).
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "search/analyze.h"
#include "search/dense.h"
#include "search/postings.h"
#include "search/store.h"

namespace flops::search {

struct Bm25Params {
  double k1 = 1.2;
  double b = 0.75;
  double title_weight = 1.0;
};

struct PrfParams {
  int fb_docs = 10;
  int fb_terms = 10;
  double orig_weight = 0.5;
};

struct QueryTerm {
  std::string term;
  double weight = 1;
};

class LexicalIndex {
 public:
  explicit LexicalIndex(Store& s);

  // Analysed query terms with their counts as weights, in first-occurrence order.
  std::vector<QueryTerm> query_terms(std::string_view text) const;
  // Every chunk holding a query term, with its BM25 score (unordered).
  std::vector<ScoredId> score(const std::vector<QueryTerm>& q, const Bm25Params& p, int64_t* postings_read = nullptr);
  // RM3 expansion from the first-pass ranking `first` (best first).
  std::vector<QueryTerm> rm3(const std::vector<QueryTerm>& q, const std::vector<ScoredId>& first, const PrfParams& p,
                             const Bm25Params& bp);

  // Live postings of a term (decoded once, then cached).
  const std::vector<Posting>& postings(const std::string& term);
  uint32_t doc_of(uint32_t chunk) const { return chunk < doc_.size() ? doc_[chunk] : 0; }
  const std::unordered_set<uint32_t>& deleted() const { return deleted_; }
  int64_t n_chunks() const { return n_live_; }
  const Analyzer& analyzer() const { return analyzer_; }

 private:
  Store& store_;
  Analyzer analyzer_;
  std::unordered_set<uint32_t> deleted_;
  std::vector<uint32_t> len_body_, len_title_, doc_;  // by chunk id
  int64_t n_live_ = 0;
  double avg_body_ = 0, avg_title_ = 0;
  std::unordered_map<std::string, std::vector<Posting>> cache_;
  std::unordered_map<uint32_t, std::vector<std::pair<std::string, uint32_t>>> chunk_terms_;  // for RM3
  std::vector<float> acc_;
  std::vector<uint32_t> touched_;
  const std::vector<std::pair<std::string, uint32_t>>& terms_of(uint32_t chunk, double title_weight);
};

}  // namespace flops::search
