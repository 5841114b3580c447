#include "search/evaluate.h"

#include <chrono>

#include "core/error.h"

namespace flops::search {

Evaluator::Evaluator(Searcher& s, std::vector<EvalQuery> queries, Qrels qrels) : s_(s), qrels_(std::move(qrels)) {
  for (auto& q : queries) {
    auto it = qrels_.find(q.id);
    bool any = false;
    if (it != qrels_.end())
      for (auto& [d, g] : it->second) any |= g > 0;
    if (any) queries_.push_back(std::move(q));
    else dropped_++;
  }
  if (queries_.empty()) fail("no query has a relevant judgement in the qrels (do the query ids match? see --query-numbering)");
  for (auto& q : queries_) terms_.push_back(s_.lexical().query_terms(q.text));
  Stmt st(s_.store().db(), "SELECT d.id, d.key, f.path FROM docs d JOIN files f ON f.id = d.file_id");
  while (st.step()) keys_[(uint32_t)st.int64(0)] = st.text(1).empty() ? st.text(2) : st.text(1);
}

const std::string& Evaluator::key(uint32_t doc) {
  static const std::string none;
  auto it = keys_.find(doc);
  return it == keys_.end() ? none : it->second;
}

std::vector<size_t> Evaluator::all() const {
  std::vector<size_t> v(queries_.size());
  for (size_t i = 0; i < v.size(); i++) v[i] = i;
  return v;
}

std::vector<size_t> Evaluator::fold(int f) const {
  std::vector<size_t> v;
  for (size_t i = (size_t)f; i < queries_.size(); i += 2) v.push_back(i);
  return v;
}

const std::vector<Hit>& Evaluator::dense_docs(size_t qi, const SearchOptions& o) {
  if (qvecs_.empty()) {
    std::vector<std::string> texts;
    for (auto& q : queries_) texts.push_back(q.text);
    qvecs_ = s_.embed_queries(texts);
    dense_.assign(queries_.size(), {});
  }
  if (dense_[qi].empty()) {
    SearchOptions d = o;
    d.docs = true;
    dense_[qi] = s_.dense_ranking(qvecs_.data() + qi * (size_t)s_.settings().dim, d, 100);
  }
  return dense_[qi];
}

std::vector<Hit> Evaluator::lexical_docs(size_t qi, const SearchOptions& o, size_t limit) {
  SearchOptions d = o;
  d.docs = true;
  std::vector<QueryTerm> q = terms_[qi];
  if (o.prf && !q.empty()) {
    auto first = s_.lexical().score(q, o.bm25);
    sort_hits(first, (size_t)o.prf_params.fb_docs);
    q = s_.lexical().rm3(q, first, o.prf_params, o.bm25);
  }
  return s_.lexical_ranking(q, d, limit);
}

std::vector<std::string> Evaluator::ranking(size_t qi, const SearchOptions& o) {
  std::vector<Hit> hits;
  if (o.mode == Mode::Bm25) hits = lexical_docs(qi, o, 100);
  else if (o.mode == Mode::Dense) hits = dense_docs(qi, o);
  else {
    SearchOptions d = o;
    d.docs = true;
    hits = s_.fuse(lexical_docs(qi, o, (size_t)o.depth), dense_docs(qi, o), d, 100);
  }
  std::vector<std::string> out;
  for (auto& h : hits) out.push_back(key(h.id));
  return out;
}

MeanMetrics Evaluator::run(const std::vector<size_t>& qs, const SearchOptions& o, std::vector<QueryMetrics>* per) {
  MeanMetrics m;
  for (size_t qi : qs) {
    QueryMetrics q = query_metrics(ranking(qi, o), qrels_.at(queries_[qi].id));
    m.add(q);
    if (per) per->push_back(q);
  }
  m.finish();
  return m;
}

namespace {

nlohmann::json settings_json(const std::string& name, const SearchOptions& o) {
  nlohmann::json j;
  if (name != "dense") {
    j["k1"] = o.bm25.k1;
    j["b"] = o.bm25.b;
    j["title_weight"] = o.bm25.title_weight;
  }
  if (o.prf) j["rm3"] = {{"fb_docs", o.prf_params.fb_docs}, {"fb_terms", o.prf_params.fb_terms}, {"orig_weight", o.prf_params.orig_weight}};
  if (o.mode == Mode::Hybrid) {
    j["fusion"] = fusion_name(o.fusion);
    if (o.fusion == FusionMethod::Rrf) j["rrf_k"] = o.rrf_k;
    else j["alpha"] = o.alpha;
    j["depth"] = o.depth;
  }
  if (o.mode != Mode::Bm25) j["dense"] = o.exact ? "exact" : "hnsw when built";
  return j;
}

}  // namespace

SystemResult Evaluator::evaluate(const System& sys, const std::vector<size_t>& qs) {
  auto t0 = std::chrono::steady_clock::now();
  SystemResult r;
  r.name = sys.name;
  r.metrics = run(qs, sys.opts, &r.per_query);
  r.settings = settings_json(sys.name, sys.opts);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

SystemResult Evaluator::tune(const std::string& name, const SearchOptions& base,
                             const std::function<void(const std::string&)>& log) {
  auto t0 = std::chrono::steady_clock::now();
  // Candidate settings of each family, tried in order; the best nDCG@10 on the tuning fold wins
  // (the earlier candidate on a tie).
  auto grid = [&](int f) {
    const std::vector<size_t> tune_qs = fold(f);
    std::vector<SearchOptions> cands;
    auto best_of = [&](const std::vector<SearchOptions>& cs) {
      SearchOptions best = cs.at(0);
      double best_v = -1;
      for (const auto& c : cs) {
        double v = run(tune_qs, c).ndcg10;
        if (v > best_v + 1e-12) best_v = v, best = c;
      }
      return best;
    };
    // The lexical stages are the same for every family on a fold: chosen once, then reused.
    if (!tuned_.count({f, 0})) {
      SearchOptions o = base;
      o.mode = Mode::Bm25;
      o.prf = false;
      for (double k1 : {0.4, 0.6, 0.8, 1.0, 1.2, 1.5, 1.8, 2.2, 2.6, 3.0})
        for (double b : {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0})
          for (double w : {0.0, 0.5, 1.0, 2.0, 3.0, 4.0}) {
            SearchOptions c = o;
            c.bm25 = {k1, b, w};
            cands.push_back(c);
          }
      tuned_[{f, 0}] = best_of(cands);
    }
    SearchOptions bm25 = tuned_.at({f, 0});
    if (name == "bm25") return bm25;
    cands.clear();
    if (!tuned_.count({f, 1})) {
      for (int fd : {3, 5, 10, 15, 20})
        for (int ft : {5, 10, 20, 30, 50})
          for (double ow : {0.3, 0.4, 0.5, 0.6, 0.7, 0.8}) {
            SearchOptions c = bm25;
            c.prf = true;
            c.prf_params = {fd, ft, ow};
            cands.push_back(c);
          }
      tuned_[{f, 1}] = best_of(cands);
    }
    SearchOptions rm3 = tuned_.at({f, 1});
    if (name == "bm25+rm3") return rm3;
    // Hybrid: the lexical half is whichever of the two was better on this fold.
    SearchOptions lex = run(tune_qs, rm3).ndcg10 > run(tune_qs, bm25).ndcg10 ? rm3 : bm25;
    cands.clear();
    if (name == "hybrid-rrf") {
      for (int k : {5, 10, 20, 40, 60, 100})
        for (int depth : {20, 50, 100}) {
          SearchOptions c = lex;
          c.mode = Mode::Hybrid;
          c.fusion = FusionMethod::Rrf;
          c.rrf_k = k;
          c.depth = depth;
          cands.push_back(c);
        }
    } else if (name == "hybrid-weighted") {
      for (int a = 0; a <= 20; a++) {
        SearchOptions c = lex;
        c.mode = Mode::Hybrid;
        c.fusion = FusionMethod::Weighted;
        c.alpha = a / 20.0;
        c.depth = 100;
        cands.push_back(c);
      }
    } else {
      fail("cannot tune '{}' (bm25, bm25+rm3, hybrid-rrf, hybrid-weighted)", name);
    }
    return best_of(cands);
  };
  SystemResult r;
  r.name = name + " (tuned, 2-fold CV)";
  r.settings = nlohmann::json::array();
  std::vector<QueryMetrics> per(queries_.size());
  for (int f = 0; f < 2; f++) {
    SearchOptions chosen = grid(f);
    std::vector<size_t> test = fold(1 - f);
    std::vector<QueryMetrics> pq;
    run(test, chosen, &pq);
    for (size_t i = 0; i < test.size(); i++) per[test[i]] = pq[i];
    nlohmann::json j = settings_json(name, chosen);
    j["tuned_on"] = f == 0 ? "fold A (odd positions)" : "fold B (even positions)";
    j["scored_on"] = f == 0 ? "fold B" : "fold A";
    j["tune_ndcg10"] = run(fold(f), chosen).ndcg10;
    if (log) log(fmt::format("{}: tuned on fold {}: {}", name, f == 0 ? "A" : "B", j.dump()));
    r.settings.push_back(j);
  }
  for (auto& q : per) r.metrics.add(q);
  r.metrics.finish();
  r.per_query = per;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

nlohmann::json to_json(const SystemResult& r) {
  return {{"system", r.name},
          {"queries", r.metrics.n},
          {"ndcg@10", r.metrics.ndcg10},
          {"map@100", r.metrics.map100},
          {"recall@100", r.metrics.recall100},
          {"mrr", r.metrics.mrr},
          {"settings", r.settings},
          {"seconds", r.seconds}};
}

}  // namespace flops::search
