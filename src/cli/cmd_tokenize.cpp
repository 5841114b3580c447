// flops tokenize: the token ids (and pieces) the model's tokenizer produces.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/threads.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace flops::cli {

void add_tokenize(CLI::App& app) {
  struct Opts {
    ModelOpts m;
    std::string prompt, file;
    bool no_bos = false, ids = false, parse_special = false, no_parse_special = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("tokenize", "split text into the model's tokens");
  add_model_opts(cmd, o->m);
  cmd->add_option("-p,--prompt", o->prompt, "text to tokenize");
  cmd->add_option("-f,--file", o->file, "file to tokenize ('-' for stdin)");
  cmd->add_flag("--no-bos", o->no_bos, "do not add the BOS token");
  cmd->add_flag("--ids", o->ids, "print only the ids, as a list");
  cmd->add_flag("--parse-special", o->parse_special,
                "read control-token strings in the text (\"<|endoftext|>\", \"</s>\"...) as those tokens, as llama.cpp does");
  cmd->add_flag("--no-parse-special", o->no_parse_special, "never read them as tokens (the default)");
  cmd->callback([o] {
    // Only the tokenizer is needed: vocabulary-only GGUF files (no tensors) work too.
    GGUFFile g = gguf_open(resolve_model_path(o->m.model, o->m.json || o->m.quiet));
    Tokenizer tok = Tokenizer::from_gguf(g);
    std::string text = read_input_text(o->prompt, o->file, true);
    if (o->parse_special && o->no_parse_special) fail("give --parse-special or --no-parse-special, not both");
    std::vector<int32_t> ids = tok.encode(text, !o->no_bos, o->parse_special);
    if (o->m.json) {
      nlohmann::json j;
      j["tokens"] = ids;
      std::vector<std::string> pieces;
      for (int32_t id : ids) pieces.push_back(tok.token_to_piece(id));
      j["pieces"] = pieces;
      j["n_tokens"] = ids.size();
      fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    if (o->ids) {
      fmt::print("[{}]\n", fmt::join(ids, ", "));
      return;
    }
    for (int32_t id : ids) {
      std::string p = tok.token_to_piece(id);
      nlohmann::json js = p;
      fmt::print("{:>7} -> {}\n", id, js.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    fmt::print("{} tokens\n", ids.size());
  });
}

}  // namespace flops::cli
