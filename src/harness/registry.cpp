#include "harness/registry.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "core/error.h"

namespace flops::harness {

namespace fs = std::filesystem;

std::string builtin_tasks_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path dir = exe.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    for (fs::path cand : {dir / "share" / "flops" / "tasks", dir / "tasks"})
      if (fs::is_directory(cand, ec) && fs::exists(cand / "README.md", ec)) return cand.string();
    if (dir == dir.root_path()) break;
  }
  return "";
}

const TaskEntry* Registry::find(const std::string& name) const {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

Registry load_registry(const std::vector<std::string>& include_dirs, const std::vector<std::string>& data_dirs) {
  Registry r;
  r.data_dirs = data_dirs;
  r.dirs = include_dirs;
  if (const char* e = std::getenv("FLOPS_TASKS"); e && *e) r.dirs.push_back(e);
  if (std::string b = builtin_tasks_dir(); !b.empty()) r.dirs.push_back(b);
  std::set<std::string> seen_files;
  for (const auto& d : r.dirs) {
    if (!fs::is_directory(d)) fail("--include-path: '{}' is not a folder", d);
    std::vector<std::string> files;
    for (const auto& f : fs::recursive_directory_iterator(d))
      if (f.is_regular_file() && (f.path().extension() == ".yaml" || f.path().extension() == ".yml")) {
        std::string name = f.path().filename().string();
        if (!name.empty() && name[0] == '_') continue;  // included templates, not tasks
        files.push_back(fs::canonical(f.path()).string());
      }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      if (!seen_files.insert(f).second) continue;
      TaskFile tf = load_task_file(f, data_dirs);
      TaskEntry e;
      e.file = f;
      if (tf.is_group) {
        e.is_group = true;
        e.name = tf.group.name;
        e.members = tf.group.tasks;
        e.output_type = "group";
      } else {
        e.name = tf.task.name;
        e.tags = tf.task.tags;
        e.output_type = output_type_name(tf.task.output_type);
        e.dataset = tf.task.dataset.path;
      }
      // The first folder wins, so --include-path can override a built-in task.
      if (!r.find(e.name)) r.entries.push_back(std::move(e));
    }
  }
  return r;
}

namespace {

void add_task(const Registry& r, const std::string& name, Selection& s, std::set<std::string>& have, int depth);

void add_entry(const Registry& r, const TaskEntry& e, Selection& s, std::set<std::string>& have, int depth) {
  if (depth > 8) fail("group '{}' nests groups more than 8 deep (a cycle?)", e.name);
  TaskFile tf = load_task_file(e.file, r.data_dirs);
  if (tf.is_group) {
    for (const auto& m : tf.group.tasks) add_task(r, m, s, have, depth + 1);
    if (!have.count("group:" + e.name)) {
      have.insert("group:" + e.name);
      s.groups.push_back(tf.group);
    }
  } else if (!have.count(tf.task.name)) {
    have.insert(tf.task.name);
    s.tasks.push_back(tf.task);
  }
}

void add_task(const Registry& r, const std::string& name, Selection& s, std::set<std::string>& have, int depth) {
  if (const TaskEntry* e = r.find(name)) return add_entry(r, *e, s, have, depth);
  fail("unknown task '{}' (flops eval --list shows the tasks)", name);
}

}  // namespace

Selection select_tasks(const Registry& r, const std::string& list) {
  Selection s;
  std::set<std::string> have;
  size_t i = 0;
  while (i <= list.size()) {
    size_t e = list.find(',', i);
    if (e == std::string::npos) e = list.size();
    std::string name = list.substr(i, e - i);
    name.erase(0, name.find_first_not_of(' '));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    i = e + 1;
    if (name.empty()) continue;
    if (name.size() > 5 && (name.ends_with(".yaml") || name.ends_with(".yml"))) {
      if (!fs::is_regular_file(name)) fail("task file not found: '{}'", name);
      TaskFile tf = load_task_file(name, r.data_dirs);
      if (tf.is_group) {
        for (const auto& m : tf.group.tasks) add_task(r, m, s, have, 1);
        s.groups.push_back(tf.group);
      } else if (!have.count(tf.task.name)) {
        have.insert(tf.task.name);
        s.tasks.push_back(tf.task);
      }
      continue;
    }
    if (const TaskEntry* en = r.find(name)) {
      add_entry(r, *en, s, have, 0);
      continue;
    }
    bool any = false;
    for (const auto& en : r.entries) {
      bool tagged = std::find(en.tags.begin(), en.tags.end(), name) != en.tags.end();
      bool glob = name.find_first_of("*?[") != std::string::npos && fnmatch(name.c_str(), en.name.c_str(), 0) == 0;
      if ((tagged || glob) && !en.is_group) {
        add_entry(r, en, s, have, 0);
        any = true;
      }
    }
    if (!any) fail("unknown task '{}' (flops eval --list shows the tasks)", name);
  }
  if (s.tasks.empty()) fail("no task given: --tasks NAME[,NAME...] (flops eval --list shows them)");
  return s;
}

}  // namespace flops::harness
