#pragma once
// Task files: the subset of lm-evaluation-harness's YAML task format that flops runs.
//
// Read as the harness reads them (include:, defaults, the meaning of each key), checked
// strictly: a key flops does not know is an error naming the key, its file and line, and a
// key of the harness that flops leaves out (process_docs, use_prompt, ...) says so. See
// src/harness/README.md for the keys, their defaults and what is left out.
//
// A group file (group: NAME, task: [names]) aggregates its tasks' metrics as the harness's
// aggregate_metric_list does (mean over tasks, or weighted by their sizes).
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/dataset.h"
#include "harness/templates.h"

namespace flops::harness {

enum class OutputType { MultipleChoice, Loglikelihood, GenerateUntil };
const char* output_type_name(OutputType t);

struct FilterStep {
  std::string function;       // regex, take_first, lowercase, uppercase, strip
  std::string regex_pattern;  // regex: Python syntax as far as ECMAScript shares it; (?i) prefix allowed
  int group_select = 0;       // which match (negative counts from the end), as the harness's RegexFilter
  std::string fallback = "[invalid]";
};

struct FilterPipeline {
  std::string name = "none";
  std::vector<FilterStep> steps;
};

struct MetricSpec {
  std::string metric;       // acc, acc_norm, exact_match, f1, perplexity
  std::string aggregation;  // mean (the only one besides each metric's own)
  bool higher_is_better = true;
  bool ignore_case = false, ignore_punctuation = false, ignore_numbers = false;
  std::vector<std::string> regexes_to_ignore;
};

struct GenerationKwargs {
  std::vector<std::string> until;  // empty = [fewshot_delimiter], as the harness
  bool until_set = false;
  int max_gen_toks = 256;
  bool do_sample = false;
  double temperature = 0;
};

struct TaskConfig {
  std::string name;
  std::string alias;
  std::vector<std::string> tags;
  std::string file;  // the YAML it came from
  int line = 0;

  DatasetSpec dataset;
  std::string training_split, validation_split, test_split, fewshot_split;

  Tpl description, doc_to_text, doc_to_target;
  Tpl doc_to_choice;                 // a template or field name, or:
  std::vector<Tpl> choice_list;      // a YAML list of templates
  std::string target_delimiter = " ";
  std::string fewshot_delimiter = "\n\n";
  int num_fewshot = 0;
  bool num_fewshot_set = false;
  std::string fewshot_sampler = "default";  // default (seeded random, as the harness) or first_n
  OutputType output_type = OutputType::GenerateUntil;
  GenerationKwargs gen;
  std::vector<FilterPipeline> filters;  // empty = one pipeline "none" that passes answers through
  std::vector<MetricSpec> metrics;      // empty = the output type's defaults

  // flops's own keys
  Tpl doc_id;      // a document's id (replayed answers are keyed by it); default: its index
  Tpl doc_weight;  // a weight per document: adds weighted metrics (<metric>_weighted)
  nlohmann::json metadata;
};

struct AggregateSpec {
  std::string metric;
  bool weight_by_size = true;
  std::string filter = "none";
};

struct GroupConfig {
  std::string name;
  std::string alias;
  std::vector<std::string> tasks;
  std::vector<AggregateSpec> aggregate;
  std::string file;
};

// One YAML file: a task or a group. `data_dirs` are where relative data paths are also found.
struct TaskFile {
  bool is_group = false;
  TaskConfig task;
  GroupConfig group;
};
TaskFile load_task_file(const std::string& path, const std::vector<std::string>& data_dirs);

// Parses YAML text as if it were the file `path` (tests).
TaskFile parse_task_yaml(const std::string& text, const std::string& path, const std::vector<std::string>& data_dirs);

// The names of every key flops reads (for messages and the README).
const std::vector<std::string>& known_task_keys();

}  // namespace flops::harness
