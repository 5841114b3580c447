#include "harness/task.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/mmap_file.h"

namespace flops::harness {

namespace fs = std::filesystem;

const char* output_type_name(OutputType t) {
  switch (t) {
    case OutputType::MultipleChoice: return "multiple_choice";
    case OutputType::Loglikelihood: return "loglikelihood";
    case OutputType::GenerateUntil: return "generate_until";
  }
  return "?";
}

namespace {

// Keys of the harness that flops does not run, with why (the message a user sees).
const std::map<std::string, std::string>& unsupported_keys() {
  static const std::map<std::string, std::string> m = {
      {"process_docs", "it names Python code; use dataset_kwargs.join and templates instead"},
      {"process_results", "it names Python code"},
      {"use_prompt", "promptsource prompts are not available offline"},
      {"doc_to_image", "flops evaluates text models"},
      {"doc_to_audio", "flops evaluates text models"},
      {"custom_dataset", "it names Python code"},
      {"unsafe_code", "flops runs no task code"},
      {"gen_prefix", "not implemented"},
      {"fewshot_split_seed", "not a harness key; the seed is fewshot_config.seed"},
  };
  return m;
}

const std::vector<std::string>& task_keys() {
  static const std::vector<std::string> k = {
      "task", "task_alias", "tag", "group", "include", "dataset_path", "dataset_name", "dataset_kwargs",
      "training_split", "validation_split", "test_split", "fewshot_split", "description", "doc_to_text",
      "doc_to_target", "doc_to_choice", "target_delimiter", "fewshot_delimiter", "num_fewshot", "fewshot_config",
      "output_type", "generation_kwargs", "filter_list", "metric_list", "metadata", "repeats",
      "should_decontaminate", "doc_to_decontamination_query", "batch_size", "doc_id", "doc_weight"};
  return k;
}

const std::vector<std::string>& group_keys() {
  static const std::vector<std::string> k = {"group", "group_alias", "task", "aggregate_metric_list", "metadata", "tag"};
  return k;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); j++)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggestion(const std::string& key, const std::vector<std::string>& known) {
  std::string best;
  size_t bd = 4;
  for (const auto& k : known) {
    size_t d = edit_distance(key, k);
    if (d < bd) { bd = d; best = k; }
  }
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

// A value with the file it was written in (include: brings keys from other files).
struct Val {
  YAML::Node node;
  std::string file;
  int line() const { return node.Mark().line + 1; }
  std::string at() const { return fmt::format("{} line {}", fs::path(file).filename().string(), line()); }
};

nlohmann::json yaml_to_json(const YAML::Node& n) {
  if (n.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (auto it = n.begin(); it != n.end(); ++it) j[it->first.as<std::string>()] = yaml_to_json(it->second);
    return j;
  }
  if (n.IsSequence()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : n) j.push_back(yaml_to_json(e));
    return j;
  }
  if (n.IsScalar()) return n.as<std::string>();
  return nullptr;
}

[[noreturn]] void bad(const Val& v, const std::string& msg) { fail("{}: {}", v.at(), msg); }

void check_keys(const YAML::Node& map, const std::string& file, const std::string& what,
                const std::vector<std::string>& known) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string k = it->first.as<std::string>();
    if (std::find(known.begin(), known.end(), k) == known.end())
      fail("{} line {}: unknown {} key '{}'{}", fs::path(file).filename().string(), it->first.Mark().line + 1, what, k,
           suggestion(k, known));
  }
}

std::string scalar(const Val& v, const std::string& key) {
  if (!v.node.IsScalar()) bad(v, fmt::format("{} must be a string", key));
  return v.node.as<std::string>();
}

int integer(const Val& v, const std::string& key) {
  if (!v.node.IsScalar()) bad(v, fmt::format("{} must be an integer", key));
  std::string s = v.node.as<std::string>();
  try {
    size_t used = 0;
    int x = std::stoi(s, &used);
    if (used == s.size()) return x;
  } catch (...) {
  }
  bad(v, fmt::format("{} must be an integer, got '{}'", key, s));
}

