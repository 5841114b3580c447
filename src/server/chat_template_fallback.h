#pragma once
// TEMPORARY: the chat template API agreed in INTERFACES.md (owner: chat, src/model/chat_template.h).
// Until "API: jinja" is merged this stand-in knows the built-in chatml template only. Delete
// this file and its .cpp then, and include model/chat_template.h.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"

namespace flops {

struct ChatTemplate {
  std::string name;
  std::string source;
  std::string bos_token, eos_token;
  std::vector<std::string> stop_strings;
};

ChatTemplate chat_template_for(const Model& m, const std::string& choice = "");
std::string render_chat(const ChatTemplate& t, const nlohmann::json& messages, bool add_generation_prompt,
                        const nlohmann::json& tools = nullptr);

}  // namespace flops
