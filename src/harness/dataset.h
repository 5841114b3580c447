#pragma once
// Evaluation data from local files: the documents of one split of a task.
//
// dataset_path is a file (every split is that file) or a folder; a folder's split is the file
// dataset_kwargs.data_files names for it (Hugging Face's key), else <folder>/<split>.<ext> or
// <folder>/<dataset_name>/<split>.<ext>. Formats, by extension or dataset_kwargs.format:
//   jsonl / json    one object per line, or one JSON array of objects
//   csv / tsv       a header row names the fields (RFC 4180 quoting)
//   ssv             whitespace-separated columns (Tübingen's pairmeta.txt)
// A table without a header takes column_names. dataset_kwargs.join merges fields of other
// files into each document by a key that templates compute on both sides, which is how the
// causality tasks put a pair's prompt, its ground truth and its weight together without code.
// Every document carries where it came from ("prompts.csv line 4") for error messages.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/csv.h"
#include "harness/templates.h"

namespace flops::harness {

struct FileSpec {
  std::string path;
  std::string format;  // "" = by extension
  TableFormat table;
};

struct JoinSpec {
  FileSpec file;
  Tpl left_key;   // on the task's documents
  Tpl right_key;  // on the joined file's rows
  bool required = true;  // a document without a matching row is an error
  std::string prefix;    // prepended to the joined file's field names
};

struct DatasetSpec {
  std::string path;   // dataset_path
  std::string name;   // dataset_name
  std::map<std::string, std::string> data_files;  // split -> file (relative to path)
  FileSpec defaults;  // format, delimiter, header, column_names, strip for every split file
  std::vector<JoinSpec> joins;
  std::string base_dir;                 // the task file's folder
  std::vector<std::string> data_dirs;   // where relative paths are also looked up
};

struct Docs {
  std::vector<nlohmann::json> docs;
  std::vector<std::string> where;  // "file.csv line 4"
  std::string file;                // the split's file
};

// The file a relative path names: under base_dir, else under each data dir. Fails listing
// the places it looked.
std::string resolve_data_path(const std::string& path, const std::string& base_dir,
                              const std::vector<std::string>& data_dirs);

// The split's file, or "" when the dataset has no such split.
std::string split_file(const DatasetSpec& d, const std::string& split);

// Loads one split with its joins applied.
Docs load_split(const DatasetSpec& d, const std::string& split);

// One data file as documents (no joins).
Docs load_file(const FileSpec& f, const std::string& resolved_path);

// The data folders searched by default: $FLOPS_DATA, then the first `shared/data` found in
// an ancestor of the running binary or of the current directory.
std::vector<std::string> default_data_dirs();

}  // namespace flops::harness
