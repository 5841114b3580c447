#include "harness/dataset.h"

#include <cstdlib>
#include <filesystem>
#include <unordered_map>

#include "core/error.h"
#include "core/mmap_file.h"
#include "core/utf8.h"

namespace flops::harness {

namespace fs = std::filesystem;

namespace {

std::string extension_format(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (auto& c : ext) c = (char)std::tolower((unsigned char)c);
  if (ext == ".jsonl" || ext == ".ndjson") return "jsonl";
  if (ext == ".json") return "json";
  if (ext == ".csv") return "csv";
  if (ext == ".tsv") return "tsv";
  return "";
}

Docs load_json_lines(const std::string& text, const std::string& path) {
  Docs d;
  d.file = path;
  size_t i = 0;
  int line = 0;
  while (i < text.size()) {
    size_t e = text.find('\n', i);
    if (e == std::string::npos) e = text.size();
    line++;
    std::string_view l(text.data() + i, e - i);
    i = e + 1;
    size_t b = l.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(l);
    } catch (const std::exception& ex) {
      fail("{} line {}: not valid JSON ({})", path, line, ex.what());
    }
    if (!j.is_object()) fail("{} line {}: a document must be a JSON object, got {}", path, line, j.type_name());
    d.docs.push_back(std::move(j));
    d.where.push_back(fmt::format("{} line {}", fs::path(path).filename().string(), line));
  }
  return d;
}

Docs load_json(const std::string& text, const std::string& path) {
  size_t b = text.find_first_not_of(" \t\r\n");
  if (b != std::string::npos && text[b] == '{') {
    // One object per line is common in files named .json too.
    return load_json_lines(text, path);
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& ex) {
    fail("{}: not valid JSON ({})", path, ex.what());
  }
  if (!j.is_array()) fail("{}: expected a JSON array of documents, got {}", path, j.type_name());
  Docs d;
  d.file = path;
  for (size_t k = 0; k < j.size(); k++) {
    if (!j[k].is_object()) fail("{}: element {} is not a JSON object", path, k);
    d.docs.push_back(j[k]);
    d.where.push_back(fmt::format("{} element {}", fs::path(path).filename().string(), k));
  }
  return d;
}

}  // namespace

std::string resolve_data_path(const std::string& path, const std::string& base_dir,
                              const std::vector<std::string>& data_dirs) {
  if (path.empty()) fail("empty data path");
  fs::path p(path);
  if (p.is_absolute()) {
    if (!fs::exists(p)) fail("data not found: '{}'", path);
    return p.string();
  }
  std::vector<fs::path> tried;
  if (!base_dir.empty()) tried.push_back(fs::path(base_dir) / p);
  for (const auto& d : data_dirs) tried.push_back(fs::path(d) / p);
  if (base_dir.empty()) tried.push_back(p);
  for (const auto& t : tried)
    if (fs::exists(t)) return t.lexically_normal().string();
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t.string();
  fail("data not found: '{}' (looked in {}; set --data-dir or FLOPS_DATA)", path, where);
}

std::vector<std::string> default_data_dirs() {
  std::vector<std::string> out;
  if (const char* e = std::getenv("FLOPS_DATA"); e && *e) out.push_back(e);
  std::error_code ec;
  std::vector<fs::path> starts = {fs::read_symlink("/proc/self/exe", ec).parent_path(), fs::current_path(ec)};
  for (const auto& s : starts)
    for (fs::path dir = s; !dir.empty(); dir = dir.parent_path()) {
      fs::path cand = dir / "shared" / "data";
      if (fs::is_directory(cand, ec)) {
        out.push_back(cand.string());
        return out;
      }
      if (dir == dir.root_path()) break;
    }
  return out;
}