double number(const Val& v, const std::string& key) {
  if (!v.node.IsScalar()) bad(v, fmt::format("{} must be a number", key));
  std::string s = v.node.as<std::string>();
  try {
    size_t used = 0;
    double x = std::stod(s, &used);
    if (used == s.size()) return x;
  } catch (...) {
  }
  bad(v, fmt::format("{} must be a number, got '{}'", key, s));
}

bool boolean(const Val& v, const std::string& key) {
  std::string s = scalar(v, key);
  if (s == "true" || s == "True" || s == "yes") return true;
  if (s == "false" || s == "False" || s == "no") return false;
  bad(v, fmt::format("{} must be true or false, got '{}'", key, s));
}

std::vector<std::string> string_list(const Val& v, const std::string& key) {
  std::vector<std::string> out;
  if (v.node.IsScalar()) return {v.node.as<std::string>()};
  if (!v.node.IsSequence()) bad(v, fmt::format("{} must be a string or a list of strings", key));
  for (const auto& e : v.node) out.push_back(scalar({e, v.file}, key));
  return out;
}

Tpl tpl(const Val& v, const std::string& key) {
  Tpl t;
  t.src = scalar(v, key);
  t.where = fmt::format("{} ({})", v.at(), key);
  t.set = true;
  return t;
}

// The top-level keys of a file with its includes resolved (the including file wins).
std::map<std::string, Val> flatten(const YAML::Node& root, const std::string& file, int depth) {
  if (depth > 8) fail("{}: include: nests more than 8 files deep (a cycle?)", file);
  std::map<std::string, Val> out;
  if (root["include"]) {
    Val inc{root["include"], file};
    std::string name = scalar(inc, "include");
    fs::path p = fs::path(name).is_absolute() ? fs::path(name) : fs::path(file).parent_path() / name;
    if (!fs::exists(p)) bad(inc, fmt::format("include: '{}' not found", p.string()));
    YAML::Node sub;
    try {
      sub = YAML::LoadFile(p.string());
    } catch (const YAML::Exception& e) {
      fail("{} line {}: {}", p.string(), e.mark.line + 1, e.msg);
    }
    if (!sub.IsMap()) fail("{}: a task file must be a YAML mapping", p.string());
    check_keys(sub, p.string(), "task", task_keys());
    out = flatten(sub, p.string(), depth + 1);
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string k = it->first.as<std::string>();
    if (k == "include") continue;
    out[k] = Val{it->second, file};
  }
  return out;
}

FileSpec file_spec(const Val& v, const std::string& key, FileSpec f, std::vector<std::string> extra_keys) {
  std::vector<std::string> known = {"format", "delimiter", "header", "column_names", "strip"};
  known.insert(known.end(), extra_keys.begin(), extra_keys.end());
  check_keys(v.node, v.file, key, known);
  if (auto n = v.node["format"]) f.format = scalar({n, v.file}, "format");
  if (auto n = v.node["delimiter"]) {
    std::string d = scalar({n, v.file}, "delimiter");
    if (d.size() != 1) bad({n, v.file}, "delimiter must be one character");
    f.table.delimiter = d[0];
  }
  if (auto n = v.node["header"]) f.table.header = boolean({n, v.file}, "header");
  if (auto n = v.node["column_names"]) f.table.column_names = string_list({n, v.file}, "column_names");
  if (auto n = v.node["strip"]) f.table.strip = boolean({n, v.file}, "strip");
  return f;
}

