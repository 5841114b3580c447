#pragma once
// Flags and messages shared by the commands that generate (generate, chat).
#include <CLI/CLI.hpp>
#include <string>

#include <nlohmann/json.hpp>

#include "model/generate.h"
#include "model/tokenizer.h"

namespace flops::cli {

// --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n -s, and their checks.
void add_sampling_opts(CLI::App* cmd, SamplingParams& sp);
void check_sampling(const SamplingParams& sp);
// "stopped: end of turn (\"<|im_end|>\")", "stopped: context full (256 tokens; ...)", ...
std::string describe_stop(const GenerateResult& r, const Tokenizer& tok, int n_ctx);
// A messages file: [{"role": ..., "content": ...}, ...] or {"messages": [...], "tools": [...]}.
void read_messages_file(const std::string& path, nlohmann::ordered_json& messages, nlohmann::ordered_json& tools);

}  // namespace flops::cli
