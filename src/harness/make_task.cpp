#include "harness/make_task.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "harness/csv.h"

namespace flops::harness {

namespace fs = std::filesystem;

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string lower(std::string s) {
  for (auto& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

// A YAML double-quoted scalar.
std::string yq(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') { o += "\\n"; continue; }
    if (c == '\t') { o += "\\t"; continue; }
    o += c;
  }
  return o + "\"";
}

std::vector<std::string> split_options(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    size_t e = s.find('|', i);
    out.push_back(trim(s.substr(i, e == std::string::npos ? std::string::npos : e - i)));
    if (e == std::string::npos) break;
    i = e + 1;
  }
  return out;
}

}  // namespace

MadeTask make_task(const std::string& csv_path, const std::string& yaml_path, const std::string& given_name) {
  TableFormat tf;
  std::string ext = lower(fs::path(csv_path).extension().string());
  tf.delimiter = ext == ".tsv" ? '\t' : ',';
  Table t = read_table(csv_path, tf);
  std::string file = fs::path(csv_path).filename().string();
  auto col = [&](const std::string& name) -> int {
    for (size_t c = 0; c < t.columns.size(); c++)
      if (lower(trim(t.columns[c])) == name) return (int)c;
    return -1;
  };
  int q = col("question"), a = col("answer"), opts = col("options");
  if (q < 0 || a < 0)
    fail("{}: the header needs a 'question' and an 'answer' column (and 'options', or one column per option: A, B, ...)",
         file);
  std::vector<int> letter_cols;
  for (char L = 'a'; L <= 'j'; L++) {
    int c = col(std::string(1, L));
    if (c < 0) break;
    letter_cols.push_back(c);
  }
  if (opts < 0 && letter_cols.size() < 2)
    fail("{}: no options: give an 'options' column ('|' between options) or columns A, B, ... (at least two)", file);
  if (opts >= 0 && !letter_cols.empty()) fail("{}: give either an 'options' column or columns A, B, ..., not both", file);
  if (t.rows.empty()) fail("{}: no questions below the header", file);
  int n_opt = opts >= 0 ? (int)split_options(t.rows[0][opts]).size() : (int)letter_cols.size();
  if (n_opt < 2) fail("{} line {}: a question needs at least two options", file, t.row_line[0]);
  bool numeric = true;
  for (size_t r = 0; r < t.rows.size(); r++) {
    const auto& row = t.rows[r];
    int line = t.row_line[r];
    if (trim(row[q]).empty()) fail("{} line {}: the question is empty", file, line);
    std::vector<std::string> o;
    if (opts >= 0) o = split_options(row[opts]);
    else
      for (int c : letter_cols) o.push_back(trim(row[c]));
    if ((int)o.size() != n_opt)
      fail("{} line {}: {} options, but the first question has {}", file, line, o.size(), n_opt);
    for (size_t k = 0; k < o.size(); k++)
      if (o[k].empty()) fail("{} line {}: option {} is empty", file, line, (char)('A' + k));
    std::string ans = trim(row[a]);
    bool is_letter = ans.size() == 1 && std::toupper((unsigned char)ans[0]) >= 'A' &&
                     std::toupper((unsigned char)ans[0]) < 'A' + n_opt;
    bool is_number = !ans.empty() && std::all_of(ans.begin(), ans.end(), ::isdigit) && std::stoi(ans) >= 1 &&
                     std::stoi(ans) <= n_opt;
    if (!is_letter && !is_number)
      fail("{} line {}: the answer '{}' is neither a letter A-{} nor a number 1-{}", file, line, ans, (char)('A' + n_opt - 1),
           n_opt);
    if (r == 0) numeric = is_number;
    else if (numeric != is_number)
      fail("{} line {}: the answer '{}' mixes letters and numbers (the first row uses {})", file, line, ans,
           numeric ? "numbers" : "letters");
  }

  MadeTask m;
  m.questions = (int)t.rows.size();
  m.options = n_opt;
  m.name = given_name.empty() ? fs::path(yaml_path).stem().string() : given_name;
  for (auto& c : m.name)
    if (!std::isalnum((unsigned char)c) && c != '_' && c != '-') c = '_';
  std::error_code ec;
  fs::path yaml_dir = fs::absolute(yaml_path, ec).parent_path();
  std::string rel = fs::relative(fs::absolute(csv_path, ec), yaml_dir, ec).string();
  if (rel.empty()) rel = fs::absolute(csv_path, ec).string();

  const std::string& qn = t.columns[q];
  const std::string& an = t.columns[a];
  std::string text = "{{" + qn + "}}";
  if (opts >= 0) {
    // '|'-separated options: Jinja splits them (needs the engine's Jinja interpreter).
    text += "{% set o = " + t.columns[opts] + ".split('|') %}";
    std::string letters;
    for (int k = 0; k < n_opt; k++) letters += (char)('A' + k);
    text += "{% for x in o %}{{ '\\n' ~ '" + letters + "'[loop.index0] ~ '. ' ~ (x | trim) }}{% endfor %}";
  } else {
    for (int k = 0; k < n_opt; k++) text += "\n" + std::string(1, (char)('A' + k)) + ". {{" + t.columns[letter_cols[k]] + "}}";
  }
  text += "\nAnswer:";
  std::string choices = "[";
  for (int k = 0; k < n_opt; k++) choices += std::string(k ? ", " : "") + "\"" + (char)('A' + k) + "\"";
  choices += "]";
  // Letters typed exactly as the choices are need no filter; anything else is normalised.
  bool plain = !numeric;
  for (const auto& row : t.rows) plain = plain && row[a].size() == 1 && std::isupper((unsigned char)row[a][0]);
  std::string target = numeric ? "{{ (" + an + " | trim | int) - 1 }}" : plain ? "{{" + an + "}}" : "{{ " + an + " | trim | upper }}";
  std::string y;
  y += "# Made by `flops eval --make-task " + file + "`: " + std::to_string(m.questions) + " questions, " +
       std::to_string(n_opt) + " options each.\n";
  y += "task: " + m.name + "\n";
  y += "dataset_path: " + yq(rel) + "\n";
  y += "test_split: test\n";
  y += "output_type: multiple_choice\n";
  y += "doc_to_text: " + yq(text) + "\n";
  y += "doc_to_choice: " + choices + "\n";
  y += "doc_to_target: " + yq(target) + "\n";
  y += "metric_list:\n  - metric: acc\n  - metric: acc_norm\n";
  m.yaml = y;
  return m;
}

}  // namespace flops::harness