void read_dataset_kwargs(const Val& v, DatasetSpec& d) {
  if (!v.node.IsMap()) bad(v, "dataset_kwargs must be a mapping");
  d.defaults = file_spec(v, "dataset_kwargs", d.defaults, {"data_files", "join"});
  if (auto n = v.node["data_files"]) {
    Val df{n, v.file};
    if (n.IsScalar()) {
      d.data_files["train"] = n.as<std::string>();
    } else if (n.IsMap()) {
      for (auto it = n.begin(); it != n.end(); ++it) d.data_files[it->first.as<std::string>()] = scalar({it->second, v.file}, "data_files");
    } else {
      bad(df, "data_files must be a file or a mapping of split names to files");
    }
  }
  if (auto n = v.node["join"]) {
    if (!n.IsSequence()) bad({n, v.file}, "join must be a list");
    for (const auto& e : n) {
      Val j{e, v.file};
      if (!e.IsMap()) bad(j, "each join must be a mapping (path, left_key, right_key)");
      JoinSpec js;
      js.file = file_spec(j, "join", FileSpec{}, {"path", "left_key", "right_key", "required", "prefix"});
      for (const char* req : {"path", "left_key", "right_key"})
        if (!e[req]) bad(j, fmt::format("join needs {}", req));
      js.file.path = scalar({e["path"], v.file}, "path");
      js.left_key = tpl({e["left_key"], v.file}, "left_key");
      js.right_key = tpl({e["right_key"], v.file}, "right_key");
      if (e["required"]) js.required = boolean({e["required"], v.file}, "required");
      if (e["prefix"]) js.prefix = scalar({e["prefix"], v.file}, "prefix");
      d.joins.push_back(std::move(js));
    }
  }
}

std::vector<FilterPipeline> read_filters(const Val& v) {
  if (!v.node.IsSequence()) bad(v, "filter_list must be a list of {{name, filter}}");
  std::vector<FilterPipeline> out;
  for (const auto& e : v.node) {
    Val p{e, v.file};
    if (!e.IsMap()) bad(p, "each filter_list entry must be a mapping with name and filter");
    check_keys(e, v.file, "filter_list", {"name", "filter"});
    FilterPipeline fp;
    if (e["name"]) fp.name = scalar({e["name"], v.file}, "name");
    if (!e["filter"] || !e["filter"].IsSequence()) bad(p, "a filter_list entry needs a list 'filter'");
    for (const auto& s : e["filter"]) {
      Val sv{s, v.file};
      if (!s.IsMap() || !s["function"]) bad(sv, "each filter step needs 'function'");
      check_keys(s, v.file, "filter", {"function", "regex_pattern", "group_select", "fallback", "ignore_case"});
      FilterStep st;
      st.function = scalar({s["function"], v.file}, "function");
      static const std::set<std::string> fns = {"regex", "take_first", "lowercase", "uppercase", "remove_whitespace"};
      if (!fns.count(st.function))
        bad({s["function"], v.file}, fmt::format("filter function '{}' is not supported (regex, take_first, lowercase, "
                                                 "uppercase, remove_whitespace)", st.function));
      if (s["regex_pattern"]) st.regex_pattern = scalar({s["regex_pattern"], v.file}, "regex_pattern");
      else if (st.function == "regex") st.regex_pattern = "#### (\\-?[0-9\\.\\,]+)";  // the harness's default
      if (s["group_select"]) st.group_select = integer({s["group_select"], v.file}, "group_select");
      if (s["fallback"]) st.fallback = scalar({s["fallback"], v.file}, "fallback");
      fp.steps.push_back(st);
    }
    out.push_back(std::move(fp));
  }
  return out;
}

std::vector<MetricSpec> read_metrics(const Val& v) {
  if (!v.node.IsSequence()) bad(v, "metric_list must be a list");
  std::vector<MetricSpec> out;
  for (const auto& e : v.node) {
    Val m{e, v.file};
    MetricSpec ms;
    if (e.IsScalar()) {
      ms.metric = e.as<std::string>();
    } else {
      if (!e.IsMap() || !e["metric"]) bad(m, "each metric_list entry needs 'metric'");
      check_keys(e, v.file, "metric_list", {"metric", "aggregation", "higher_is_better", "ignore_case",
                                            "ignore_punctuation", "ignore_numbers", "regexes_to_ignore"});
      ms.metric = scalar({e["metric"], v.file}, "metric");
      if (e["aggregation"]) ms.aggregation = scalar({e["aggregation"], v.file}, "aggregation");
      if (e["higher_is_better"]) ms.higher_is_better = boolean({e["higher_is_better"], v.file}, "higher_is_better");
      if (e["ignore_case"]) ms.ignore_case = boolean({e["ignore_case"], v.file}, "ignore_case");
      if (e["ignore_punctuation"]) ms.ignore_punctuation = boolean({e["ignore_punctuation"], v.file}, "ignore_punctuation");
      if (e["ignore_numbers"]) ms.ignore_numbers = boolean({e["ignore_numbers"], v.file}, "ignore_numbers");
      if (e["regexes_to_ignore"]) ms.regexes_to_ignore = string_list({e["regexes_to_ignore"], v.file}, "regexes_to_ignore");
    }
    static const std::map<std::string, std::string> own = {
        {"acc", "mean"}, {"acc_norm", "mean"}, {"exact_match", "mean"}, {"f1", "f1"}, {"perplexity", "perplexity"}};
    auto it = own.find(ms.metric);
    if (it == own.end())
      bad(m, fmt::format("metric '{}' is not supported (acc, acc_norm, exact_match, f1, perplexity)", ms.metric));
    if (ms.aggregation.empty()) ms.aggregation = it->second;
    if (ms.aggregation != it->second && ms.aggregation != "mean")
      bad(m, fmt::format("aggregation '{}' is not supported for {} (use {})", ms.aggregation, ms.metric, it->second));
    if (ms.metric == "perplexity") ms.higher_is_better = false;
    out.push_back(std::move(ms));
  }
  return out;
}

