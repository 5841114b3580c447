#include "prompt/dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mmap_file.h"

namespace flops::prompt {

namespace {

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find('\n', i);
    if (j == std::string::npos) j = s.size();
    std::string l = s.substr(i, j - i);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    lines.push_back(std::move(l));
    i = j + 1;
  }
  return lines;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::string ends_with_ext(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

bool is_trec_word(const std::string& w) {
  size_t c = w.find(':');
  if (c == std::string::npos || c == 0 || c + 1 >= w.size()) return false;
  for (size_t i = 0; i < c; i++)
    if (!std::isupper((unsigned char)w[i])) return false;
  return true;
}

std::string scalar_to_string(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return v.dump();
  return "";
}

std::vector<Example> parse_jsonl(const std::string& content, const std::string& name) {
  std::vector<Example> out;
  auto lines = split_lines(content);
  for (size_t i = 0; i < lines.size(); i++) {
    if (blank(lines[i])) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(lines[i]);
    } catch (const std::exception&) {
      fail("{} line {}: not valid JSON", name, i + 1);
    }
    if (!j.is_object()) fail("{} line {}: expected a JSON object", name, i + 1);
    Example e;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!(it->is_string() || it->is_number() || it->is_boolean())) continue;
      if (it.key() == "label")
        e.label = scalar_to_string(*it);
      else
        e.fields[it.key()] = scalar_to_string(*it);
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string column_name(std::string h) {
  size_t a = h.find_first_not_of(" \t"), b = h.find_last_not_of(" \t");
  h = a == std::string::npos ? "" : h.substr(a, b - a + 1);
  for (char& c : h) c = c == ' ' ? '_' : (char)std::tolower((unsigned char)c);
  return h;
}

std::vector<Example> parse_table(const std::string& content, char sep, const std::string& name) {
  auto rows = parse_csv(content, sep, name);
  if (rows.empty()) fail("{}: no header row", name);
  std::vector<std::string> cols;
  for (auto& h : rows[0]) cols.push_back(column_name(h));
  int label_col = -1;
  for (size_t c = 0; c < cols.size(); c++)
    if (cols[c] == "label") label_col = (int)c;
  if (label_col < 0)
    for (size_t c = 0; c < cols.size(); c++)
      if (cols[c] == "class_index") label_col = (int)c;
  if (label_col < 0) fail("{}: no 'label' or 'class index' column in the header", name);
  bool has_text = std::find(cols.begin(), cols.end(), "text") != cols.end();
  std::vector<Example> out;
  for (size_t r = 1; r < rows.size(); r++) {
    const auto& row = rows[r];
    if (row.size() == 1 && blank(row[0])) continue;
    if (row.size() != cols.size())
      fail("{} record {}: {} columns, the header has {}", name, r + 1, row.size(), cols.size());
    Example e;
    std::string joined;
    for (size_t c = 0; c < cols.size(); c++) {
      if ((int)c == label_col) {
        e.label = row[c];
        continue;
      }
      e.fields[cols[c]] = row[c];
      if (!has_text && !row[c].empty()) joined += (joined.empty() ? "" : " ") + row[c];
    }
    if (!has_text) e.fields["text"] = joined;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Example> parse_label_text(const std::string& content, bool trec, const std::string& name) {
  std::vector<Example> out;
  auto lines = split_lines(content);
  for (size_t i = 0; i < lines.size(); i++) {
    const std::string& l = lines[i];
    if (blank(l)) continue;
    size_t a = l.find_first_not_of(" \t");
    size_t b = l.find_first_of(" \t", a);
    if (b == std::string::npos) fail("{} line {}: expected '<label> <text>'", name, i + 1);
    std::string word = l.substr(a, b - a);
    size_t t = l.find_first_not_of(" \t", b);
    Example e;
    e.fields["text"] = t == std::string::npos ? "" : l.substr(t);
    if (trec) {
      if (!is_trec_word(word)) fail("{} line {}: expected 'COARSE:fine <question>', got '{}'", name, i + 1, word);
      size_t c = word.find(':');
      e.label = word.substr(0, c);
      e.fields["fine"] = word.substr(c + 1);
    } else {
      e.label = word;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::string>> parse_csv(const std::string& s, char sep, const std::string& name) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  size_t i = 0, n = s.size();
  while (i < n) {
    char c = s[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < n && s[i + 1] == '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += c;
      }
      i++;
      continue;
    }
    if (c == '"' && field.empty()) {
      quoted = true;
      any = true;
    } else if (c == sep) {
      row.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < n && s[i + 1] == '\n') i++;
      if (any || !field.empty()) {
        row.push_back(std::move(field));
        rows.push_back(std::move(row));
      }
      row.clear();
      field.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
    i++;
  }
  if (quoted) fail("{}: a quoted field is not closed at the end of the file", name);
  if (any || !field.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<Example> parse_examples(const std::string& content, const std::string& format, const std::string& name) {
  std::string f = format;
  if (f == "auto") {
    std::string e = ends_with_ext(name);
    if (e == ".jsonl" || e == ".json")
      f = "jsonl";
    else if (e == ".csv")
      f = "csv";
    else if (e == ".tsv")
      f = "tsv";
    else {
      // TREC lines all start with COARSE:fine; anything else is "<label> <text>".
      bool trec = true, seen = false;
      for (auto& l : split_lines(content)) {
        if (blank(l)) continue;
        seen = true;
        size_t a = l.find_first_not_of(" \t");
        size_t b = l.find_first_of(" \t", a);
        if (!is_trec_word(l.substr(a, b == std::string::npos ? std::string::npos : b - a))) {
          trec = false;
          break;
        }
      }
      f = seen && trec ? "trec" : "label-text";
    }
  }
  std::vector<Example> out;
  if (f == "jsonl")
    out = parse_jsonl(content, name);
  else if (f == "csv")
    out = parse_table(content, ',', name);
  else if (f == "tsv")
    out = parse_table(content, '\t', name);
  else if (f == "label-text")
    out = parse_label_text(content, false, name);
  else if (f == "trec")
    out = parse_label_text(content, true, name);
  else
    fail("unknown example format '{}' (expected auto, jsonl, csv, tsv, label-text or trec)", format);
  if (out.empty()) fail("{}: no examples", name);
  return out;
}

std::vector<Example> read_examples(const std::string& path, const std::string& format) {
  if (!std::filesystem::exists(path)) fail("file not found: '{}'", path);
  return parse_examples(read_text_file(path), format, path);
}

}  // namespace flops::prompt
