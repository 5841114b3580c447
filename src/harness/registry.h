#pragma once
// The task files flops knows: the built-in tasks (tasks/ of the checkout, or share/flops/tasks
// beside the installed binary), folders given with --include-path, and $FLOPS_TASKS. Names
// resolve as the harness resolves them: a task, a group (its tasks, then its aggregate), a tag
// (every task carrying it), a shell-style pattern (mmlu_*), or a path to a YAML file.
#include <string>
#include <vector>

#include "harness/task.h"

namespace flops::harness {

struct TaskEntry {
  std::string name;
  std::string file;
  bool is_group = false;
  std::vector<std::string> tags;
  std::vector<std::string> members;  // a group's tasks
  std::string output_type;
  std::string dataset;
};

struct Registry {
  std::vector<std::string> dirs;
  std::vector<TaskEntry> entries;
  std::vector<std::string> data_dirs;
  const TaskEntry* find(const std::string& name) const;
};

// The built-in tasks folder ("" when none is found).
std::string builtin_tasks_dir();

// Scans `include_dirs`, $FLOPS_TASKS and the built-in folder. A file that does not parse is an
// error naming it (a broken task file is never skipped silently).
Registry load_registry(const std::vector<std::string>& include_dirs, const std::vector<std::string>& data_dirs);

struct Selection {
  std::vector<TaskConfig> tasks;   // in the order asked, each once
  std::vector<GroupConfig> groups; // groups asked for (their tasks are in `tasks`)
};

// "causality_tuebingen_ab,mmlu_anatomy", "mmlu", "agieval_*", "path/to/task.yaml".
Selection select_tasks(const Registry& r, const std::string& list);

}  // namespace flops::harness
