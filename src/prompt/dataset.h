#pragma once
// Labelled text examples for in-context classification, read from JSONL, CSV/TSV
// with a header, or the one-example-per-line formats of the Zhao et al. sets
// ("<label> <text>" as SST-2, "COARSE:fine <text>" as TREC).
#include <map>
#include <string>
#include <vector>

namespace flops::prompt {

struct Example {
  std::map<std::string, std::string> fields;  // template placeholders: "text" and any named field
  std::string label;                          // raw label as written in the file ("" = none)
};

// format: "auto" (by extension and content), "jsonl", "csv", "tsv", "label-text", "trec".
//  - jsonl: one object per line; "label" (string, number or bool) is the label, every other
//    string or number member a field.
//  - csv/tsv: header row; column names lower-cased with spaces as '_'; label column "label"
//    or "class_index"; if there is no "text" column, "text" joins the other columns with " ".
//  - label-text: first whitespace-separated word is the label, the rest is "text".
//  - trec: like label-text with "COARSE:fine" words; the label is COARSE, field "fine" keeps fine.
std::vector<Example> read_examples(const std::string& path, const std::string& format = "auto");
std::vector<Example> parse_examples(const std::string& content, const std::string& format, const std::string& name);

// Splits one CSV record list (RFC 4180 quoting: "" inside quotes, separators and newlines in quotes).
std::vector<std::vector<std::string>> parse_csv(const std::string& content, char sep, const std::string& name);

}  // namespace flops::prompt
