#include "harness/instances.h"

#include <random>
#include <unordered_map>

#include "core/error.h"
#include "core/log.h"

namespace flops::harness {

namespace {

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool has_choices(const TaskConfig& c) { return c.doc_to_choice.set || !c.choice_list.empty(); }

std::vector<std::string> doc_choices(const TaskConfig& c, const nlohmann::json& doc, const std::string& where) {
  std::vector<std::string> out;
  if (!c.choice_list.empty()) {
    for (const auto& t : c.choice_list) out.push_back(render(t, doc, where));
    return out;
  }
  nlohmann::json v = field_or_render(c.doc_to_choice, doc, where);
  if (v.is_string()) v = parse_literal(v.get<std::string>(), c.doc_to_choice.where + " on " + where);
  if (!v.is_array()) fail("{} on {}: doc_to_choice must give a list, got {}", c.doc_to_choice.where, where, value_text(v));
  for (const auto& e : v) out.push_back(value_text(e));
  if (out.empty()) fail("{} on {}: doc_to_choice gives no choices", c.doc_to_choice.where, where);
  return out;
}

// The target as the harness's doc_to_target returns it: an index, a string or a list.
nlohmann::json raw_target(const TaskConfig& c, const nlohmann::json& doc, const std::string& where) {
  nlohmann::json v = field_or_render(c.doc_to_target, doc, where);
  if (!v.is_string()) return v;
  std::string s = v.get<std::string>();
  if (all_digits(s) && has_choices(c)) return std::stoll(s);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') return parse_literal(s, c.doc_to_target.where + " on " + where);
  return s;
}

int choice_index(const TaskConfig& c, const nlohmann::json& t, const std::vector<std::string>& choices,
                 const std::string& where) {
  if (t.is_number_integer()) {
    long long i = t.get<long long>();
    // The harness keeps such a document and scores it wrong; so does flops, with a warning.
    if (i < 0 || i >= (long long)choices.size()) return -1;
    return (int)i;
  }
  std::string s = value_text(t);
  for (size_t i = 0; i < choices.size(); i++)
    if (choices[i] == s) return (int)i;
  std::string list;
  for (auto& ch : choices) list += (list.empty() ? "" : ", ") + fmt::format("'{}'", ch.size() > 30 ? ch.substr(0, 30) + "..." : ch);
  fail("{} on {}: the target '{}' is not one of the choices ({})", c.doc_to_target.where, where, s, list);
}

std::vector<int> golds_of(const TaskConfig& c, const nlohmann::json& t, const std::vector<std::string>& choices,
                          const std::string& where) {
  std::vector<int> g;
  if (t.is_array()) {
    for (const auto& e : t)
      if (int k = choice_index(c, e, choices, where); k >= 0) g.push_back(k);
    if (t.empty()) fail("{} on {}: the target list is empty", c.doc_to_target.where, where);
  } else if (int k = choice_index(c, t, choices, where); k >= 0) {
    g.push_back(k);
  }
  if (g.empty())
    log::warn("{} on {}: the target {} is out of range ({} choices); the question counts as wrong, as in the harness",
              c.doc_to_target.where, where, value_text(t), choices.size());
  return g;
}

struct Built {
  std::string text;
  std::vector<std::string> choices;
  std::vector<int> golds;
  std::vector<std::string> refs;
  std::string example_target;  // what a few-shot example shows after the delimiter
};

Built build(const TaskConfig& c, const nlohmann::json& doc, const std::string& where) {
  Built b;
  b.text = value_text(field_or_render(c.doc_to_text, doc, where));
  nlohmann::json t = raw_target(c, doc, where);
  if (has_choices(c)) {
    b.choices = doc_choices(c, doc, where);
    b.golds = golds_of(c, t, b.choices, where);
    for (int g : b.golds) b.refs.push_back(b.choices[g]);
    if (b.refs.empty()) b.refs.push_back("");  // a target out of range: nothing can match
  } else if (t.is_array()) {
    for (const auto& e : t) b.refs.push_back(value_text(e));
    if (b.refs.empty()) fail("{} on {}: the target list is empty", c.doc_to_target.where, where);
  } else {
    b.refs.push_back(value_text(t));
  }
  b.example_target = b.refs.at(0);
  return b;
}

}  // namespace

PreparedTask prepare_task(const TaskConfig& cfg, const PrepareOptions& o) {
  PreparedTask p;
  p.cfg = cfg;
  const DatasetSpec& ds = cfg.dataset;
  auto has = [&](const std::string& s) { return !s.empty() && !split_file(ds, s).empty(); };
  if (has(cfg.test_split)) p.eval_split = cfg.test_split;
  else if (has(cfg.validation_split)) p.eval_split = cfg.validation_split;
  else fail("task '{}': its dataset '{}' has neither the '{}' nor the '{}' split", cfg.name, ds.path, cfg.test_split,
            cfg.validation_split);
  Docs docs = load_split(ds, p.eval_split);
  p.n_docs = docs.docs.size();
  if (docs.docs.empty()) fail("task '{}': the {} split ({}) has no documents", cfg.name, p.eval_split, docs.file);

  p.num_fewshot = o.num_fewshot >= 0 ? o.num_fewshot : cfg.num_fewshot;
  Docs shots;
  bool same_split = false;
  if (p.num_fewshot > 0) {
    if (!cfg.fewshot_split.empty()) p.fewshot_from = cfg.fewshot_split;
    else if (has(cfg.training_split)) p.fewshot_from = cfg.training_split;
    else if (has(cfg.validation_split)) p.fewshot_from = cfg.validation_split;
    else p.fewshot_from = p.eval_split;
    if (!has(p.fewshot_from))
      fail("task '{}': fewshot_split '{}' is not in the dataset '{}'", cfg.name, p.fewshot_from, ds.path);
    same_split = split_file(ds, p.fewshot_from) == split_file(ds, p.eval_split);
    shots = same_split ? docs : load_split(ds, p.fewshot_from);
    size_t avail = shots.docs.size() - (same_split ? 1 : 0);
    if ((size_t)p.num_fewshot > avail)
      fail("task '{}': {} few-shot examples asked, the {} split has {}", cfg.name, p.num_fewshot, p.fewshot_from, avail);
  }
  // Few-shot examples are rendered once each.
  std::vector<std::string> shot_text(shots.docs.size());
  std::vector<bool> shot_done(shots.docs.size());
  auto example = [&](size_t k) -> const std::string& {
    if (!shot_done[k]) {
      Built b = build(cfg, shots.docs[k], shots.where[k]);
      shot_text[k] = b.text + cfg.target_delimiter + b.example_target;
      shot_done[k] = true;
    }
    return shot_text[k];
  };
  std::mt19937_64 rng(o.fewshot_seed);

  size_t n = o.limit > 0 ? std::min<size_t>(o.limit, docs.docs.size()) : docs.docs.size();
  std::unordered_map<std::string, size_t> ids;
  for (size_t i = 0; i < n; i++) {
    const nlohmann::json& doc = docs.docs[i];
    const std::string& where = docs.where[i];
    Instance in;
    in.index = i;
    in.where = where;
    in.doc = doc;
    in.doc_id = cfg.doc_id.set ? trim(value_text(field_or_render(cfg.doc_id, doc, where))) : std::to_string(i);
    if (auto [it, fresh] = ids.emplace(in.doc_id, i); !fresh)
      fail("task '{}': {} and {} have the same doc_id '{}'", cfg.name, docs.where[it->second], where, in.doc_id);
    if (cfg.doc_weight.set) {
      std::string w = trim(value_text(field_or_render(cfg.doc_weight, doc, where)));
      try {
        size_t used = 0;
        in.weight = std::stod(w, &used);
        if (used != w.size()) throw std::invalid_argument("trailing");
      } catch (...) {
        fail("{} on {}: doc_weight gives '{}', not a number", cfg.doc_weight.where, where, w);
      }
    }
    Built b = build(cfg, doc, where);
    std::string ctx = cfg.description.set ? render(cfg.description, doc, where) : "";
    if (p.num_fewshot > 0) {
      std::vector<size_t> pick;
      size_t need = p.num_fewshot + (same_split ? 1 : 0);
      if (cfg.fewshot_sampler == "first_n") {
        for (size_t k = 0; k < shots.docs.size() && pick.size() < need; k++) pick.push_back(k);
      } else {
        // A partial Fisher-Yates draw without replacement; the generator runs on across
        // documents, as the harness's sampler does.
        std::vector<size_t> pool(shots.docs.size());
        for (size_t k = 0; k < pool.size(); k++) pool[k] = k;
        for (size_t k = 0; k < need; k++) {
          std::uniform_int_distribution<size_t> d(k, pool.size() - 1);
          std::swap(pool[k], pool[d(rng)]);
          pick.push_back(pool[k]);
        }
      }
      std::string ex;
      int used = 0;
      for (size_t k : pick) {
        if (same_split && k == i) continue;
        if (used == p.num_fewshot) break;
        ex += example(k) + cfg.fewshot_delimiter;
        used++;
      }
      ctx += ex;
    }
    in.context = ctx + b.text;
    in.choices = b.choices;
    in.golds = b.golds;
    in.references = b.refs;
    if (cfg.output_type == OutputType::MultipleChoice) {
      if (!has_choices(cfg)) fail("task '{}' is multiple_choice but has no doc_to_choice", cfg.name);
      for (const auto& ch : in.choices) in.continuations.push_back(cfg.target_delimiter + ch);
    } else if (cfg.output_type == OutputType::Loglikelihood) {
      in.continuations.push_back(cfg.target_delimiter + in.references.at(0));
    }
    p.inst.push_back(std::move(in));
  }
  for (const auto& m : cfg.metrics)
    if (m.metric == "f1" && cfg.output_type == OutputType::MultipleChoice)
      for (const auto& in : p.inst)
        if (in.choices.size() != 2)
          fail("task '{}': metric f1 is binary (as the harness's), but {} has {} choices", cfg.name, in.where, in.choices.size());
  return p;
}

}  // namespace flops::harness
