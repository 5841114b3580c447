// flops make-detect-set: the DetectGPT protocol for a labeled detection set. Human passages come
// from a held-out corpus; a generator model is prompted with each passage's first tokens and
// continues it to the same length. Both texts start with the same prompt; its byte length is
// stored as prompt_bytes so that detect-eval conditions on it without scoring it.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/mmap_file.h"
#include "core/progress.h"
#include "cost/receipt.h"
#include "detect/text.h"
#include "model/generate.h"

namespace flops::cli {

namespace {
// Paragraphs (blank-line separated) with their line breaks folded into spaces, so hard-wrapped
// prose reads as running text. A .jsonl input gives one paragraph per record's "text".
std::vector<std::string> read_paragraphs(const std::string& path) {
  if (!std::filesystem::exists(path)) fail("input not found: '{}'", path);
  std::string all = read_text_file(path);
  std::vector<std::string> out;
  if (path.size() > 6 && path.substr(path.size() - 6) == ".jsonl") {
    std::istringstream in(all);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      n++;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        fail("{}:{}: not valid JSON", path, n);
      }
      if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) fail("{}:{}: no \"text\" string", path, n);
      out.push_back(j["text"].get<std::string>());
    }
    return out;
  }
  std::string cur;
  std::istringstream in(all);
  std::string line;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) {
      flush();
      continue;
    }
    size_t e = line.find_last_not_of(" \t");
    if (!cur.empty()) cur += ' ';
    cur += line.substr(b, e - b + 1);
  }
  flush();
  return out;
}

bool valid_utf8(const std::string& s) {
  try {
    detect::validate_text(s);
    return true;
  } catch (const Error&) {
    return false;
  }
}
}  // namespace

