#include "search/lexical.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"

namespace flops::search {

LexicalIndex::LexicalIndex(Store& s) : store_(s), analyzer_(s.settings().analyzer) {
  {
    Stmt st(s.db(), "SELECT chunk_id FROM deleted");
    while (st.step()) deleted_.insert((uint32_t)st.int64(0));
  }
  IndexStats stats = s.stats();
  size_t n_ids = (size_t)std::max<int64_t>(stats.next_chunk_id, 1);
  len_body_.assign(n_ids, 0);
  len_title_.assign(n_ids, 0);
  doc_.assign(n_ids, 0);
  Stmt st(s.db(), "SELECT ids, lens, docs FROM segments");
  int64_t sum_b = 0, sum_t = 0;
  while (st.step()) {
    auto ids = blob_u32(st.blob(0)), lens = blob_u32(st.blob(1)), docs = blob_u32(st.blob(2));
    if (lens.size() != 2 * ids.size() || docs.size() != ids.size()) fail("corrupt index '{}': segment arrays differ in size", s.path());
    for (size_t i = 0; i < ids.size(); i++) {
      uint32_t id = ids[i];
      if (id >= n_ids) fail("corrupt index '{}': chunk id {} past the counter {}", s.path(), id, n_ids);
      if (deleted_.count(id)) continue;
      len_body_[id] = lens[2 * i];
      len_title_[id] = lens[2 * i + 1];
      doc_[id] = docs[i];
      sum_b += lens[2 * i];
      sum_t += lens[2 * i + 1];
      n_live_++;
    }
  }
  avg_body_ = n_live_ ? (double)sum_b / (double)n_live_ : 0;
  avg_title_ = n_live_ ? (double)sum_t / (double)n_live_ : 0;
  acc_.assign(n_ids, 0.0f);
}

std::vector<QueryTerm> LexicalIndex::query_terms(std::string_view text) const {
  std::vector<QueryTerm> out;
  for (const Term& t : analyzer_.analyze(text)) {
    auto it = std::find_if(out.begin(), out.end(), [&](const QueryTerm& q) { return q.term == t.text; });
    if (it != out.end()) it->weight += 1;
    else out.push_back({t.text, 1.0});
  }
  return out;
}

const std::vector<Posting>& LexicalIndex::postings(const std::string& term) {
  auto it = cache_.find(term);
  if (it != cache_.end()) return it->second;
  std::vector<Posting> all, live;
  Stmt st(store_.db(), "SELECT data FROM postings WHERE term = ? ORDER BY seg");
  st.bind(1, term);
  while (st.step()) decode_postings(st.blob(0), all);
  live.reserve(all.size());
  for (const Posting& p : all)
    if (p.chunk < doc_.size() && doc_[p.chunk] != 0) live.push_back(p);
  // Keep the cache bounded: a long tuning run touches few terms, a server many.
  if (cache_.size() > 50000) cache_.clear();
  return cache_.emplace(term, std::move(live)).first->second;
}

std::vector<ScoredId> LexicalIndex::score(const std::vector<QueryTerm>& q, const Bm25Params& p, int64_t* postings_read) {
  std::vector<ScoredId> out;
  if (n_live_ == 0) return out;
  const double w = p.title_weight;
  const double avgdl = std::max(1e-9, avg_body_ + w * avg_title_);
  const double N = (double)n_live_;
  touched_.clear();
  int64_t nread = 0;
  for (const QueryTerm& qt : q) {
    const auto& ps = postings(qt.term);
    if (ps.empty() || qt.weight == 0) continue;
    const double df = (double)ps.size();
    const double idf = std::log(1.0 + (N - df + 0.5) / (df + 0.5));
    nread += (int64_t)ps.size();
    for (const Posting& x : ps) {
      double tf = x.tf + w * x.tf_title;
      if (tf <= 0) continue;
      double dl = len_body_[x.chunk] + w * len_title_[x.chunk];
      double s = idf * tf * (p.k1 + 1) / (tf + p.k1 * (1 - p.b + p.b * dl / avgdl));
      if (acc_[x.chunk] == 0.0f) touched_.push_back(x.chunk);
      acc_[x.chunk] += (float)(qt.weight * s);
    }
  }
  out.reserve(touched_.size());
  for (uint32_t c : touched_) {
    out.push_back({c, acc_[c]});
    acc_[c] = 0.0f;
  }
  if (postings_read) *postings_read += nread;
  return out;
}

const std::vector<std::pair<std::string, uint32_t>>& LexicalIndex::terms_of(uint32_t chunk, double) {
  auto it = chunk_terms_.find(chunk);
  if (it != chunk_terms_.end()) return it->second;
  Stmt st(store_.db(), "SELECT d.text, d.title, c.start, c.end FROM chunks c JOIN docs d ON d.id = c.doc_id WHERE c.id = ?");
  st.bind(1, (int64_t)chunk);
  std::map<std::string, uint32_t> tf;
  if (st.step()) {
    std::string text = st.text(0), title = st.text(1);
    size_t a = (size_t)st.int64(2), b = (size_t)st.int64(3);
    st.reset();
    for (const Term& t : analyzer_.analyze(std::string_view(text).substr(a, b - a))) tf[t.text]++;
    for (const Term& t : analyzer_.analyze(title)) tf[t.text]++;
  }
  if (chunk_terms_.size() > 100000) chunk_terms_.clear();
  auto& v = chunk_terms_[chunk];
  v.assign(tf.begin(), tf.end());
  return v;
}

std::vector<QueryTerm> LexicalIndex::rm3(const std::vector<QueryTerm>& q, const std::vector<ScoredId>& first,
                                         const PrfParams& p, const Bm25Params& bp) {
  if (q.empty() || first.empty() || p.fb_docs <= 0 || p.fb_terms <= 0) return q;
  std::map<std::string, double> rel;
  int n = std::min<int>(p.fb_docs, (int)first.size());
  for (int i = 0; i < n; i++) {
    const auto& terms = terms_of(first[i].id, bp.title_weight);
    double len = 0;
    for (auto& [t, c] : terms) len += c;
    if (len == 0) continue;
    for (auto& [t, c] : terms) rel[t] += first[i].score * (double)c / len;
  }
  std::vector<std::pair<std::string, double>> best(rel.begin(), rel.end());
  std::sort(best.begin(), best.end(), [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  if ((int)best.size() > p.fb_terms) best.resize(p.fb_terms);
  double fb_sum = 0, q_sum = 0;
  for (auto& [t, v] : best) fb_sum += v;
  for (auto& t : q) q_sum += t.weight;
  std::vector<QueryTerm> out;
  for (auto& t : q) out.push_back({t.term, p.orig_weight * t.weight / q_sum});
  for (auto& [t, v] : best) {
    double add = fb_sum > 0 ? (1 - p.orig_weight) * v / fb_sum : 0;
    auto it = std::find_if(out.begin(), out.end(), [&](const QueryTerm& x) { return x.term == t; });
    if (it != out.end()) it->weight += add;
    else out.push_back({t, add});
  }
  return out;
}

}  // namespace flops::search
