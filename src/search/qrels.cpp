#include "search/qrels.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mmap_file.h"
#include "search/parse.h"

namespace flops::search {

namespace {

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string f;
  while (in >> f) out.push_back(f);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.push_back(l);
  }
  return out;
}

std::string strip_int_zeros(const std::string& s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), ::isdigit)) return s;
  size_t i = s.find_first_not_of('0');
  return i == std::string::npos ? "0" : s.substr(i);
}

}  // namespace

std::vector<EvalQuery> read_queries(const std::string& path, const std::string& format) {
  if (!std::filesystem::exists(path)) fail("queries file not found: '{}'", path);
  std::string text = read_text_file(path);
  check_text(path, text);
  std::string f = format;
  if (f == "auto") {
    std::string ext = std::filesystem::path(path).extension().string();
    size_t first = text.find_first_not_of(" \t\r\n");
    if (ext == ".jsonl" || (first != std::string::npos && text[first] == '{')) f = "beir";
    else if (first != std::string::npos && text.compare(first, 3, ".I ") == 0) f = "smart";
    else f = "tsv";
  }
  std::vector<EvalQuery> out;
  if (f == "smart") {
    for (auto& d : parse_smart(text)) out.push_back({d.key, normalize_space(d.text)});
  } else if (f == "beir") {
    int n = 0;
    for (const std::string& l : lines_of(text)) {
      n++;
      if (l.find_first_not_of(" \t") == std::string::npos) continue;
      nlohmann::json j = nlohmann::json::parse(l, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("_id") || !j.contains("text"))
        fail("{} line {}: a BEIR query line needs \"_id\" and \"text\"", path, n);
      std::string id = j["_id"].is_string() ? j["_id"].get<std::string>() : j["_id"].dump();
      out.push_back({id, j["text"].get<std::string>()});
    }
  } else if (f == "tsv") {
    int n = 0;
    for (const std::string& l : lines_of(text)) {
      n++;
      if (l.empty()) continue;
      size_t tab = l.find('\t');
      if (tab == std::string::npos) fail("{} line {}: expected 'id<TAB>text'", path, n);
      out.push_back({l.substr(0, tab), l.substr(tab + 1)});
    }
  } else {
    fail("unknown --queries-format '{}' (auto, beir, smart, tsv)", format);
  }
  if (out.empty()) fail("no queries in '{}'", path);
  return out;
}

Qrels read_qrels(const std::string& path, const std::string& format, std::string* used) {
  if (!std::filesystem::exists(path)) fail("qrels file not found: '{}'", path);
  std::string text = read_text_file(path);
  check_text(path, text);
  auto lines = lines_of(text);
  std::string f = format;
  if (f == "auto") {
    f = "";
    for (const auto& l : lines) {
      auto fs = fields(l);
      if (fs.empty()) continue;
      if (fs[0] == "query-id" || fs[0] == "query_id") f = "beir";
      else if (fs.size() == 4) f = "trec";
      else if (fs.size() == 3) f = "cranfield";
      else fail("{}: cannot tell the qrels format from '{}' (use --qrels-format)", path, l);
      break;
    }
    if (f.empty()) fail("no judgements in '{}'", path);
  }
  Qrels q;
  int n = 0;
  for (const auto& l : lines) {
    n++;
    auto fs = fields(l);
    if (fs.empty()) continue;
    try {
      if (f == "beir") {
        if (fs[0] == "query-id" || fs[0] == "query_id") continue;
        if (fs.size() != 3) fail("x");
        q[fs[0]][fs[1]] = std::stod(fs[2]);
      } else if (f == "trec") {
        if (fs.size() != 4) fail("x");
        q[fs[0]][fs[2]] = std::stod(fs[3]);
      } else if (f == "cranfield") {
        if (fs.size() != 3) fail("x");
        int code = std::stoi(fs[2]);
        if (code >= 1 && code <= 4) q[strip_int_zeros(fs[0])][strip_int_zeros(fs[1])] = 5 - code;
      } else {
        fail("unknown --qrels-format '{}' (auto, beir, trec, cranfield)", format);
      }
    } catch (const Error& e) {
      if (std::string(e.what()) != "x") throw;
      fail("{} line {}: expected {} columns for {} qrels: '{}'", path, n, f == "trec" ? 4 : 3, f, l);
    } catch (const std::exception&) {
      fail("{} line {}: not a number in '{}'", path, n, l);
    }
  }
  if (q.empty()) fail("no judgements in '{}'", path);
  if (used) *used = f;
  return q;
}

std::string number_queries(std::vector<EvalQuery>& qs, const Qrels& qrels, const std::string& numbering) {
  if (numbering != "given" && numbering != "sequential" && numbering != "auto")
    fail("unknown --query-numbering '{}' (given, sequential, auto)", numbering);
  for (auto& q : qs) q.id = strip_int_zeros(q.id);
  std::string use = numbering;
  if (use == "auto") {
    size_t given = 0, seq = 0;
    for (size_t i = 0; i < qs.size(); i++) {
      given += qrels.count(qs[i].id);
      seq += qrels.count(std::to_string(i + 1));
    }
    use = seq > given ? "sequential" : "given";
  }
  if (use == "sequential")
    for (size_t i = 0; i < qs.size(); i++) qs[i].id = std::to_string(i + 1);
  return use;
}

}  // namespace flops::search