GroupConfig read_group(const std::map<std::string, Val>& keys, const std::string& path) {
  GroupConfig g;
  g.file = path;
  g.name = scalar(keys.at("group"), "group");
  if (auto it = keys.find("group_alias"); it != keys.end()) g.alias = scalar(it->second, "group_alias");
  const Val& t = keys.at("task");
  if (!t.node.IsSequence()) bad(t, "a group's task must be a list of task names");
  for (const auto& e : t.node) {
    if (!e.IsScalar()) bad({e, t.file}, "a group lists tasks by name (inline task definitions are not supported)");
    g.tasks.push_back(e.as<std::string>());
  }
  if (auto it = keys.find("aggregate_metric_list"); it != keys.end()) {
    const Val& a = it->second;
    if (!a.node.IsSequence()) bad(a, "aggregate_metric_list must be a list");
    for (const auto& e : a.node) {
      Val av{e, a.file};
      if (!e.IsMap() || !e["metric"]) bad(av, "each aggregate_metric_list entry needs 'metric'");
      check_keys(e, a.file, "aggregate_metric_list", {"metric", "aggregation", "weight_by_size", "filter_list"});
      AggregateSpec s;
      s.metric = scalar({e["metric"], a.file}, "metric");
      if (e["aggregation"] && scalar({e["aggregation"], a.file}, "aggregation") != "mean")
        bad({e["aggregation"], a.file}, "only aggregation: mean is supported");
      if (e["weight_by_size"]) s.weight_by_size = boolean({e["weight_by_size"], a.file}, "weight_by_size");
      if (e["filter_list"]) s.filter = string_list({e["filter_list"], a.file}, "filter_list").at(0);
      g.aggregate.push_back(s);
    }
  }
  return g;
}

}  // namespace

const std::vector<std::string>& known_task_keys() { return task_keys(); }

