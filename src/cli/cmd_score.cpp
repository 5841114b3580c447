// flops score: per-token log-probability, rank and entropy; per-sentence and document
// perplexity; burstiness (std-dev of the sentences' log-perplexities).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "cost/receipt.h"
#include "detect/detector.h"
#include "detect/report.h"

namespace flops::cli {

void add_score(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string file;
    int ctx = 0;
    int max_tokens = 0;
    bool tokens = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("score", "per-token, per-sentence and document perplexity and burstiness of a text");
  add_model_opts(cmd, o->m);
  auto* pos = cmd->add_option("file", o->file, "text file, or - for stdin");
  auto* fopt = cmd->add_option("-f,--file", o->file, "text file, or - for stdin (as llama.cpp's -f)");
  pos->excludes(fopt);
  cmd->add_option("-c,--ctx-size", o->ctx, "window of tokens; longer texts are scored in overlapping windows (default 512, at most the model's context)");
  cmd->add_option("--max-tokens", o->max_tokens, "score only the first N tokens (default: all)");
  cmd->add_flag("--tokens", o->tokens, "also print every token (always included with --json)");
  cmd->callback([o] {
    if (o->ctx != 0 && o->ctx < 4) fail("--ctx-size must be at least 4, got {}", o->ctx);
    if (o->max_tokens < 0) fail("--max-tokens must be >= 0, got {}", o->max_tokens);
    if (o->file.empty()) fail("no text given: pass a file (FILE or -f FILE, - for stdin)");
    std::string text = read_input_text("", o->file);
    cost::Meter meter;
    auto m = open_model(o->m);
    detect::AnalyzeOptions ao;
    ao.n_ctx = choose_context(*m, o->ctx, 512);
    ao.max_tokens = o->max_tokens;
    ao.moments = false;  // per-token scores only; no full distributions needed
    detect::Analysis a = detect::analyze(*m, nullptr, text, ao);
    cost::ReceiptOptions ro;
    ro.label = "score";
    cost::Receipt receipt = cost::finish(meter, ro);
    if (o->m.json) {
      nlohmann::json j = detect::analysis_json(a, m->tok, text, true);
      j["model"] = m->path;
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    if (o->tokens) {
      fmt::print("{:>6}  {:<16} {:>10} {:>6} {:>8}\n", "#", "token", "logprob", "rank", "entropy");
      for (size_t i = 0; i < a.stats.size(); i++) {
        const auto& t = a.stats[i];
        std::string p = m->tok.token_to_piece(t.token), shown;
        for (unsigned char c : p) shown += c == '\n' ? std::string("\\n") : c < 0x20 ? fmt::format("\\x{:02x}", c) : std::string(1, (char)c);
        fmt::print("{:>6}  {:<16} {:>10.4f} {:>6} {:>8.4f}\n", i + 1, "'" + shown + "'", t.logp, t.rank, t.entropy);
      }
      fmt::print("\n");
    }
    fmt::print("{:>4} {:>6} {:>10}  sentence\n", "#", "tokens", "perplexity");
    for (size_t i = 0; i < a.sentences.size(); i++) {
      const auto& s = a.sentences[i];
      std::string t = text.substr(s.span.begin, s.span.end - s.span.begin);
      for (char& c : t)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
      if (t.size() > 90) {
        size_t cut = 90;
        while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80) cut--;
        t = t.substr(0, cut) + "...";
      }
      fmt::print("{:>4} {:>6} {:>10.2f}  {}\n", i + 1, s.n_tokens, std::exp(s.log_ppl()), t);
    }
    fmt::print("\nDocument: {} tokens scored{}, perplexity {:.3f} (log {:.4f}), burstiness {:.4f} "
               "(std-dev of sentence log-perplexity over {} sentences of >= 3 tokens)\n",
               a.n_scored(), a.truncated ? " (truncated)" : "", std::exp(a.log_ppl), a.log_ppl, a.burstiness,
               a.n_burst_sentences);
    if (!o->m.quiet) cost::print_receipt(stderr, receipt);
  });
}

}  // namespace flops::cli
