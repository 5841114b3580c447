#include "search/ask.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "search/parse.h"

namespace flops::search {

namespace {

// [digits (, digits)*] starting at text[i] == '['; returns the numbers and the end, or empty.
std::vector<int> parse_mark(const std::string& t, size_t i, size_t& end) {
  std::vector<int> nums;
  size_t j = i + 1;
  while (true) {
    while (j < t.size() && t[j] == ' ') j++;
    size_t d = j;
    while (j < t.size() && std::isdigit((unsigned char)t[j]) && j - d < 6) j++;
    if (j == d) return {};
    nums.push_back(std::stoi(t.substr(d, j - d)));
    while (j < t.size() && t[j] == ' ') j++;
    if (j < t.size() && t[j] == ',') {
      j++;
      continue;
    }
    if (j < t.size() && t[j] == ']') {
      end = j + 1;
      return nums;
    }
    return {};
  }
}

std::string cut_words(const std::string& text, size_t n_words) {
  size_t words = 0, i = 0;
  bool in = false;
  for (; i < text.size(); i++) {
    bool sp = std::isspace((unsigned char)text[i]);
    if (!sp && !in && words++ == n_words) break;
    in = !sp;
  }
  std::string out = text.substr(0, i);
  while (!out.empty() && std::isspace((unsigned char)out.back())) out.pop_back();
  return out;
}

}  // namespace

std::string build_prompt(const std::vector<Passage>& ps, const std::string& question) {
  std::string p = "Answer the question from the passages below. Cite the passages you use by number, like [1].\n\n";
  for (const Passage& x : ps) {
    p += fmt::format("[{}] ", x.n);
    if (!x.title.empty()) p += x.title + ": ";
    p += x.text;
    if (x.truncated) p += " ...";
    p += "\n\n";
  }
  p += "Question: " + question + "\nAnswer:";
  return p;
}

std::vector<int> find_citations(const std::string& t) {
  std::vector<int> out;
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i] != '[') continue;
    size_t end = 0;
    auto nums = parse_mark(t, i, end);
    if (nums.empty()) continue;
    out.insert(out.end(), nums.begin(), nums.end());
    i = end - 1;
  }
  return out;
}

std::string strip_invalid_citations(const std::string& t, int n) {
  std::string out;
  for (size_t i = 0; i < t.size(); i++) {
    size_t end = 0;
    std::vector<int> nums = t[i] == '[' ? parse_mark(t, i, end) : std::vector<int>{};
    if (nums.empty()) {
      out += t[i];
      continue;
    }
    std::vector<std::string> keep;
    for (int x : nums)
      if (x >= 1 && x <= n) keep.push_back(std::to_string(x));
    if (!keep.empty()) out += "[" + fmt::format("{}", fmt::join(keep, ", ")) + "]";
    else if (!out.empty() && out.back() == ' ' && end < t.size() && (t[end] == ' ' || t[end] == '.' || t[end] == ','))
      out.pop_back();  // no double space where a mark was
    i = end - 1;
  }
  return out;
}

AskResult ask(Searcher& s, const Model& m, const std::string& question, const AskOptions& o) {
  AskResult r;
  r.question = question;
  if (normalize_space(question).empty()) fail("the question is empty");
  r.n_ctx = o.n_ctx > 0 ? o.n_ctx : (m.cfg.n_ctx_train > 0 ? m.cfg.n_ctx_train : 512);
  r.n_predict = o.n_predict;
  if (o.n_predict < 1) fail("--n-predict must be >= 1, got {}", o.n_predict);
  const int budget = r.n_ctx - o.n_predict;
  const bool bos = m.tok.add_bos_default();
  auto n_tokens = [&](const std::string& p) { return (int)m.tok.encode(p, bos).size(); };
  if (n_tokens(build_prompt({}, question)) > budget)
    fail("the question alone takes more than the {} tokens of context left after {} for the answer "
         "(use a shorter question or -n)", budget, o.n_predict);

  r.retrieval = s.search(question, o.search);
  for (const Hit& h : r.retrieval.hits) {
    ChunkView v = s.chunk(h.chunk);
    Passage p;
    p.n = (int)r.passages.size() + 1;
    p.chunk = h.chunk;
    p.score = h.score;
    p.source = v.source();
    p.title = v.title;
    p.text = normalize_space(v.text);
    std::vector<Passage> trial = r.passages;
    trial.push_back(p);
    if (n_tokens(build_prompt(trial, question)) <= budget) {
      r.passages.push_back(p);
      continue;
    }
    // Only part of it fits: the most words that do (binary search), if enough of them.
    size_t lo = 0, hi = (size_t)std::count(p.text.begin(), p.text.end(), ' ') + 1;
    trial.back().truncated = true;
    while (lo < hi) {
      size_t mid = (lo + hi + 1) / 2;
      trial.back().text = cut_words(p.text, mid);
      if (n_tokens(build_prompt(trial, question)) <= budget) lo = mid;
      else hi = mid - 1;
    }
    trial.back().text = cut_words(p.text, lo);
    int base = n_tokens(build_prompt(r.passages, question));
    if (lo > 0 && n_tokens(build_prompt(trial, question)) - base >= o.min_passage_tokens) r.passages.push_back(trial.back());
    break;
  }
  r.prompt = build_prompt(r.passages, question);
  r.prompt_tokens = n_tokens(r.prompt);
  // Stop where a small model would start writing the next question or passage.
  const std::vector<std::string> stops = {"\nQuestion:", "\n\n"};
  std::string so_far;
  r.generation = generate(m, r.prompt, o.n_predict, r.n_ctx, o.sampling, bos, [&](const std::string& piece) {
    so_far += piece;
    for (auto& st : stops)
      if (so_far.find(st) != std::string::npos) return false;
    return true;
  });
  std::string ans = r.generation.text;
  for (auto& st : stops)
    if (size_t at = ans.find(st); at != std::string::npos) ans.resize(at);
  r.raw_answer = ans;
  for (int c : find_citations(ans)) {
    bool valid = c >= 1 && c <= (int)r.passages.size();
    auto& list = valid ? r.citations : r.dropped;
    if (std::find(list.begin(), list.end(), c) == list.end()) list.push_back(c);
  }
  r.answer = normalize_space(strip_invalid_citations(ans, (int)r.passages.size()));
  return r;
}

nlohmann::json to_json(const AskResult& r) {
  nlohmann::json j;
  j["question"] = r.question;
  j["answer"] = r.answer;
  j["raw_answer"] = r.raw_answer;
  j["citations"] = r.citations;
  j["dropped_citations"] = r.dropped;
  j["passages"] = nlohmann::json::array();
  for (auto& p : r.passages)
    j["passages"].push_back({{"n", p.n}, {"chunk", p.chunk}, {"score", p.score}, {"source", p.source},
                             {"title", p.title}, {"text", p.text}, {"truncated", p.truncated}});
  j["prompt"] = r.prompt;
  j["prompt_tokens"] = r.prompt_tokens;
  j["n_ctx"] = r.n_ctx;
  j["n_predict"] = r.n_predict;
  j["generated_tokens"] = r.generation.tokens.size();
  if (!r.retrieval.note.empty()) j["retrieval_note"] = r.retrieval.note;
  return j;
}

}  // namespace flops::search
