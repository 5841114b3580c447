// flops perplexity: llama.cpp's chunked method, or a sliding window with --stride.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/progress.h"
#include "cost/receipt.h"
#include "eval/perplexity.h"

namespace flops::cli {

void add_perplexity(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string prompt, file;
    int ctx = 0;
    int stride = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("perplexity", "perplexity of a text under a model");
  add_model_opts(cmd, o->m);
  add_cache_opts(cmd, o->m);
  cmd->add_option("-f,--file", o->file, "text file ('-' for stdin)");
  cmd->add_option("-p,--prompt", o->prompt, "text given inline");
  cmd->add_option("-c,--ctx-size", o->ctx, "tokens per chunk / window (default 512, at most the model's context)");
  cmd->add_option("--stride", o->stride, "sliding window: advance windows by this many tokens and score each token once");
  cmd->callback([o] {
    if (o->ctx != 0 && o->ctx < 4) fail("--ctx-size must be at least 4, got {}", o->ctx);
    std::string text = read_input_text(o->prompt, o->file);
    auto m = open_model(o->m);
    o->ctx = choose_context(*m, o->ctx, 512);
    cost::Meter meter;
    std::vector<int32_t> tokens = m->tok.encode(text, true);
    if (o->stride == 0 && (int64_t)tokens.size() < o->ctx)
      fail("the text has {} tokens, fewer than one chunk of {} (use a smaller --ctx-size)", tokens.size(), o->ctx);
    bool show = !o->m.json && !o->m.quiet;
    if (show) fmt::print(stderr, "{} tokens; ", tokens.size());
    PerplexityResult r;
    std::string method;
    if (o->stride > 0) {
      method = "sliding";
      if (show) fmt::print(stderr, "sliding windows of {} tokens, stride {}\n", o->ctx, o->stride);
      Progress bar("perplexity", (int64_t)tokens.size() - 1, "tok", show);
      r = perplexity_sliding(*m, tokens, o->ctx, o->stride, [&](int64_t done, int64_t) { bar.update(done); });
      bar.finish();
    } else {
      method = "chunks";
      if (show) fmt::print(stderr, "{} chunks of {} tokens, second half of each scored\n", tokens.size() / o->ctx, o->ctx);
      Progress bar("perplexity", (int64_t)tokens.size() / o->ctx, "chunks", show);
      r = perplexity_chunks(*m, tokens, o->ctx, m->tok.add_bos_default() ? m->tok.bos() : -1,
                            [&](int64_t done, int64_t) { bar.update(done); });
      bar.finish();
    }
    cost::ReceiptOptions ro;
    ro.label = "perplexity";
    cost::Receipt receipt = cost::finish(meter, ro);
    if (o->m.json) {
      nlohmann::json j;
      j["method"] = method;
      j["ctx"] = o->ctx;
      j["kv_cache"] = kv_cache_json(*m, o->ctx);
      if (o->stride > 0) j["stride"] = o->stride;
      j["ppl"] = r.ppl;
      j["ppl_err"] = r.ppl_err;
      j["nll"] = r.nll;
      j["tokens"] = r.n_tokens;
      j["tokens_scored"] = r.n_scored;
      j["chunks"] = r.n_chunks;
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump());
      return;
    }
    fmt::print("Final estimate: PPL = {:.4f} +/- {:.5f}\n", r.ppl, r.ppl_err);
    fmt::print("({} method, ctx {}{}, {} tokens scored of {})\n", method, o->ctx,
               o->stride > 0 ? fmt::format(", stride {}", o->stride) : "", r.n_scored, r.n_tokens);
    if (!o->m.quiet) cost::print_receipt(stderr, receipt);
  });
}

}  // namespace flops::cli
