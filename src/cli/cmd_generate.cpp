// flops generate: continue a prompt.
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "cost/receipt.h"
#include "model/generate.h"

namespace flops::cli {

void add_generate(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string prompt, file;
    int n_predict = 128;
    int ctx = 0;
    bool no_bos = false;
    SamplingParams sp;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "generate text from a prompt");
  add_model_opts(cmd, o->m);
  cmd->add_option("-p,--prompt", o->prompt, "prompt text");
  cmd->add_option("-f,--file", o->file, "file with the prompt ('-' for stdin)");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate (default 128)");
  cmd->add_option("-c,--ctx-size", o->ctx, "context size (default: the model's)");
  cmd->add_option("--temp", o->sp.temp, "temperature; 0 = greedy (default 0.8)");
  cmd->add_option("--top-k", o->sp.top_k, "top-k sampling, 0 = off (default 40)");
  cmd->add_option("--top-p", o->sp.top_p, "top-p sampling, 1.0 = off (default 0.95)");
  cmd->add_option("--min-p", o->sp.min_p, "min-p sampling, 0 = off (default 0.05)");
  cmd->add_option("--repeat-penalty", o->sp.repeat_penalty, "penalty for repeated tokens, 1.0 = off (default 1.0)");
  cmd->add_option("--repeat-last-n", o->sp.repeat_last_n, "tokens the penalty looks back at (default 64, -1 = all)");
  cmd->add_option("-s,--seed", o->sp.seed, "random seed (default 42)");
  cmd->add_flag("--no-bos", o->no_bos, "do not add the BOS token");
  cmd->callback([o] {
    if (o->sp.temp < 0) fail("--temp must be >= 0, got {}", o->sp.temp);
    if (o->sp.top_p <= 0 || o->sp.top_p > 1) fail("--top-p must be in (0, 1], got {}", o->sp.top_p);
    if (o->sp.min_p < 0 || o->sp.min_p > 1) fail("--min-p must be in [0, 1], got {}", o->sp.min_p);
    if (o->sp.repeat_penalty <= 0) fail("--repeat-penalty must be > 0, got {}", o->sp.repeat_penalty);
    std::string prompt = read_input_text(o->prompt, o->file, true);
    auto m = open_model(o->m);
    if (o->ctx < 0) fail("--ctx-size must be positive, got {}", o->ctx);
    int ctx = choose_context(*m, o->ctx, m->cfg.n_ctx_train);
    cost::Meter meter;
    bool stream = !o->m.json;
    if (stream) {
      fmt::print("{}", prompt);
      std::fflush(stdout);
    }
    GenerateResult r = generate(*m, prompt, o->n_predict, ctx, o->sp, !o->no_bos, [&](const std::string& piece) {
      if (stream) {
        fmt::print("{}", piece);
        std::fflush(stdout);
      }
      return true;
    });
    cost::ReceiptOptions ro;
    ro.label = "generate";
    cost::Receipt receipt = cost::finish(meter, ro);
    double pp_tps = r.prompt_tokens.size() / std::max(r.prompt_seconds, 1e-9);
    double tg_tps = r.tokens.size() / std::max(r.gen_seconds, 1e-9);
    if (o->m.json) {
      nlohmann::json j;
      j["prompt"] = prompt;
      j["text"] = r.text;
      j["prompt_tokens"] = r.prompt_tokens.size();
      j["generated_tokens"] = r.tokens.size();
      j["tokens"] = r.tokens;
      j["stopped_at_eos"] = r.stopped_at_eos;
      j["prompt_tokens_per_second"] = pp_tps;
      j["generated_tokens_per_second"] = tg_tps;
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    fmt::print("\n");
    if (!o->m.quiet) {
      fmt::print(stderr, "\n[{} prompt tokens at {:.1f} tok/s, {} generated at {:.1f} tok/s{}]\n", r.prompt_tokens.size(),
                 pp_tps, r.tokens.size(), tg_tps, r.stopped_at_eos ? ", stopped at EOS" : "");
      cost::print_receipt(stderr, receipt);
    }
  });
}

}  // namespace flops::cli
