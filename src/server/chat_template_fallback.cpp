// TEMPORARY stand-in for the chat branch's templates (see the header): chatml only.
#include "server/chat_template_fallback.h"

#include "core/error.h"

namespace flops {

ChatTemplate chat_template_for(const Model& m, const std::string& choice) {
  if (choice.empty()) {
    if (m.gguf.find("tokenizer.chat_template"))
      fail("the model's own chat template needs the Jinja renderer, which this build does not have yet: pass --chat-template chatml");
    fail("the model has no chat template (tokenizer.chat_template): choose one, e.g. --chat-template chatml");
  }
  if (choice != "chatml") fail("unknown chat template '{}' (this build knows: chatml)", choice);
  ChatTemplate t;
  t.name = "chatml";
  t.source = "(built-in chatml)";
  t.stop_strings = {"<|im_end|>"};
  return t;
}

std::string render_chat(const ChatTemplate& t, const nlohmann::json& messages, bool add_generation_prompt,
                        const nlohmann::json&) {
  if (t.name != "chatml") fail("chat template '{}' cannot be rendered by this build", t.name);
  std::string s;
  for (const auto& m : messages)
    s += "<|im_start|>" + m.value("role", "user") + "\n" + m.value("content", "") + "<|im_end|>\n";
  if (add_generation_prompt) s += "<|im_start|>assistant\n";
  return s;
}

}  // namespace flops
