#include "detect/datasets.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/mmap_file.h"

namespace flops::detect {

namespace fs = std::filesystem;
using nlohmann::json;

size_t shared_prefix_bytes(std::string_view a, std::string_view b) {
  size_t n = 0, m = std::min(a.size(), b.size());
  while (n < m && a[n] == b[n]) n++;
  if (n == a.size() && n == b.size()) return 0;  // identical texts: nothing would be left to compare
  // Cut back so the next token starts at a whitespace boundary.
  if (n < a.size() && n < b.size() && !(std::isspace((unsigned char)a[n]) && std::isspace((unsigned char)b[n])))
    while (n > 0 && !std::isspace((unsigned char)a[n - 1])) n--;
  while (n > 0 && std::isspace((unsigned char)a[n - 1])) n--;  // the space stays with the scored part
  return n;
}

int parse_label(const std::string& s) {
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return (char)std::tolower(c); });
  if (l == "human" || l == "0") return 0;
  if (l == "ai" || l == "machine" || l == "1") return 1;
  fail("label must be \"human\" or \"ai\", got \"{}\"", s);
}

namespace {

void apply_prefix(LabeledText& h, LabeledText& m, size_t pre, const std::string& mode) {
  if (mode == "keep" || pre == 0) return;
  if (mode == "context") {
    h.context_bytes = m.context_bytes = pre;
    return;
  }
  auto strip = [&](LabeledText& t) {
    size_t k = pre;
    while (k < t.text.size() && std::isspace((unsigned char)t.text[k])) k++;
    t.text = t.text.substr(k);
  };
  strip(h);
  strip(m);
}

void load_fast_detectgpt(const std::string& path, const json& j, const LoadOptions& o, std::vector<LabeledText>& out) {
  const auto& orig = j.at("original");
  const auto& samp = j.at("sampled");
  if (!orig.is_array() || !samp.is_array()) fail("{}: \"original\" and \"sampled\" must be arrays", path);
  if (orig.size() != samp.size())
    fail("{}: {} original texts but {} sampled ones (they are paired by index)", path, orig.size(), samp.size());
  size_t n = orig.size();
  if (o.limit > 0) n = std::min(n, (size_t)o.limit);
  for (size_t i = 0; i < n; i++) {
    if (!orig[i].is_string() || !samp[i].is_string()) fail("{}: entry {} is not a string", path, i);
    LabeledText h{orig[i].get<std::string>(), 0, 0, path, (int)i};
    LabeledText m{samp[i].get<std::string>(), 1, 0, path, (int)i};
    apply_prefix(h, m, shared_prefix_bytes(h.text, m.text), o.prefix_mode);
    out.push_back(std::move(h));
    out.push_back(std::move(m));
  }
}

void load_jsonl(const std::string& path, const LoadOptions& o, std::vector<LabeledText>& out, std::string& format) {
  std::string all = read_text_file(path);
  std::istringstream in(all);
  std::string line;
  int lineno = 0, records = 0;
  format.clear();
  while (std::getline(in, line)) {
    lineno++;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (o.limit > 0 && records >= o.limit) break;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      fail("{}:{}: not valid JSON", path, lineno);
    }
    if (!j.is_object()) fail("{}:{}: expected a JSON object", path, lineno);
    std::string gen_key;
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key().find("generated_text") != std::string::npos) gen_key = it.key();
    if (j.contains("article") && !gen_key.empty()) {
      if (!format.empty() && format != "binoculars") fail("{}:{}: records of mixed formats", path, lineno);
      format = "binoculars";
      if (!j["article"].is_string() || !j[gen_key].is_string()) fail("{}:{}: texts must be strings", path, lineno);
      out.push_back({j["article"].get<std::string>(), 0, 0, path, records});
      out.push_back({j[gen_key].get<std::string>(), 1, 0, path, records});
    } else if (j.contains("text") && j.contains("label")) {
      if (!format.empty() && format != "jsonl") fail("{}:{}: records of mixed formats", path, lineno);
      format = "jsonl";
      if (!j["text"].is_string()) fail("{}:{}: \"text\" must be a string", path, lineno);
      LabeledText t;
      t.text = j["text"].get<std::string>();
      try {
        t.label = j["label"].is_number_integer() ? parse_label(std::to_string(j["label"].get<int64_t>()))
                                                 : parse_label(j["label"].get<std::string>());
      } catch (const Error& e) {
        fail("{}:{}: {}", path, lineno, e.what());
      } catch (const json::exception&) {
        fail("{}:{}: \"label\" must be \"human\" or \"ai\"", path, lineno);
      }
      if (j.contains("prompt_bytes") && o.prefix_mode != "keep") {
        size_t pb = j["prompt_bytes"].get<size_t>();
        if (pb > t.text.size()) fail("{}:{}: prompt_bytes {} exceeds the text's {} bytes", path, lineno, pb, t.text.size());
        if (o.prefix_mode == "context") {
          t.context_bytes = pb;
        } else {
          while (pb < t.text.size() && std::isspace((unsigned char)t.text[pb])) pb++;
          t.text = t.text.substr(pb);
        }
      }
      if (j.contains("pair") && j["pair"].is_number_integer()) t.pair = j["pair"].get<int>();
      t.source = path;
      out.push_back(std::move(t));
    } else {
      fail("{}:{}: expected {{\"text\", \"label\"}} or a Binoculars record (\"article\" + generated text)", path, lineno);
    }
    records++;
  }
  if (format.empty()) fail("{}: no records", path);
}

void load_file(const std::string& path, const LoadOptions& o, std::vector<LabeledText>& out,
               std::vector<std::string>* formats) {
  std::string name = fs::path(path).filename().string();
  auto ends_with = [&](const std::string& suf) {
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends_with(".jsonl")) {
    std::string f;
    load_jsonl(path, o, out, f);
    if (formats) formats->push_back(f);
    return;
  }
  if (ends_with(".json")) {
    json j;
    try {
      j = json::parse(read_text_file(path));
    } catch (const json::exception&) {
      fail("{}: not valid JSON", path);
    }
    if (!j.is_object() || !j.contains("original") || !j.contains("sampled"))
      fail("{}: expected a Fast-DetectGPT raw_data file with \"original\" and \"sampled\"", path);
    load_fast_detectgpt(path, j, o, out);
    if (formats) formats->push_back("fast-detectgpt");
    return;
  }
  fail("{}: unknown data format (expected .jsonl or a Fast-DetectGPT .raw_data.json)", path);
}

}  // namespace

std::vector<LabeledText> load_detect_data(const std::string& path, const LoadOptions& o,
                                          std::vector<std::string>* formats) {
  if (o.prefix_mode != "context" && o.prefix_mode != "strip" && o.prefix_mode != "keep")
    fail("prefix mode must be context, strip or keep, got '{}'", o.prefix_mode);
  if (!fs::exists(path)) fail("data not found: '{}'", path);
  std::vector<LabeledText> out;
  if (fs::is_directory(path)) {
    std::vector<std::string> files;
    for (auto& e : fs::recursive_directory_iterator(path)) {
      if (!e.is_regular_file()) continue;
      std::string n = e.path().filename().string();
      if ((n.size() > 6 && n.substr(n.size() - 6) == ".jsonl") ||
          (n.size() > 14 && n.substr(n.size() - 14) == ".raw_data.json"))
        files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) fail("no .jsonl or .raw_data.json files under '{}'", path);
    for (auto& f : files) load_file(f, o, out, formats);
  } else {
    load_file(path, o, out, formats);
  }
  return out;
}

}  // namespace flops::detect
