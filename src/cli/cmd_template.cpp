// flops template render: one chat-template case rendered as transformers would render it.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/mmap_file.h"
#include "model/chat_template.h"
#include "model/jinja.h"

namespace flops::cli {

void add_template(CLI::App& app) {
  struct Opts {
    std::string model, file, choice, case_file;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("template", "chat templates (Jinja)");
  cmd->require_subcommand(1);
  auto* render = cmd->add_subcommand(
      "render",
      "print the rendering of one case (a line of a .cases.jsonl file: messages, add_generation_prompt, bos_token, "
      "eos_token, tools, documents, context), or its error and exit 1");
  render->add_option("-m,--model", o->model, "render the model's own tokenizer.chat_template");
  render->add_option("--template", o->file, "render this .jinja file");
  render->add_option("--chat-template", o->choice, "with -m: a built-in template or .jinja file instead of the model's");
  render->add_option("--case", o->case_file, "the case, a JSON object in a file ('-' for stdin)")->required();
  render->add_flag("--json", o->json, "print {\"rendered\": ...} instead of the raw text");
  render->callback([o] {
    if (o->model.empty() == o->file.empty()) fail("give exactly one of -m MODEL and --template FILE.jinja");
    std::string text = read_input_text("", o->case_file, false);
    nlohmann::ordered_json c;
    try {
      c = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail("--case '{}' is not JSON: {}", o->case_file, e.what());
    }
    std::string source;
    nlohmann::ordered_json vars = chat_case_variables(c);
    if (!o->file.empty()) {
      if (!o->choice.empty()) fail("--chat-template goes with -m, not with --template");
      source = read_text_file(o->file);
    } else {
      GGUFFile g = gguf_open(o->model);
      Tokenizer tok = Tokenizer::from_gguf(g);
      ChatTemplate t = chat_template_for(g, tok, o->choice);
      source = t.source;
      // The case's own bos/eos strings win; the model's fill in when the case has none.
      if (!c.contains("bos_token")) vars["bos_token"] = t.bos_token;
      if (!c.contains("eos_token")) vars["eos_token"] = t.eos_token;
    }
    jinja::Options opt;
    opt.now = chat_case_time();  // the case convention: strftime_now() sees 2026-12-01 00:00:00
    std::string out = jinja::render(source, vars, opt);
    if (o->json) {
      fmt::print("{}\n", nlohmann::json{{"rendered", out}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    fmt::print("{}", out);
  });
}

}  // namespace flops::cli
