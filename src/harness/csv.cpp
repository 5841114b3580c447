#include "harness/csv.h"

#include <filesystem>

#include "core/error.h"
#include "core/mmap_file.h"
#include "core/utf8.h"

namespace flops::harness {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string describe_columns(const std::vector<std::string>& c) {
  std::string out;
  for (size_t i = 0; i < c.size() && i < 8; i++) out += (i ? ", " : "") + c[i];
  if (c.size() > 8) out += ", ...";
  return out;
}

// Records of a quoted, delimited text. `line` of each record is where it starts.
struct Record {
  std::vector<std::string> fields;
  int line = 0;
};

std::vector<Record> split_records(const std::string& text, const std::string& path, char delim) {
  std::vector<Record> out;
  size_t i = 0, n = text.size();
  if (n >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF) i = 3;
  int line = 1;
  const bool ws = delim == ' ';
  while (i < n) {
    // Skip blank lines between records.
    if (text[i] == '\n') { line++; i++; continue; }
    if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') { line++; i += 2; continue; }
    Record r;
    r.line = line;
    std::string field;
    bool done = false;
    if (ws) {
      while (i < n && (text[i] == ' ' || text[i] == '\t')) i++;
      if (i >= n || text[i] == '\n' || (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')) continue;  // only spaces
    }
    while (!done) {
      if (i < n && text[i] == '"' && field.empty()) {
        // A quoted field: up to the closing quote; "" is a quote.
        int start_line = line;
        i++;
        for (;;) {
          if (i >= n) fail("{} line {}: a quoted field is never closed", path, start_line);
          char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') { field += '"'; i += 2; continue; }
            i++;
            break;
          }
          if (c == '\n') line++;
          field += c;
          i++;
        }
        // Text between the closing quote and the delimiter is kept (lenient, like Python's csv).
        while (i < n && text[i] != delim && text[i] != '\n' && text[i] != '\r' && !(ws && text[i] == '\t')) field += text[i++];
      } else {
        while (i < n && text[i] != delim && text[i] != '\n' && !(ws && text[i] == '\t')) {
          if (text[i] == '\r' && (i + 1 == n || text[i + 1] == '\n')) { i++; continue; }
          field += text[i++];
        }
      }
      r.fields.push_back(std::move(field));
      field.clear();
      if (i < n && (text[i] == delim || (ws && text[i] == '\t'))) {
        i++;
        if (ws) {
          while (i < n && (text[i] == ' ' || text[i] == '\t')) i++;
          if (i >= n || text[i] == '\n' || text[i] == '\r') done = true;  // trailing spaces end the row
        }
        continue;
      }
      if (i < n && text[i] == '\r') i++;
      if (i < n && text[i] == '\n') { line++; i++; }
      done = true;
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Table parse_table(const std::string& text, const std::string& path, const TableFormat& f) {
  if (size_t bad = utf8_invalid_offset(text); bad != std::string::npos)
    fail("{}: not valid UTF-8 (byte offset {})", path, bad);
  std::vector<Record> recs = split_records(text, path, f.delimiter);
  Table t;
  t.path = path;
  size_t first = 0;
  if (f.header) {
    if (recs.empty()) fail("{}: the file is empty (a header row was expected)", path);
    t.columns = recs[0].fields;
    first = 1;
  }
  if (!f.column_names.empty()) {
    if (f.header && f.column_names.size() != t.columns.size())
      fail("{}: column_names gives {} names but the header has {} columns", path, f.column_names.size(), t.columns.size());
    t.columns = f.column_names;
  }
  if (f.strip)
    for (auto& c : t.columns) c = trim(c);
  if (t.columns.empty() && first < recs.size())
    for (size_t c = 0; c < recs[first].fields.size(); c++) t.columns.push_back("col" + std::to_string(c));
  for (size_t c = 0; c < t.columns.size(); c++)
    for (size_t d = 0; d < c; d++)
      if (t.columns[c] == t.columns[d]) fail("{}: column '{}' appears twice in the header", path, t.columns[c]);
  for (size_t r = first; r < recs.size(); r++) {
    auto& fields = recs[r].fields;
    if (fields.size() != t.columns.size())
      fail("{} line {}: {} fields, but {} {} columns ({})", path, recs[r].line, fields.size(),
           f.header ? "the header has" : "the table has", t.columns.size(), describe_columns(t.columns));
    if (f.strip)
      for (auto& x : fields) x = trim(x);
    t.rows.push_back(std::move(fields));
    t.row_line.push_back(recs[r].line);
  }
  return t;
}

Table read_table(const std::string& path, const TableFormat& f) {
  if (!std::filesystem::is_regular_file(path)) fail("data file not found: '{}'", path);
  return parse_table(read_text_file(path), path, f);
}

std::string csv_quote(const std::string& field, char delimiter) {
  bool need = field.find_first_of(std::string("\"\n\r") + delimiter) != std::string::npos ||
              (!field.empty() && (field.front() == ' ' || field.back() == ' '));
  if (!need) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace flops::harness
