// flops lora merge BASE ADAPTER[:SCALE]... -o OUT.gguf: W + s B A written as one F32 model.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "model/lora_adapter.h"
#include "train/lora.h"

namespace flops::cli {

void add_lora(CLI::App& app) {
  struct Opts {
    std::string base, out, name;
    std::vector<std::string> adapters;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* lora = app.add_subcommand("lora", "LoRA adapters (train them with `flops train --lora-rank`)");
  lora->require_subcommand(1);
  auto* merge = lora->add_subcommand("merge", "add adapters into a base model's weights: one F32 GGUF");
  merge->add_option("base", o->base, "base model GGUF")->required();
  merge->add_option("adapters", o->adapters, "adapter GGUF files, each FILE or FILE:SCALE")->required()->expected(1, -1);
  merge->add_option("-o,--out", o->out, "merged model to write")->required();
  merge->add_option("--name", o->name, "general.name of the merged model (default: the base's)");
  merge->add_flag("--json", o->json, "print a JSON summary on stdout");
  merge->callback([o] {
    std::vector<LoraChoice> choices;
    for (const std::string& a : o->adapters) choices.push_back(parse_lora_choice(a));
    train::merge_lora(o->base, choices, o->out, o->name);
    if (o->json) {
      nlohmann::json j = {{"base", o->base}, {"out", o->out}, {"adapters", o->adapters}};
      fmt::print("{}\n", j.dump());
    } else {
      fmt::print("merged {} adapter(s) into {}: {}\n", choices.size(), o->base, o->out);
    }
  });
}

}  // namespace flops::cli
