// flops generate: continue a prompt, or answer one chat turn (--chat MESSAGES.json).
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/generation_opts.h"
#include "core/error.h"
#include "core/mmap_file.h"
#include "cost/receipt.h"
#include "model/chat_template.h"
#include "model/generate.h"

namespace flops::cli {

void add_generate(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string prompt, file, chat, chat_template;
    std::vector<std::string> stops;
    int n_predict = 128;
    int ctx = 0;
    bool no_bos = false, parse_special = false, no_parse_special = false, verbose_prompt = false;
    SamplingParams sp;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "generate text from a prompt, or one chat reply");
  add_model_opts(cmd, o->m);
  add_cache_opts(cmd, o->m);
  cmd->add_option("-p,--prompt", o->prompt, "prompt text");
  cmd->add_option("-f,--file", o->file, "file with the prompt ('-' for stdin)");
  cmd->add_option("--chat", o->chat,
                  "answer the conversation in this JSON messages file ([{\"role\",\"content\"}...]) with the chat template");
  cmd->add_option("--chat-template", o->chat_template, "with --chat: a built-in template name or .jinja file instead of the model's");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate (default 128)");
  cmd->add_option("-c,--ctx-size", o->ctx, "context size (default: the model's)");
  cmd->add_option("-r,--reverse-prompt", o->stops, "stop when the text contains this string (repeatable)");
  add_sampling_opts(cmd, o->sp);
  cmd->add_flag("--no-bos", o->no_bos, "do not add the BOS token");
  cmd->add_flag("--parse-special", o->parse_special, "read control-token strings in the prompt as those tokens (on with --chat)");
  cmd->add_flag("--no-parse-special", o->no_parse_special, "never read control-token strings as tokens");
  cmd->add_flag("--verbose-prompt", o->verbose_prompt, "print the prompt (the rendered chat prompt) and its tokens on stderr");
  cmd->callback([o] {
    check_sampling(o->sp);
    if (o->parse_special && o->no_parse_special) fail("give --parse-special or --no-parse-special, not both");
    if (!o->chat.empty() && (!o->prompt.empty() || !o->file.empty())) fail("give either --chat or -p/-f, not both");
    if (o->chat.empty() && !o->chat_template.empty()) fail("--chat-template goes with --chat");
    if (o->ctx < 0) fail("--ctx-size must be positive, got {}", o->ctx);
    nlohmann::ordered_json messages, tools;
    std::string prompt;
    if (!o->chat.empty()) read_messages_file(o->chat, messages, tools);
    else prompt = read_input_text(o->prompt, o->file, true);
    auto m = open_model(o->m);
    int ctx = choose_context(*m, o->ctx, m->cfg.n_ctx_train);
    StopConditions stops;
    stops.strings = o->stops;
    std::vector<int32_t> ids;
    if (!o->chat.empty()) {
      ChatTemplate t = chat_template_for(*m, o->chat_template);
      prompt = render_chat(t, messages, true, tools);
      for (const auto& s : t.stop_strings) stops.strings.push_back(s);
      ids = o->no_parse_special ? m->tok.encode(prompt, !o->no_bos, false) : encode_chat(m->tok, t, prompt);
    } else {
      ids = m->tok.encode(prompt, !o->no_bos, o->parse_special);
    }
    if (o->verbose_prompt) {
      fmt::print(stderr, "prompt ({} tokens):\n{}\n", ids.size(), prompt);
      fmt::print(stderr, "tokens: [{}]\n", fmt::join(ids, ", "));
    }
    if (ids.empty()) fail("the prompt is empty and the model adds no BOS token: nothing to condition on");
    if (o->n_predict < 0) fail("--n-predict must be >= 0, got {}", o->n_predict);
    if ((int)ids.size() >= ctx) fail("context too long: the prompt has {} tokens, the context size is {}", ids.size(), ctx);
    cost::Meter meter;
    bool stream = !o->m.json;
    if (stream && o->chat.empty()) {
      fmt::print("{}", prompt);
      std::fflush(stdout);
    }
    Session session = make_session(*m, std::min((int)ids.size() + std::max(o->n_predict, 1), ctx));
    GenerateResult r = generate_tokens(*m, session, ids, o->n_predict, o->sp, stops, [&](const std::string& piece) {
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
      j["stop_reason"] = stop_reason_name(r.stop);
      if (r.stop == StopReason::StopString) j["stop_string"] = r.stop_string;
      if (r.stop == StopReason::EndOfTurn) j["stop_token"] = r.stop_token;
      j["stopped_at_eos"] = r.stopped_at_eos;
      j["context_size"] = ctx;
      j["kv_cache"] = kv_cache_json(*m, session.kv.n_ctx);
      j["prompt_tokens_per_second"] = pp_tps;
      j["generated_tokens_per_second"] = tg_tps;
      j["receipt"] = cost::to_json(receipt);
      fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    fmt::print("\n");
    if (!o->m.quiet) {
      fmt::print(stderr, "\n[{} prompt tokens at {:.1f} tok/s, {} generated at {:.1f} tok/s; {}; KV cache {}/{} {:.1f} MB]\n",
                 r.prompt_tokens.size(), pp_tps, r.tokens.size(), tg_tps, describe_stop(r, m->tok, ctx),
                 kv_cache_type_name(session.kv.type_k), kv_cache_type_name(session.kv.type_v), session.kv.bytes() / 1e6);
      cost::print_receipt(stderr, receipt);
    }
  });
}

}  // namespace flops::cli
