#pragma once
// Chat prompts: the model's own `tokenizer.chat_template` (Jinja, rendered as transformers'
// apply_chat_template renders it, see jinja.h) or a built-in format for files without one.
#include <ctime>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/gguf.h"
#include "model/model.h"
#include "model/tokenizer.h"

namespace flops {

struct ChatTemplate {
  std::string name;    // "model" (the file's own template), a built-in name, or the .jinja path
  std::string source;  // Jinja text
  std::string bos_token, eos_token;  // the tokenizer's BOS/EOS strings ("" when it has none)
  // Text that ends an assistant turn when the model writes it as plain text (its end-of-turn
  // markers, the EOS string); generation also stops at the tokenizer's end-of-generation ids.
  std::vector<std::string> stop_strings;
};

// choice: "" = the model's own template (fails clearly, listing the built-ins, when the file has
// none); a built-in name (see builtin_chat_templates()); or a path to a .jinja file.
// The template's syntax is checked here, so an unsupported construct fails before any rendering.
ChatTemplate chat_template_for(const Model& m, const std::string& choice = "");
ChatTemplate chat_template_for(const GGUFFile& g, const Tokenizer& tok, const std::string& choice = "");

// Built-in formats: chatml, llama2, llama3, mistral, phi3, gemma, zephyr.
std::vector<std::string> builtin_chat_templates();

// Renders messages ([{role, content}, ...]) with add_generation_prompt, bos_token, eos_token,
// tools (null when none, as transformers passes them) and documents = null; `extra` adds
// template variables (an object: transformers' **kwargs). ordered_json keeps the key order of
// tool schemas, which `tojson` prints as given.
std::string render_chat(const ChatTemplate& t, const nlohmann::ordered_json& messages, bool add_generation_prompt,
                        const nlohmann::ordered_json& tools = nullptr, const nlohmann::ordered_json& extra = nullptr);
std::string render_chat(const ChatTemplate& t, const nlohmann::json& messages, bool add_generation_prompt,
                        const nlohmann::json& tools = nullptr);

// The ids of a rendered chat prompt: special-token strings in it become their ids
// (parse_special), and BOS is added only when the tokenizer adds one and the template did not
// already write it.
std::vector<int32_t> encode_chat(const Tokenizer& tok, const ChatTemplate& t, const std::string& rendered);

// A chat prompt that fits the context: the oldest turns (a user message and the replies after it;
// a leading system message stays) are dropped until the tokens leave `reserve` slots free in
// n_ctx. Fails when even the last turn alone does not fit.
struct FittedChat {
  std::string rendered;
  std::vector<int32_t> tokens;
  int dropped_messages = 0;  // removed from the front of `messages`
};
FittedChat fit_chat(const Tokenizer& tok, const ChatTemplate& t, nlohmann::ordered_json& messages, int n_ctx,
                    int reserve);

// One line of ../shared/data/chat-templates/*.cases.jsonl as template variables (messages,
// add_generation_prompt, bos_token, eos_token, tools and documents or null, the `context`
// entries), and the fixed time those cases were rendered at (2026-12-01 00:00:00, local).
nlohmann::ordered_json chat_case_variables(const nlohmann::ordered_json& c);
std::time_t chat_case_time();

}  // namespace flops
