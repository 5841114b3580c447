#pragma once
// Queries and relevance judgements for search-eval.
//
// Queries: BEIR queries.jsonl ({"_id", "text"}), SMART (Cranfield cran.qry: ".I id" + ".W"),
// or TSV lines "id<TAB>text". Qrels:
//   beir       qrels.tsv with the header "query-id corpus-id score"; score = gain (0 = not relevant)
//   trec       "qid 0 docid rel" (4 columns); rel = gain
//   cranfield  "qid docid code" (3 columns): codes 1..4 (1 = complete answer) become gains 4..1,
//              code -1 (and anything outside 1..4) is dropped, i.e. unjudged
// Cranfield's cran.qry numbers its queries 1, 2, 4, 8, ... while cranqrel numbers them 1..225 in
// file order: `numbering = sequential` maps the i-th query of the file to id i ("auto" does this
// when the given ids miss qrels ids that sequential numbering would match).
#include <map>
#include <string>
#include <vector>

namespace flops::search {

struct EvalQuery {
  std::string id, text;
};

// qrels[query id][doc key] = gain (> 0 relevant; 0 judged not relevant).
using Qrels = std::map<std::string, std::map<std::string, double>>;

// format: auto (by extension/content), beir, smart, tsv
std::vector<EvalQuery> read_queries(const std::string& path, const std::string& format = "auto");
// format: auto, beir, trec, cranfield. `used` receives the format taken.
Qrels read_qrels(const std::string& path, const std::string& format = "auto", std::string* used = nullptr);
// numbering: given, sequential, auto. Returns the numbering taken.
std::string number_queries(std::vector<EvalQuery>& q, const Qrels& qrels, const std::string& numbering);

}  // namespace flops::search
