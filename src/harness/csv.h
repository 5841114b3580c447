#pragma once
// Delimited text tables (CSV, TSV, semicolon- or whitespace-separated) as evaluation data
// and as the input of --make-task. RFC 4180 quoting: a field in double quotes may hold the
// delimiter, newlines and "" for a quote. Every row must have as many fields as the header
// (or the first row); a row that does not is an error naming the file, the line and both
// counts, so a user sees which question they typed up wrong.
#include <string>
#include <vector>

namespace flops::harness {

struct Table {
  std::string path;                            // for messages
  std::vector<std::string> columns;            // from the header, or given, or col0..colN-1
  std::vector<std::vector<std::string>> rows;
  std::vector<int> row_line;                   // 1-based line where each row starts
};

struct TableFormat {
  char delimiter = ',';      // ' ' means runs of spaces and tabs (Tübingen's pairmeta.txt)
  bool header = true;        // first row names the columns
  std::vector<std::string> column_names;  // names for a file without a header (or to rename)
  bool strip = false;        // trim spaces around every field and column name
};

// Parses `text` (UTF-8, optional BOM, \n or \r\n line ends). Blank lines between records are
// skipped. Throws flops::Error on an unterminated quote or a wrong field count.
Table parse_table(const std::string& text, const std::string& path, const TableFormat& f);

// Reads a file; the delimiter is the format's, decided by the caller (see dataset.h).
Table read_table(const std::string& path, const TableFormat& f);

// One CSV field quoted when it must be (for writing tables back).
std::string csv_quote(const std::string& field, char delimiter = ',');

}  // namespace flops::harness
