#include "cli/generation_opts.h"

#include <fmt/format.h>

#include "cli/common.h"
#include "core/error.h"

namespace flops::cli {

std::string describe_stop(const GenerateResult& r, const Tokenizer& tok, int n_ctx) {
  switch (r.stop) {
    case StopReason::Length: return fmt::format("stopped: length ({} tokens asked for)", r.tokens.size());
    case StopReason::EndOfTurn:
      return fmt::format("stopped: end of turn ({})", nlohmann::json(tok.token_text(r.stop_token)).dump());
    case StopReason::StopString: return fmt::format("stopped: stop string {}", nlohmann::json(r.stop_string).dump());
    case StopReason::ContextFull: return fmt::format("stopped: context full ({} tokens; -c sets the context size)", n_ctx);
    case StopReason::Cancelled: return "stopped: cancelled";
  }
  return "";
}

void add_sampling_opts(CLI::App* cmd, SamplingParams& sp) {
  cmd->add_option("--temp", sp.temp, "temperature; 0 = greedy (default 0.8)");
  cmd->add_option("--top-k", sp.top_k, "top-k sampling, 0 = off (default 40)");
  cmd->add_option("--top-p", sp.top_p, "top-p sampling, 1.0 = off (default 0.95)");
  cmd->add_option("--min-p", sp.min_p, "min-p sampling, 0 = off (default 0.05)");
  cmd->add_option("--repeat-penalty", sp.repeat_penalty, "penalty for repeated tokens, 1.0 = off (default 1.0)");
  cmd->add_option("--repeat-last-n", sp.repeat_last_n, "tokens the penalty looks back at (default 64, -1 = all)");
  cmd->add_option("-s,--seed", sp.seed, "random seed (default 42)");
}

void check_sampling(const SamplingParams& sp) {
  if (sp.temp < 0) fail("--temp must be >= 0, got {}", sp.temp);
  if (sp.top_p <= 0 || sp.top_p > 1) fail("--top-p must be in (0, 1], got {}", sp.top_p);
  if (sp.min_p < 0 || sp.min_p > 1) fail("--min-p must be in [0, 1], got {}", sp.min_p);
  if (sp.repeat_penalty <= 0) fail("--repeat-penalty must be > 0, got {}", sp.repeat_penalty);
}

void read_messages_file(const std::string& path, nlohmann::ordered_json& messages, nlohmann::ordered_json& tools) {
  std::string text = read_input_text("", path, false);
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("--chat '{}' is not JSON: {}", path, e.what());
  }
  if (j.is_object()) {
    tools = j.contains("tools") ? j["tools"] : nlohmann::ordered_json();
    j = j.contains("messages") ? j["messages"] : nlohmann::ordered_json();
  }
  if (!j.is_array() || j.empty())
    fail("--chat '{}' must hold a non-empty JSON array of {{\"role\", \"content\"}} messages", path);
  for (const auto& m : j)
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      fail("--chat '{}': every message needs a \"role\" string", path);
  messages = j;
}

}  // namespace flops::cli
