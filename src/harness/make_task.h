#pragma once
// `flops eval --make-task questions.csv -o mytest.yaml`: a multiple-choice task from a table a
// user typed up. The CSV has a header and one question per row, in either layout:
//   question,A,B,C,D,answer          one column per option, named by its letter
//   question,options,answer          the options in one field, separated by '|'
// `answer` is the letter of the right option (A, B, ...) or its number (1, 2, ...). Every row is
// checked (field count, a non-empty question, the options, an answer among them) and the first
// problem is an error naming its line. The task asks in the MMLU layout ("question\nA. ...\n
// Answer:") and scores the letters, so it runs at once on any backend.
#include <string>

namespace flops::harness {

struct MadeTask {
  std::string yaml;
  std::string name;
  int questions = 0;
  int options = 0;
};

// `yaml_path` is where the task will be written (the CSV's path is made relative to it).
MadeTask make_task(const std::string& csv_path, const std::string& yaml_path, const std::string& name = "");

}  // namespace flops::harness
