// flops chat: talk to a model in its chat format, like llama-cli's conversation mode.
//
// Each turn renders the whole conversation with the chat template (add_generation_prompt), reads
// special-token strings in it as tokens, and generates the reply; the KV cache keeps the
// conversation, so only what changed since the last turn is computed. When the conversation no
// longer fits the context, the oldest turns are dropped (and it says so). Lines starting with '/'
// are commands; a line ending in '\' continues on the next; end of input (Ctrl-D) exits.
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/generation_opts.h"
#include "core/error.h"
#include "core/mmap_file.h"
#include "model/chat_template.h"
#include "model/generate.h"

namespace flops::cli {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }

const char* kHelp =
    "  /reset        forget the conversation (the system prompt stays)\n"
    "  /save FILE    write the conversation as JSON messages (readable by generate --chat)\n"
    "  /exit         leave (so does Ctrl-D)\n"
    "  /help         this list\n"
    "  end a line with \\ to continue on the next; Ctrl-C stops a reply\n";

// One line of input; a trailing backslash joins the next line. false at end of input.
bool read_message(bool tty, std::string& out) {
  out.clear();
  std::string line;
  bool first = true;
  while (true) {
    if (tty) {
      fmt::print("{}", first ? "> " : "  ");
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) return !first;
    first = false;
    if (!line.empty() && line.back() == '\\') {
      line.pop_back();
      out += line + "\n";
      continue;
    }
    out += line;
    return true;
  }
}

}  // namespace

void add_chat(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string system, chat_template, log_prompts;
    int n_predict = -1;
    int ctx = 0;
    bool verbose_prompt = false;
    SamplingParams sp;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("chat", "talk to the model in its chat format (interactive)");
  add_model_opts(cmd, o->m);
  add_cache_opts(cmd, o->m);
  cmd->add_option("--system-prompt", o->system, "system message at the start of the conversation (also -sys)");
  cmd->add_option("--chat-template", o->chat_template,
                  "a built-in template (chatml, llama3, llama2, mistral, phi3, gemma, zephyr) or a .jinja file, "
                  "instead of the model's own");
  cmd->add_option("-n,--n-predict", o->n_predict, "most tokens per reply (default -1: until the end of the turn)");
  cmd->add_option("-c,--ctx-size", o->ctx, "context size (default: the model's)");
  add_sampling_opts(cmd, o->sp);
  cmd->add_flag("--verbose-prompt", o->verbose_prompt, "print each rendered prompt and its token count on stderr");
  cmd->add_option("--log-prompts", o->log_prompts,
                  "append one JSON line per turn to this file: messages, rendered prompt, its tokens, the reply, "
                  "why it stopped");
  cmd->callback([o] {
    check_sampling(o->sp);
    if (o->ctx < 0) fail("--ctx-size must be positive, got {}", o->ctx);
    if (o->n_predict < -1 || o->n_predict == 0) fail("--n-predict must be -1 or positive, got {}", o->n_predict);
    auto m = open_model(o->m);
    ChatTemplate t = chat_template_for(*m, o->chat_template);
    const int ctx = choose_context(*m, o->ctx, m->cfg.n_ctx_train);
    const bool tty = isatty(STDIN_FILENO);
    StopConditions stops;
    stops.strings = t.stop_strings;
    Session session = make_session(*m, ctx);
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    auto reset = [&] {
      messages = nlohmann::ordered_json::array();
      if (!o->system.empty()) messages.push_back({{"role", "system"}, {"content", o->system}});
    };
    reset();
    std::FILE* log = nullptr;
    if (!o->log_prompts.empty()) {
      log = std::fopen(o->log_prompts.c_str(), "a");
      if (!log) fail("cannot open --log-prompts file '{}'", o->log_prompts);
    }
    if (!o->m.quiet)
      fmt::print(stderr, "chat with {} ({} template, context {} tokens); /help lists the commands\n", m->path, t.name,
                 ctx);
    // A reply needs room: at least a few tokens, or what -n asks for.
    const int reserve = o->n_predict > 0 ? std::min(o->n_predict, ctx / 2) : std::min(64, ctx / 4);
    int turn = 0;
    std::string input;
    while (read_message(tty, input)) {
      if (input.empty()) continue;
      if (input[0] == '/') {
        std::string command = input.substr(0, input.find(' '));
        std::string arg = input.size() > command.size() ? input.substr(command.size() + 1) : "";
        if (command == "/exit" || command == "/quit") break;
        if (command == "/help") {
          fmt::print("{}", kHelp);
        } else if (command == "/reset") {
          reset();
          fmt::print("[conversation reset{}]\n", o->system.empty() ? "" : "; the system prompt stays");
        } else if (command == "/save") {
          if (arg.empty()) {
            fmt::print("[/save needs a file name]\n");
          } else {
            try {
              std::string js = messages.dump(2) + "\n";
              write_file_atomic(arg, js.data(), js.size());
              fmt::print("[saved {} messages to {}]\n", messages.size(), arg);
            } catch (const Error& e) {
              fmt::print("[cannot save: {}]\n", e.what());
            }
          }
        } else {
          fmt::print("[unknown command {}; /help lists them]\n", command);
        }
        std::fflush(stdout);
        continue;
      }
      messages.push_back({{"role", "user"}, {"content", input}});
      FittedChat fit;
      try {
        fit = fit_chat(m->tok, t, messages, ctx, reserve);
      } catch (const Error& e) {
        messages.erase(messages.end() - 1);
        fmt::print("[{}; the message was not sent]\n", e.what());
        continue;
      }
      if (fit.dropped_messages)
        fmt::print("[context full: dropped the {} oldest message{} to fit {} tokens]\n", fit.dropped_messages,
                   fit.dropped_messages == 1 ? "" : "s", ctx);
      if (o->verbose_prompt) fmt::print(stderr, "--- prompt ({} tokens) ---\n{}\n--- end of prompt ---\n", fit.tokens.size(), fit.rendered);
      int room = ctx - (int)fit.tokens.size();
      int n = o->n_predict > 0 ? std::min(o->n_predict, room) : room;
      g_interrupted = 0;
      auto old = std::signal(SIGINT, on_sigint);
      GenerateResult r = generate_tokens(*m, session, fit.tokens, n, o->sp, stops, [&](const std::string& piece) {
        fmt::print("{}", piece);
        std::fflush(stdout);
        return !g_interrupted;
      });
      std::signal(SIGINT, old);
      fmt::print("\n");
      if (r.stop == StopReason::Cancelled) fmt::print("[reply stopped]\n");
      else if (r.stop == StopReason::ContextFull)
        fmt::print("[context full after {} tokens: the reply is cut; the oldest turns go next time]\n", r.tokens.size());
      else if (r.stop == StopReason::Length && o->n_predict > 0)
        fmt::print("[reply cut at -n {} tokens]\n", o->n_predict);
      std::fflush(stdout);
      if (log) {
        nlohmann::ordered_json j;
        j["turn"] = ++turn;
        j["messages"] = messages;
        j["rendered"] = fit.rendered;
        j["tokens"] = fit.tokens;
        j["reused_tokens"] = r.reused_tokens;
        j["reply"] = r.text;
        j["stop_reason"] = stop_reason_name(r.stop);
        std::fputs((j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n").c_str(), log);
        std::fflush(log);
      }
      messages.push_back({{"role", "assistant"}, {"content", r.text}});
    }
    if (log) std::fclose(log);
    if (tty) fmt::print("\n");
  });
}

}  // namespace flops::cli