Docs load_file(const FileSpec& f, const std::string& path) {
  std::string format = f.format.empty() ? extension_format(path) : f.format;
  if (format.empty())
    fail("cannot tell the format of '{}' from its name: set format (jsonl, json, csv, tsv, ssv)", path);
  if (!fs::is_regular_file(path)) fail("data file not found: '{}'", path);
  std::string text = read_text_file(path);
  if (format == "jsonl") return load_json_lines(text, path);
  if (format == "json") return load_json(text, path);
  TableFormat tf = f.table;
  if (format == "csv") {
    if (tf.delimiter == 0) tf.delimiter = ',';
  } else if (format == "tsv") {
    tf.delimiter = '\t';
  } else if (format == "ssv") {
    tf.delimiter = ' ';
  } else {
    fail("unknown data format '{}' for '{}' (jsonl, json, csv, tsv, ssv)", format, path);
  }
  Table t = parse_table(text, path, tf);
  Docs d;
  d.file = path;
  std::string name = fs::path(path).filename().string();
  for (size_t r = 0; r < t.rows.size(); r++) {
    nlohmann::json doc = nlohmann::json::object();
    for (size_t c = 0; c < t.columns.size(); c++) doc[t.columns[c]] = t.rows[r][c];
    d.docs.push_back(std::move(doc));
    d.where.push_back(fmt::format("{} line {}", name, t.row_line[r]));
  }
  return d;
}

std::string split_file(const DatasetSpec& d, const std::string& split) {
  if (split.empty()) return "";
  std::string root = resolve_data_path(d.path, d.base_dir, d.data_dirs);
  if (fs::is_regular_file(root)) return root;
  if (auto it = d.data_files.find(split); it != d.data_files.end()) {
    fs::path p = fs::path(root) / it->second;
    if (!fs::is_regular_file(p)) fail("data_files: the {} split's file '{}' does not exist", split, p.string());
    return p.string();
  }
  if (!d.data_files.empty()) return "";
  std::vector<fs::path> dirs = {fs::path(root)};
  if (!d.name.empty()) dirs.insert(dirs.begin(), fs::path(root) / d.name);
  for (const auto& dir : dirs)
    for (const char* ext : {".jsonl", ".json", ".csv", ".tsv"}) {
      fs::path p = dir / (split + ext);
      if (fs::is_regular_file(p)) return p.string();
    }
  return "";
}

Docs load_split(const DatasetSpec& d, const std::string& split) {
  std::string file = split_file(d, split);
  if (file.empty()) fail("the dataset '{}' has no '{}' split", d.path, split);
  Docs docs = load_file(d.defaults, file);
  // Joined files sit beside the data: relative to the dataset folder (or the file's folder).
  std::string root = resolve_data_path(d.path, d.base_dir, d.data_dirs);
  std::string join_base = fs::is_directory(root) ? root : fs::path(root).parent_path().string();
  for (const JoinSpec& j : d.joins) {
    std::string jpath = resolve_data_path(j.file.path, join_base, d.data_dirs);
    Docs rows = load_file(j.file, jpath);
    std::unordered_map<std::string, size_t> by_key;
    for (size_t r = 0; r < rows.docs.size(); r++) {
      std::string k = value_text(field_or_render(j.right_key, rows.docs[r], rows.where[r]));
      if (!by_key.emplace(k, r).second)
        fail("join: {} and another row of '{}' share the key '{}'", rows.where[r], jpath, k);
    }
    for (size_t i = 0; i < docs.docs.size(); i++) {
      std::string k = value_text(field_or_render(j.left_key, docs.docs[i], docs.where[i]));
      auto it = by_key.find(k);
      if (it == by_key.end()) {
        if (j.required) fail("join: {} has the key '{}', which no row of '{}' has", docs.where[i], k, jpath);
        continue;
      }
      for (auto f = rows.docs[it->second].begin(); f != rows.docs[it->second].end(); ++f) {
        std::string name = j.prefix + f.key();
        if (docs.docs[i].contains(name)) {
          if (j.prefix.empty() && docs.docs[i][name] == f.value()) continue;  // the join key itself, usually
          fail("join: '{}' has a field '{}' that the documents already have (set prefix)", jpath, name);
        }
        docs.docs[i][name] = f.value();
      }
    }
  }
  return docs;
}

}  // namespace flops::harness