void add_make_detect_set(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string input, out;
    int n = 300;
    int tokens = 128;
    int prompt_tokens = 30;
    int skip = 0;
    float temp = 1.0f, top_p = 0.95f;
    int top_k = 0;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("make-detect-set",
                                 "DetectGPT protocol: human passages + a generator's continuations of their first tokens");
  add_model_opts(cmd, o->m);
  cmd->add_option("-i,--input", o->input, "held-out human text (.txt, paragraphs split by blank lines; or .jsonl with \"text\")")
      ->required();
  cmd->add_option("-o,--out", o->out, "output JSONL (written atomically)")->required();
  cmd->add_option("-n,--n-passages", o->n, "number of human/machine pairs (default 300)");
  cmd->add_option("--tokens", o->tokens, "length of every passage in tokens (default 128)");
  cmd->add_option("--prompt-tokens", o->prompt_tokens, "tokens of each human passage given to the generator (default 30)");
  cmd->add_option("--skip", o->skip, "skip the first N passages of the input (default 0)");
  cmd->add_option("--temp", o->temp, "sampling temperature (default 1.0)");
  cmd->add_option("--top-p", o->top_p, "nucleus sampling (default 0.95)");
  cmd->add_option("--top-k", o->top_k, "top-k sampling (default 0 = off)");
  cmd->add_option("--seed", o->seed, "seed; pair i uses seed + i (default 1)");
  cmd->callback([o] {
    if (o->n < 1) fail("--n-passages must be at least 1, got {}", o->n);
    if (o->prompt_tokens < 1) fail("--prompt-tokens must be at least 1, got {}", o->prompt_tokens);
    if (o->tokens <= o->prompt_tokens) fail("--tokens ({}) must exceed --prompt-tokens ({})", o->tokens, o->prompt_tokens);
    if (o->skip < 0) fail("--skip must be >= 0, got {}", o->skip);
    if (!(o->temp >= 0) || !(o->top_p > 0 && o->top_p <= 1)) fail("need --temp >= 0 and 0 < --top-p <= 1");
    std::vector<std::string> paras = read_paragraphs(o->input);
    cost::Meter meter;
    auto m = open_model(o->m);
    const bool bos = m->tok.add_bos_default() && m->tok.bos() >= 0;
    const int n_ctx = o->tokens + 8 + (bos ? 1 : 0);
    if (m->cfg.n_ctx_train > 0 && n_ctx > m->cfg.n_ctx_train)
      fail("--tokens {} does not fit the generator's {} positions", o->tokens, m->cfg.n_ctx_train);

    // Consecutive paragraphs joined (blank line between) until a passage has enough tokens.
    std::vector<std::vector<int32_t>> passages;
    std::vector<int32_t> cur;
    std::string cur_text;
    for (const std::string& p : paras) {
      cur_text += cur_text.empty() ? p : "\n\n" + p;
      cur = m->tok.encode(cur_text, false);
      if ((int)cur.size() >= o->tokens) {
        passages.push_back(std::vector<int32_t>(cur.begin(), cur.begin() + o->tokens));
        cur_text.clear();
      }
      if ((int)passages.size() >= o->skip + o->n) break;
    }
    if ((int)passages.size() <= o->skip)
      fail("the input yields only {} passages of {} tokens, and --skip is {}", passages.size(), o->tokens, o->skip);
    passages.erase(passages.begin(), passages.begin() + o->skip);

    bool show = !o->m.json && !o->m.quiet;
    SamplingParams sp;
    sp.temp = o->temp;
    sp.top_p = o->top_p;
    sp.top_k = o->top_k;
    sp.min_p = 0;
    sp.repeat_penalty = 1.0f;
    std::string outs;
    int kept = 0, short_gen = 0, bad_text = 0;
    Progress bar("make-detect-set", (int64_t)passages.size(), "pair", show);
    for (size_t i = 0; i < passages.size(); i++) {
      const auto& ids = passages[i];
      // The prompt ends where a word ends (the next token starts with a space), so the generator
      // is not asked to finish a half-written word; then it is extended when it would end
      // inside a UTF-8 character.
      int k = o->prompt_tokens;
      for (int j = k; j > std::max(1, o->prompt_tokens - 10); j--) {
        std::string next = m->tok.token_to_piece(ids[j]);
        if (!next.empty() && (next[0] == ' ' || next[0] == '\n')) {
          k = j;
          break;
        }
      }
      std::string prompt = m->tok.decode(std::vector<int32_t>(ids.begin(), ids.begin() + k));
      for (int extra = 0; !valid_utf8(prompt) && k + 1 < o->tokens && extra < 4; extra++)
        prompt = m->tok.decode(std::vector<int32_t>(ids.begin(), ids.begin() + ++k));
      std::string human = m->tok.decode(ids);
      if (!valid_utf8(prompt) || !valid_utf8(human) || human.compare(0, prompt.size(), prompt) != 0) {
        bad_text++;
        bar.update((int64_t)i + 1);
        continue;
      }
      sp.seed = o->seed + i;
      GenerateResult g = generate(*m, prompt, o->tokens - k, n_ctx, sp, true);
      std::string machine = prompt + g.text;
      if ((int)g.tokens.size() < (o->tokens - k) / 2 || !valid_utf8(machine)) {
        short_gen++;  // stopped early at EOS (or produced broken text): no fair pair
        bar.update((int64_t)i + 1);
        continue;
      }
      nlohmann::json h = {{"text", human},  {"label", "human"}, {"pair", kept}, {"prompt_bytes", prompt.size()},
                          {"source", o->input}};
      nlohmann::json a = {{"text", machine}, {"label", "ai"},   {"pair", kept}, {"prompt_bytes", prompt.size()},
                          {"generator", std::filesystem::path(m->path).filename().string()},
                          {"temp", std::round(o->temp * 1e6) / 1e6}, {"top_p", std::round(o->top_p * 1e6) / 1e6}, {"top_k", o->top_k}, {"seed", sp.seed},
                          {"generated_tokens", g.tokens.size()}};
      outs += h.dump() + "\n" + a.dump() + "\n";
      kept++;
      bar.update((int64_t)i + 1);
    }
    bar.finish();
    if (kept == 0) fail("no pair could be made ({} generations stopped early, {} passages unusable)", short_gen, bad_text);
    write_file_atomic(o->out, outs.data(), outs.size());
    cost::ReceiptOptions ro;
    ro.label = "make-detect-set";
    cost::Receipt receipt = cost::finish(meter, ro);
    if (o->m.json) {
      nlohmann::json j = {{"out", o->out}, {"pairs", kept}, {"skipped_short_generation", short_gen},
                          {"skipped_unusable_passage", bad_text}, {"tokens", o->tokens},
                          {"prompt_tokens", o->prompt_tokens}, {"generator", m->path}, {"temp", o->temp},
                          {"top_p", o->top_p}, {"seed", o->seed}, {"receipt", cost::to_json(receipt)}};
      fmt::print("{}\n", j.dump());
      return;
    }
    fmt::print("wrote {} pairs ({} texts) to {}: {}-token passages, generator {} prompted with <= {} tokens, temp {:g}, "
               "top-p {:g}, seed {}+i (prompts cut back to a word end)\n",
               kept, 2 * kept, o->out, o->tokens, m->path, o->prompt_tokens, o->temp, o->top_p, o->seed);
    if (short_gen || bad_text)
      fmt::print("skipped {} pairs whose generation stopped early and {} unusable passages\n", short_gen, bad_text);
    if ((int)passages.size() < o->n)
      fmt::print("note: fewer pairs than asked ({} < {}): the input holds only {} passages of {} tokens\n", kept, o->n,
                 passages.size(), o->tokens);
    else if (kept < o->n)
      fmt::print("note: fewer pairs than asked ({} < {}): the skipped pairs above\n", kept, o->n);
    if (!o->m.quiet) cost::print_receipt(stderr, receipt);
  });
}

}  // namespace flops::cli
