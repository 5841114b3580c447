// Recorded answers replayed as a backend (--responses FILE), keyed by document id.
//
// A record is one JSON object per line (or one JSON array of them). Its id is the `doc_id`
// field, or else the task's own doc_id template evaluated on the record (records usually carry
// the fields the id is made of: the causality repo's records have pair_id), or --responses-key.
// Its answer is, in this order: a "response" string; a raw OpenAI response object in "result" or
// "response" (or the record itself), read as it is: choices[0].message.content of a chat
// completion, choices[0].text of a completion; or "loglikelihoods" (one per choice, as
// --log-samples writes them) for log-likelihood tasks. A record's "prompt", when present, is
// compared with the prompt the task renders, and the count of differences is reported.
#include <filesystem>
#include <unordered_map>

#include "core/error.h"
#include "harness/dataset.h"
#include "harness/backend.h"

namespace flops::harness {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// The text answer inside an OpenAI response object, if it is one.
bool openai_text(const nlohmann::json& o, std::string& text) {
  if (!o.is_object() || !o.contains("choices") || !o["choices"].is_array() || o["choices"].empty()) return false;
  const auto& c = o["choices"][0];
  if (c.contains("message") && c["message"].is_object() && c["message"].contains("content") && c["message"]["content"].is_string()) {
    text = c["message"]["content"].get<std::string>();
    return true;
  }
  if (c.contains("text") && c["text"].is_string()) {
    text = c["text"].get<std::string>();
    return true;
  }
  return false;
}

struct Record {
  std::string where;
  nlohmann::json j;
};

struct ReplayBackend : Backend {
  ReplayOptions o;
  std::unordered_map<std::string, Record> by_id;
  mutable int prompts_checked = 0, prompts_equal = 0;
  mutable std::vector<std::string> prompts_differ;

  ReplayBackend(const ReplayOptions& opts, const TaskConfig& task) : o(opts) {
    if (!std::filesystem::is_regular_file(o.path)) fail("--responses: file not found: '{}'", o.path);
    // JSON lines or one JSON array, read as a dataset file is.
    FileSpec spec;
    spec.format = "json";
    Docs d = load_file(spec, o.path);
    std::vector<Record> recs;
    for (size_t i = 0; i < d.docs.size(); i++) recs.push_back({d.where[i], std::move(d.docs[i])});
    Tpl key;
    if (!o.key.empty()) key = {o.key, "--responses-key", true};
    for (auto& r : recs) {
      if (!r.j.is_object()) fail("--responses {}: a record must be a JSON object", r.where);
      std::string id;
      if (key.set) id = value_text(field_or_render(key, r.j, r.where));
      else if (r.j.contains("doc_id")) id = value_text(r.j["doc_id"]);
      else if (task.doc_id.set) {
        Tpl t = task.doc_id;
        t.where = task.doc_id.where + " (applied to a --responses record)";
        id = value_text(field_or_render(t, r.j, r.where));
      } else
        fail("--responses {}: the record has no doc_id, and task '{}' defines no doc_id to compute one (pass --responses-key)",
             r.where, task.name);
      id = trim(id);
      std::string where = r.where;
      if (!by_id.emplace(id, std::move(r)).second)
        fail("--responses {}: a second record for the document '{}'", where, id);
    }
  }

  std::string describe() const override { return "responses " + std::filesystem::path(o.path).filename().string(); }
  std::string cache_id() const override { return ""; }
  bool local_compute() const override { return false; }

  const Record& find(const Instance& in) const {
    auto it = by_id.find(in.doc_id);
    if (it == by_id.end())
      fail("--responses {}: no record for the document '{}' ({})", o.path, in.doc_id, in.where);
    const Record& r = it->second;
    if (r.j.contains("prompt") && r.j["prompt"].is_string()) {
      prompts_checked++;
      if (trim(r.j["prompt"].get<std::string>()) == trim(in.context)) prompts_equal++;
      else prompts_differ.push_back(in.doc_id);
    }
    return r;
  }

  std::vector<LLResult> loglikelihood(const std::vector<LLRequest>& reqs) override {
    std::vector<LLResult> out;
    for (const auto& q : reqs) {
      const Record& r = find(*q.inst);
      if (!r.j.contains("loglikelihoods") || !r.j["loglikelihoods"].is_array())
        fail("--responses {}: the record has no \"loglikelihoods\" list, which a {} task needs", r.where,
             output_type_name(OutputType::MultipleChoice));
      const auto& ll = r.j["loglikelihoods"];
      if ((size_t)q.k >= ll.size() || !ll[q.k].is_number())
        fail("--responses {}: \"loglikelihoods\" has no number for continuation {} (of {})", r.where, q.k,
             q.inst->continuations.size());
      LLResult res;
      res.logprob = ll[q.k].get<double>();
      if (r.j.contains("greedy") && r.j["greedy"].is_array() && (size_t)q.k < r.j["greedy"].size())
        res.is_greedy = r.j["greedy"][q.k].is_boolean() && r.j["greedy"][q.k].get<bool>();
      out.push_back(res);
    }
    return out;
  }

  std::vector<GenResult> generate(const std::vector<GenRequest>& reqs) override {
    std::vector<GenResult> out;
    for (const auto& q : reqs) {
      const Record& r = find(*q.inst);
      GenResult g;
      const nlohmann::json* usage = nullptr;
      if (r.j.contains("response") && r.j["response"].is_string()) {
        g.text = r.j["response"].get<std::string>();
      } else {
        bool ok = false;
        for (const char* k : {"result", "response"})
          if (!ok && r.j.contains(k) && openai_text(r.j[k], g.text)) {
            ok = true;
            usage = r.j[k].contains("usage") ? &r.j[k]["usage"] : nullptr;
          }
        if (!ok && openai_text(r.j, g.text)) {
          ok = true;
          usage = r.j.contains("usage") ? &r.j["usage"] : nullptr;
        }
        if (!ok)
          fail("--responses {}: no answer in the record (a \"response\" string, or an OpenAI response object with "
               "choices[0].message.content or choices[0].text)",
               r.where);
      }
      if (usage && usage->is_object()) {
        if ((*usage).contains("prompt_tokens") && (*usage)["prompt_tokens"].is_number()) g.prompt_tokens = (*usage)["prompt_tokens"];
        if ((*usage).contains("completion_tokens") && (*usage)["completion_tokens"].is_number())
          g.gen_tokens = (*usage)["completion_tokens"];
      }
      // Recorded answers were cut by their own stop strings (if any); the task's apply too.
      g.text = cut_at_stop(g.text, q.until);
      out.push_back(std::move(g));
    }
    return out;
  }

  nlohmann::json notes() const override {
    nlohmann::json j = {{"records", by_id.size()}, {"prompts_checked", prompts_checked}, {"prompts_equal", prompts_equal}};
    if (!prompts_differ.empty()) j["prompts_differ"] = prompts_differ;
    return j;
  }
};

}  // namespace

std::unique_ptr<Backend> make_replay_backend(const ReplayOptions& o, const TaskConfig& task) {
  return std::make_unique<ReplayBackend>(o, task);
}

}  // namespace flops::harness