TaskFile parse_task_yaml(const std::string& text, const std::string& path, const std::vector<std::string>& data_dirs) {
  const std::string fname = fs::path(path).filename().string();
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail("{} line {}: not valid YAML: {}", fname, e.mark.line + 1, e.msg);
  }
  if (!root.IsMap()) fail("{}: a task file must be a YAML mapping of keys", fname);
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string k = it->first.as<std::string>();
    if (auto u = unsupported_keys().find(k); u != unsupported_keys().end())
      fail("{} line {}: '{}' is not supported by flops: {}", fs::path(path).filename().string(), it->first.Mark().line + 1, k,
           u->second);
    if (it->second.Tag() == "!function")
      fail("{} line {}: '{}: !function' names Python code, which flops does not run", fs::path(path).filename().string(),
           it->first.Mark().line + 1, k);
  }
  TaskFile tf;
  bool group = root["group"] && root["task"] && root["task"].IsSequence();
  check_keys(root, path, group ? "group" : "task", group ? group_keys() : task_keys());
  std::map<std::string, Val> keys = flatten(root, path, 0);
  if (group) {
    tf.is_group = true;
    tf.group = read_group(keys, path);
    return tf;
  }
  TaskConfig& c = tf.task;
  c.file = path;
  auto get = [&](const std::string& k) -> const Val* {
    auto it = keys.find(k);
    return it == keys.end() ? nullptr : &it->second;
  };
  if (!get("task")) fail("{}: no 'task' key: a task file needs a name", fname);
  c.name = scalar(*get("task"), "task");
  c.line = get("task")->line();
  if (auto v = get("task_alias")) c.alias = scalar(*v, "task_alias");
  if (auto v = get("tag")) c.tags = string_list(*v, "tag");
  if (auto v = get("group")) {  // the harness's older spelling of tag
    auto g = string_list(*v, "group");
    c.tags.insert(c.tags.end(), g.begin(), g.end());
  }
  const Val* dp = get("dataset_path");
  if (!dp) fail("{}: task '{}' has no dataset_path", fname, c.name);
  c.dataset.path = scalar(*dp, "dataset_path");
  c.dataset.base_dir = fs::path(dp->file).parent_path().string();
  c.dataset.data_dirs = data_dirs;
  if (auto v = get("dataset_name")) c.dataset.name = scalar(*v, "dataset_name");
  if (auto v = get("dataset_kwargs")) read_dataset_kwargs(*v, c.dataset);
  if (auto v = get("training_split")) c.training_split = scalar(*v, "training_split");
  if (auto v = get("validation_split")) c.validation_split = scalar(*v, "validation_split");
  if (auto v = get("test_split")) c.test_split = scalar(*v, "test_split");
  if (auto v = get("fewshot_split")) c.fewshot_split = scalar(*v, "fewshot_split");
  if (c.test_split.empty() && c.validation_split.empty())
    fail("{}: task '{}' names neither test_split nor validation_split", fname, c.name);
  if (auto v = get("description")) c.description = tpl(*v, "description");
  if (auto v = get("doc_to_text")) c.doc_to_text = tpl(*v, "doc_to_text");
  else fail("{}: task '{}' has no doc_to_text", fname, c.name);
  if (auto v = get("doc_to_target")) c.doc_to_target = tpl(*v, "doc_to_target");
  else fail("{}: task '{}' has no doc_to_target", fname, c.name);
  if (auto v = get("doc_to_choice")) {
    if (v->node.IsSequence()) {
      for (const auto& e : v->node) c.choice_list.push_back(tpl({e, v->file}, "doc_to_choice"));
    } else if (v->node.IsMap()) {
      for (auto it = v->node.begin(); it != v->node.end(); ++it) c.choice_list.push_back(tpl({it->second, v->file}, "doc_to_choice"));
    } else {
      c.doc_to_choice = tpl(*v, "doc_to_choice");
    }
  }
  if (auto v = get("target_delimiter")) c.target_delimiter = scalar(*v, "target_delimiter");
  if (auto v = get("fewshot_delimiter")) c.fewshot_delimiter = scalar(*v, "fewshot_delimiter");
  if (auto v = get("num_fewshot")) {
    c.num_fewshot = integer(*v, "num_fewshot");
    c.num_fewshot_set = true;
    if (c.num_fewshot < 0) bad(*v, "num_fewshot must be >= 0");
  }
  if (auto v = get("fewshot_config")) {
    if (!v->node.IsMap()) bad(*v, "fewshot_config must be a mapping");
    check_keys(v->node, v->file, "fewshot_config", {"sampler"});
    if (auto s = v->node["sampler"]) {
      c.fewshot_sampler = scalar({s, v->file}, "sampler");
      if (c.fewshot_sampler != "default" && c.fewshot_sampler != "first_n")
        bad({s, v->file}, fmt::format("fewshot sampler '{}' is not supported (default, first_n)", c.fewshot_sampler));
    }
  }
  if (auto v = get("output_type")) {
    std::string t = scalar(*v, "output_type");
    if (t == "multiple_choice") c.output_type = OutputType::MultipleChoice;
    else if (t == "loglikelihood") c.output_type = OutputType::Loglikelihood;
    else if (t == "generate_until") c.output_type = OutputType::GenerateUntil;
    else if (t == "loglikelihood_rolling") bad(*v, "output_type loglikelihood_rolling is not supported (use flops perplexity)");
    else bad(*v, fmt::format("unknown output_type '{}' (multiple_choice, loglikelihood, generate_until)", t));
  }
  if (c.output_type == OutputType::MultipleChoice && !c.doc_to_choice.set && c.choice_list.empty())
    fail("{}: task '{}' is multiple_choice but has no doc_to_choice", fname, c.name);
  if (auto v = get("generation_kwargs")) {
    if (!v->node.IsMap()) bad(*v, "generation_kwargs must be a mapping");
    check_keys(v->node, v->file, "generation_kwargs", {"until", "max_gen_toks", "do_sample", "temperature"});
    if (auto n = v->node["until"]) {
      c.gen.until = string_list({n, v->file}, "until");
      c.gen.until_set = true;
    }
    if (auto n = v->node["max_gen_toks"]) c.gen.max_gen_toks = integer({n, v->file}, "max_gen_toks");
    if (auto n = v->node["do_sample"]) c.gen.do_sample = boolean({n, v->file}, "do_sample");
    if (auto n = v->node["temperature"]) c.gen.temperature = number({n, v->file}, "temperature");
    if (c.gen.do_sample || c.gen.temperature > 0)
      bad(*v, "sampled generation (do_sample, temperature > 0) is not supported: flops evaluates greedily");
    if (c.gen.max_gen_toks < 1) bad(*v, "max_gen_toks must be >= 1");
  }
  if (!c.gen.until_set) c.gen.until = {c.fewshot_delimiter};
  if (auto v = get("filter_list")) c.filters = read_filters(*v);
  if (auto v = get("metric_list")) c.metrics = read_metrics(*v);
  if (auto v = get("repeats"); v && integer(*v, "repeats") != 1) bad(*v, "repeats other than 1 are not supported");
  if (auto v = get("should_decontaminate"); v && boolean(*v, "should_decontaminate"))
    bad(*v, "decontamination is not supported");
  if (auto v = get("doc_id")) c.doc_id = tpl(*v, "doc_id");
  if (auto v = get("doc_weight")) c.doc_weight = tpl(*v, "doc_weight");
  if (auto v = get("metadata")) {
    c.metadata = yaml_to_json(v->node);  // kept for the results file
  }
  // Defaults of the output type, as the harness's.
  if (c.metrics.empty()) {
    auto metric = [](const char* name, const char* agg, bool higher) {
      MetricSpec m;
      m.metric = name;
      m.aggregation = agg;
      m.higher_is_better = higher;
      return m;
    };
    if (c.output_type == OutputType::MultipleChoice) c.metrics = {metric("acc", "mean", true), metric("acc_norm", "mean", true)};
    else if (c.output_type == OutputType::Loglikelihood)
      c.metrics = {metric("perplexity", "perplexity", false), metric("acc", "mean", true)};
    else c.metrics = {metric("exact_match", "mean", true)};
  }
  for (const auto& m : c.metrics) {
    bool gen_metric = m.metric == "exact_match";
    if (c.output_type == OutputType::GenerateUntil && !gen_metric && m.metric != "f1")
      fail("{}: metric '{}' needs log-likelihoods; task '{}' is generate_until (use exact_match or f1)", fname, m.metric, c.name);
    if (c.output_type == OutputType::Loglikelihood && m.metric != "perplexity" && m.metric != "acc")
      fail("{}: metric '{}' does not apply to loglikelihood tasks (perplexity, acc)", fname, m.metric);
    if (m.metric == "perplexity" && c.output_type != OutputType::Loglikelihood)
      fail("{}: metric perplexity applies only to loglikelihood tasks", fname);
  }
  if (!c.filters.empty() && c.output_type != OutputType::GenerateUntil)
    fail("{}: filter_list applies to generate_until answers; task '{}' is {}", fname, c.name, output_type_name(c.output_type));
  return tf;
}

TaskFile load_task_file(const std::string& path, const std::vector<std::string>& data_dirs) {
  if (!fs::is_regular_file(path)) fail("task file not found: '{}'", path);
  return parse_task_yaml(read_text_file(path), path, data_dirs);
}

}  // namespace flops::harness
