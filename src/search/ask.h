#pragma once
// flops ask: retrieval-augmented answering with numbered citations.
//
// The best passages of the question are numbered [1], [2], ... in rank order and put into one
// prompt with the question, as many as fit the model's context after room for the answer
// (n_predict tokens); the last one is cut at a word boundary when only part of it fits (at least
// min_passage_tokens of it). The model generates the answer; every [n] in it is checked against
// the passages of the prompt: valid ones are the answer's citations, others are removed from the
// answer and reported as dropped (a small model invents numbers).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/generate.h"
#include "model/model.h"
#include "search/searcher.h"

namespace flops::search {

struct AskOptions {
  SearchOptions search;  // search.k = candidates considered
  int n_predict = 96;
  int n_ctx = 0;         // 0 = the model's training context
  int min_passage_tokens = 24;
  SamplingParams sampling;
};

struct Passage {
  int n = 0;  // its number in the prompt
  uint32_t chunk = 0;
  float score = 0;
  std::string source, title, text;  // text as given to the model
  bool truncated = false;
};

struct AskResult {
  std::string question;
  std::string prompt;
  int prompt_tokens = 0, n_ctx = 0, n_predict = 0;
  std::vector<Passage> passages;
  std::string raw_answer;           // as generated
  std::string answer;               // with invalid citation marks removed
  std::vector<int> citations;       // valid, in order of first mention
  std::vector<int> dropped;         // numbers that name no passage of the prompt
  SearchResult retrieval;
  GenerateResult generation;
};

// The prompt text for these passages (what ask() sends, without a chat template).
std::string build_prompt(const std::vector<Passage>& ps, const std::string& question);
// Every number inside [..] marks ("[2]", "[1, 3]", "[1][2]"), in order.
std::vector<int> find_citations(const std::string& text);
// Removes the numbers outside 1..n_passages from the marks (a mark left empty goes).
std::string strip_invalid_citations(const std::string& text, int n_passages);

AskResult ask(Searcher& s, const Model& m, const std::string& question, const AskOptions& o);

nlohmann::json to_json(const AskResult& r);

}  // namespace flops::search
