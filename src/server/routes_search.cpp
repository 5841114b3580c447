// POST /v1/search over the index given to `flops serve --index`, and its page /static/search.html (web/search.html).
// The index has its own embedding model (for dense and hybrid queries), loaded on first use;
// one query runs at a time (the searcher keeps per-query scratch space).
#include <memory>
#include <mutex>
#include <set>

#include "core/error.h"
#include "core/utf8.h"
#include "search/indexer.h"
#include "search/searcher.h"
#include "search/snippet.h"
#include "server/context.h"

namespace flops::server {

using nlohmann::json;

namespace {

struct SearchState {
  std::unique_ptr<search::Searcher> s;
  std::mutex mu;
};

void search_route(Context& c, SearchState& st, const httplib::Request& req, httplib::Response& res) {
  if (!st.s) throw ApiError(404, "This server has no search index: start it with flops serve --index INDEX", "not_found_error");
  json body = parse_body(req.body);
  Fields f(body);
  auto q = f.string("query");
  if (!q) throw ApiError(400, "Missing required parameter: 'query'.", "invalid_request_error", "query", "missing_required_parameter");
  if (utf8_invalid_offset(*q) != std::string::npos) bad_field("query", "Invalid 'query': not valid UTF-8");
  if (q->size() > 8192) bad_field("query", "Invalid 'query': {} bytes, more than 8192", q->size());
  search::SearchOptions o;
  std::string mode = f.string("mode").value_or("bm25");
  try {
    o.mode = search::parse_mode(mode);
  } catch (const Error& e) {
    bad_field("mode", "Invalid 'mode': {}", e.what());
  }
  o.k = (int)f.integer("k", 1, 100).value_or(10);
  o.docs = f.boolean("docs").value_or(false);
  o.prf = f.boolean("prf").value_or(false);
  if (auto fu = f.string("fusion")) {
    if (*fu != "rrf" && *fu != "weighted") bad_field("fusion", "Invalid 'fusion': '{}' (rrf, weighted)", *fu);
    o.fusion = search::parse_fusion(*fu);
  }
  if (auto a = f.number("alpha", 0, 1)) o.alpha = *a;
  if (auto k1 = f.number("k1", 0, 100)) o.bm25.k1 = *k1;
  if (auto b = f.number("b", 0, 1)) o.bm25.b = *b;
  f.ignore({"model"});
  f.reject_unknown();
  if (o.mode != search::Mode::Bm25 && !st.s->has_vectors())
    bad_field("mode", "Invalid 'mode': the index has no embeddings (built without -m), only 'bm25' works");

  std::lock_guard<std::mutex> lk(st.mu);
  const double t0 = steady_seconds();
  double cpu0 = cost::read_meter().cpu_s;
  counter::Scope scope;
  search::SearchResult r = st.s->search(*q, o);
  std::set<std::string> terms;
  for (auto& t : st.s->lexical().query_terms(*q)) terms.insert(t.term);
  json results = json::array();
  for (size_t i = 0; i < r.hits.size(); i++) {
    search::ChunkView v = st.s->chunk(r.hits[i].chunk);
    search::Snippet sn = search::make_snippet(v.text, st.s->lexical().analyzer(), terms, 40);
    json hl = json::array();
    for (auto [a, b] : sn.marks) hl.push_back({a, b});
    results.push_back({{"rank", i + 1}, {"score", r.hits[i].score}, {"source", v.source()}, {"title", v.title},
                       {"key", v.key}, {"chunk", v.id}, {"ord", v.ord}, {"snippet", sn.text}, {"highlights", hl},
                       {"cut_start", sn.cut_start}, {"cut_end", sn.cut_end}, {"text", v.text}});
  }
  cost::Receipt rc = measured_receipt(scope.elapsed(), cost::read_meter().cpu_s - cpu0, steady_seconds() - t0, 0, false,
                                      c.usage, "search");
  json out = {{"object", "search.results"}, {"query", *q}, {"mode", mode}, {"results", results}, {"hnsw", r.hnsw},
              {"receipt", cost::to_json(rc)}, {"index_cost", search::build_cost_json(st.s->store())}};
  if (!r.note.empty()) out["note"] = r.note;
  send_json(res, out);
}

}  // namespace

void add_search_routes(httplib::Server& s, Context& c) {
  auto st = std::make_shared<SearchState>();
  if (!c.o.search_index.empty()) st->s = std::make_unique<search::Searcher>(c.o.search_index);
  s.Post("/v1/search", wrap(c, "/v1/search", [&c, st](const httplib::Request& q, httplib::Response& r) { search_route(c, *st, q, r); }));
}

}  // namespace flops::server
