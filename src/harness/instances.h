#pragma once
// From a task and its documents to what a model is asked, as the harness builds it:
//   context = description + examples + doc_to_text(doc)
//   examples = join(fewshot_delimiter, [doc_to_text(ex) + target_delimiter + target(ex)]) + fewshot_delimiter
// multiple_choice asks for the log-likelihood of target_delimiter + choice after the context,
// loglikelihood of target_delimiter + target, generate_until for a greedy answer that stops at
// `until`. Few-shot examples come from fewshot_split (else the training, validation or test
// split, in the harness's order), drawn with a fixed seed (or the first n); drawn from the
// evaluated split itself, the document is never its own example.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/task.h"

namespace flops::harness {

struct Instance {
  size_t index = 0;       // position in the evaluated split
  std::string doc_id;
  std::string where;      // "file.csv line 4"
  nlohmann::json doc;
  std::string context;
  std::vector<std::string> choices;        // multiple_choice
  std::vector<std::string> continuations;  // what is scored: delimiter + choice, or delimiter + target
  std::vector<int> golds;                  // multiple_choice: gold indexes
  std::vector<std::string> references;     // generate_until / loglikelihood: targets
  double weight = 1;
};

struct PreparedTask {
  TaskConfig cfg;
  std::string eval_split;
  std::string fewshot_from;  // the split examples come from ("" when none)
  int num_fewshot = 0;
  size_t n_docs = 0;         // in the split, before --limit
  std::vector<Instance> inst;
};

struct PrepareOptions {
  int limit = 0;              // first N documents only (0 = all)
  int num_fewshot = -1;       // overrides the task's when >= 0
  uint64_t fewshot_seed = 1234;
};

PreparedTask prepare_task(const TaskConfig& cfg, const PrepareOptions& o);

}  // namespace flops::harness
