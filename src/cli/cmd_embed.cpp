// flops embed: one embedding per text (pooled final hidden states), printed, as JSON, or as a
// NumPy .npy matrix for many texts.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/progress.h"
#include "core/utf8.h"
#include "cost/receipt.h"
#include "model/embed.h"

namespace flops::cli {

namespace {

// -f: one text per non-empty line, as llama-embedding splits its input on "\n".
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// --jsonl: each non-empty line a JSON string or an object with a "text" string.
std::vector<std::string> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("file not found: '{}'", path);
  std::vector<std::string> out;
  int n = 0;
  for (std::string line; std::getline(f, line);) {
    n++;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      fail("{} line {}: not JSON ({})", path, n, e.what());
    }
    if (j.is_object() && j.contains("text")) j = j["text"];
    if (!j.is_string()) fail("{} line {}: expected a JSON string or an object with a \"text\" string", path, n);
    std::string s = j.get<std::string>();
    if (s.empty()) fail("{} line {}: the text is empty", path, n);
    if (size_t bad = utf8_invalid_offset(s); bad != std::string::npos)
      fail("{} line {}: text is not valid UTF-8 (byte offset {})", path, n, bad);
    out.push_back(std::move(s));
  }
  return out;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

}  // namespace

void add_embed(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string prompt, file, jsonl, pooling, out;
    bool no_normalize = false;
    int max_tokens = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("embed", "embeddings of texts (pooled final hidden states)");
  add_model_opts(cmd, o->m);
  cmd->add_option("-p,--prompt", o->prompt, "one text");
  cmd->add_option("-f,--file", o->file, "texts, one per non-empty line ('-' for stdin)");
  cmd->add_option("--jsonl", o->jsonl, "texts, one JSON string or {\"text\": ...} object per line");
  cmd->add_option("--pooling", o->pooling, "mean, cls or last (default: the model's pooling_type, else mean)");
  cmd->add_flag("--no-normalize", o->no_normalize, "leave the vectors as pooled (default: L2-normalised)");
  cmd->add_option("--max-tokens", o->max_tokens, "truncate each text to this many tokens (default: refuse texts past the context)");
  cmd->add_option("-o,--output", o->out, "write the embeddings as a float32 NumPy .npy matrix (texts x n_embd)");
  cmd->callback([o] {
    const int given = !o->prompt.empty() + !o->file.empty() + !o->jsonl.empty();
    if (given != 1) fail("give exactly one of -p TEXT, -f FILE or --jsonl FILE");
    std::vector<std::string> texts;
    if (!o->jsonl.empty())
      texts = read_jsonl(o->jsonl);
    else if (!o->file.empty())
      texts = lines_of(read_input_text("", o->file));
    else
      texts = {read_input_text(o->prompt, "")};
    if (texts.empty()) fail("no texts to embed");
    if (o->max_tokens < 0) fail("--max-tokens must be >= 0, got {}", o->max_tokens);
    auto m = open_model(o->m);
    const Pooling pooling = o->pooling.empty() ? model_pooling(*m) : parse_pooling(o->pooling);
    const bool show = !o->m.json && !o->m.quiet;
    cost::Meter meter;
    Progress bar("embed", (int64_t)texts.size(), "texts", show && texts.size() > 1);
    auto vecs = embed_texts(*m, texts, pooling, !o->no_normalize, o->max_tokens,
                            [&](int64_t done, int64_t) { bar.update(done); });
    bar.finish();
    cost::ReceiptOptions ro;
    ro.label = "embed";
    cost::Receipt receipt = cost::finish(meter, ro);
    const int64_t d = m->cfg.n_embd;
    if (!o->out.empty()) {
      std::vector<float> flat;
      flat.reserve(vecs.size() * d);
      for (auto& v : vecs) flat.insert(flat.end(), v.begin(), v.end());
      write_npy_f32(o->out, (int64_t)vecs.size(), d, flat.data());
    }
    if (o->m.json) {
      nlohmann::json j;
      j["model"] = m->path;
      j["pooling"] = pooling_name(pooling);
      j["normalized"] = !o->no_normalize;
      j["n_embd"] = d;
      j["count"] = vecs.size();
      if (!o->out.empty()) j["output"] = o->out;
      else
        for (size_t i = 0; i < vecs.size(); i++) j["data"].push_back({{"index", i}, {"embedding", vecs[i]}});
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump());
      return;
    }
    if (!o->out.empty()) {
      fmt::print("wrote {} embeddings of {} floats ({} pooling{}) to {}\n", vecs.size(), d, pooling_name(pooling),
                 o->no_normalize ? "" : ", L2-normalised", o->out);
    } else {
      for (size_t i = 0; i < vecs.size(); i++) {
        std::string vals;
        for (int64_t k = 0; k < std::min<int64_t>(d, 8); k++) vals += fmt::format("{}{:.6f}", k ? " " : "", vecs[i][k]);
        fmt::print("embedding {} ({} floats, {} pooling): {}{}\n", i, d, pooling_name(pooling), vals, d > 8 ? " ..." : "");
      }
      if (vecs.size() > 1 && vecs.size() <= 8) {
        fmt::print("cosine similarity:\n");
        for (size_t i = 0; i < vecs.size(); i++) {
          std::string row;
          for (size_t k = 0; k < vecs.size(); k++) row += fmt::format(" {:6.3f}", cosine(vecs[i], vecs[k]));
          fmt::print("{}\n", row);
        }
      }
    }
    if (!o->m.quiet) cost::print_receipt(stderr, receipt);
  });
}

}  // namespace flops::cli
