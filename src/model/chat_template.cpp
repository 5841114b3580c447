// Chat templates: choosing one, the built-in formats, rendering and tokenizing a chat prompt.
#include "model/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "model/jinja.h"

namespace flops {

namespace {

struct Builtin {
  const char* name;
  const char* source;
  std::vector<std::string> stops;
};

// Written for flops from each family's published prompt format. A system message is folded into
// the first user turn where the format has no system role (llama2, mistral, gemma).
const std::vector<Builtin>& builtins() {
  static const std::vector<Builtin> b{
      {"chatml",
       "{%- for message in messages -%}\n"
       "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}\n"
       "{%- endfor -%}\n"
       "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}\n",
       {"<|im_end|>"}},
      {"llama3",
       "{{- bos_token -}}\n"
       "{%- for message in messages -%}\n"
       "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + "
       "'<|eot_id|>' -}}\n"
       "{%- endfor -%}\n"
       "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{%- endif -%}\n",
       {"<|eot_id|>", "<|eom_id|>"}},
      {"llama2",
       "{%- if messages and messages[0]['role'] == 'system' -%}\n"
       "{%- set system = messages[0]['content'] -%}{%- set turns = messages[1:] -%}\n"
       "{%- else -%}{%- set system = '' -%}{%- set turns = messages -%}{%- endif -%}\n"
       "{%- for message in turns -%}\n"
       "{%- if message['role'] == 'user' -%}\n"
       "{%- set content = message['content'] | trim -%}\n"
       "{%- if loop.first and system -%}{%- set content = '<<SYS>>\\n' + system | trim + '\\n<</SYS>>\\n\\n' + content "
       "-%}{%- endif -%}\n"
       "{{- bos_token + '[INST] ' + content + ' [/INST]' -}}\n"
       "{%- elif message['role'] == 'assistant' -%}\n"
       "{{- ' ' + message['content'] | trim + ' ' + eos_token -}}\n"
       "{%- else -%}{{- raise_exception('the llama2 format knows the roles system, user and assistant, not ' + "
       "message['role']) -}}\n"
       "{%- endif -%}\n"
       "{%- endfor -%}\n",
       {"</s>"}},
      {"mistral",
       "{{- bos_token -}}\n"
       "{%- if messages and messages[0]['role'] == 'system' -%}\n"
       "{%- set system = messages[0]['content'] -%}{%- set turns = messages[1:] -%}\n"
       "{%- else -%}{%- set system = '' -%}{%- set turns = messages -%}{%- endif -%}\n"
       "{%- for message in turns -%}\n"
       "{%- if message['role'] == 'user' -%}\n"
       "{%- if loop.first and system -%}{{- '[INST] ' + system + '\\n\\n' + message['content'] + ' [/INST]' -}}\n"
       "{%- else -%}{{- '[INST] ' + message['content'] + ' [/INST]' -}}{%- endif -%}\n"
       "{%- elif message['role'] == 'assistant' -%}{{- message['content'] + eos_token -}}\n"
       "{%- else -%}{{- raise_exception('the mistral format knows the roles system, user and assistant, not ' + "
       "message['role']) -}}\n"
       "{%- endif -%}\n"
       "{%- endfor -%}\n",
       {"</s>"}},
      {"phi3",
       "{%- for message in messages -%}\n"
       "{{- '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' -}}\n"
       "{%- endfor -%}\n"
       "{%- if add_generation_prompt -%}{{- '<|assistant|>\\n' -}}{%- else -%}{{- eos_token -}}{%- endif -%}\n",
       {"<|end|>", "<|endoftext|>"}},
      {"gemma",
       "{{- bos_token -}}\n"
       "{%- if messages and messages[0]['role'] == 'system' -%}\n"
       "{%- set system = messages[0]['content'] | trim + '\\n\\n' -%}{%- set turns = messages[1:] -%}\n"
       "{%- else -%}{%- set system = '' -%}{%- set turns = messages -%}{%- endif -%}\n"
       "{%- for message in turns -%}\n"
       "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}\n"
       "{%- set content = (system if loop.first else '') + message['content'] | trim -%}\n"
       "{{- '<start_of_turn>' + role + '\\n' + content + '<end_of_turn>\\n' -}}\n"
       "{%- endfor -%}\n"
       "{%- if add_generation_prompt -%}{{- '<start_of_turn>model\\n' -}}{%- endif -%}\n",
       {"<end_of_turn>"}},
      {"zephyr",
       "{%- for message in messages -%}\n"
       "{{- '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' -}}\n"
       "{%- endfor -%}\n"
       "{%- if add_generation_prompt -%}{{- '<|assistant|>\\n' -}}{%- endif -%}\n",
       {"</s>"}},
  };
  return b;
}

std::string names_list() {
  std::string s;
  for (const auto& b : builtins()) s += (s.empty() ? "" : ", ") + std::string(b.name);
  return s;
}

// End-of-turn markers of common formats; those a model's own template writes become stop strings.
const char* const kTurnEnds[] = {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>",
                                 "<|END_OF_TURN_TOKEN|>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
                                 "<|endoftext|>", "</s>"};

std::string token_string(const Tokenizer& tok, int32_t id) { return id >= 0 ? tok.token_text(id) : ""; }

}  // namespace

std::vector<std::string> builtin_chat_templates() {
  std::vector<std::string> v;
  for (const auto& b : builtins()) v.push_back(b.name);
  return v;
}

ChatTemplate chat_template_for(const GGUFFile& g, const Tokenizer& tok, const std::string& choice) {
  ChatTemplate t;
  t.bos_token = token_string(tok, tok.bos());
  t.eos_token = token_string(tok, tok.eos());
  if (choice.empty()) {
    if (!g.find("tokenizer.chat_template"))
      fail("the model has no chat template (tokenizer.chat_template); choose one with --chat-template NAME|FILE.jinja "
           "(built-in: {})",
           names_list());
    t.name = "model";
    t.source = g.get_string("tokenizer.chat_template");
  } else {
    for (const auto& b : builtins())
      if (choice == b.name) {
        t.name = b.name;
        t.source = b.source;
        t.stop_strings = b.stops;
      }
    if (t.name.empty()) {
      namespace fs = std::filesystem;
      if (!fs::is_regular_file(choice))
        fail("--chat-template '{}' is neither a built-in template ({}) nor a template file", choice, names_list());
      std::ifstream f(choice, std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      if (!f.good() && !f.eof()) fail("cannot read chat template file '{}'", choice);
      t.name = choice;
      t.source = ss.str();
    }
  }
  if (t.stop_strings.empty())
    for (const char* s : kTurnEnds)
      if (t.source.find(s) != std::string::npos) t.stop_strings.push_back(s);
  if (!t.eos_token.empty() && tok.is_control(tok.eos()) &&
      std::find(t.stop_strings.begin(), t.stop_strings.end(), t.eos_token) == t.stop_strings.end())
    t.stop_strings.push_back(t.eos_token);
  try {
    jinja::check_syntax(t.source);
  } catch (const Error& e) {
    fail("chat template '{}': {}", t.name, e.what());
  }
  return t;
}

ChatTemplate chat_template_for(const Model& m, const std::string& choice) {
  return chat_template_for(m.gguf, m.tok, choice);
}

std::string render_chat(const ChatTemplate& t, const nlohmann::ordered_json& messages, bool add_generation_prompt,
                        const nlohmann::ordered_json& tools, const nlohmann::ordered_json& extra) {
  if (!messages.is_array()) fail("chat messages must be a JSON array of {{\"role\", \"content\"}} objects");
  nlohmann::ordered_json vars = nlohmann::ordered_json::object();
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) vars[it.key()] = it.value();
  else if (!extra.is_null())
    fail("extra chat template variables must be a JSON object");
  vars["messages"] = messages;
  vars["add_generation_prompt"] = add_generation_prompt;
  vars["bos_token"] = t.bos_token;
  vars["eos_token"] = t.eos_token;
  vars["tools"] = tools;
  if (!vars.contains("documents")) vars["documents"] = nullptr;
  return jinja::render(t.source, vars, jinja::Options{});
}

std::string render_chat(const ChatTemplate& t, const nlohmann::json& messages, bool add_generation_prompt,
                        const nlohmann::json& tools) {
  return render_chat(t, nlohmann::ordered_json(messages), add_generation_prompt, nlohmann::ordered_json(tools));
}

std::vector<int32_t> encode_chat(const Tokenizer& tok, const ChatTemplate& t, const std::string& rendered) {
  bool writes_bos = !t.bos_token.empty() && rendered.compare(0, t.bos_token.size(), t.bos_token) == 0;
  return tok.encode(rendered, !writes_bos, /*parse_special=*/true);
}

FittedChat fit_chat(const Tokenizer& tok, const ChatTemplate& t, nlohmann::ordered_json& messages, int n_ctx,
                    int reserve) {
  FittedChat f;
  while (true) {
    f.rendered = render_chat(t, messages, true);
    f.tokens = encode_chat(tok, t, f.rendered);
    if ((int)f.tokens.size() + reserve <= n_ctx) return f;
    // The first turn after a leading system message: a user message and what follows it up to the next.
    size_t first = !messages.empty() && messages[0].value("role", "") == "system" ? 1 : 0;
    size_t end = first + 1;
    while (end < messages.size() && messages[end].value("role", "") != "user") ++end;
    if (end >= messages.size())
      fail("the conversation's last turn alone takes {} tokens, more than the context of {} allows (leaving {} for "
           "the reply)",
           f.tokens.size(), n_ctx, reserve);
    messages.erase(messages.begin() + (long)first, messages.begin() + (long)end);
    f.dropped_messages += (int)(end - first);
  }
}

nlohmann::ordered_json chat_case_variables(const nlohmann::ordered_json& c) {
  if (!c.is_object()) fail("a chat case must be a JSON object");
  if (!c.contains("messages")) fail("the chat case has no \"messages\"");
  nlohmann::ordered_json vars = nlohmann::ordered_json::object();
  vars["messages"] = c["messages"];
  vars["add_generation_prompt"] = c.value("add_generation_prompt", false);
  vars["bos_token"] = c.value("bos_token", "");
  vars["eos_token"] = c.value("eos_token", "");
  vars["tools"] = c.contains("tools") ? c["tools"] : nlohmann::ordered_json();
  vars["documents"] = c.contains("documents") ? c["documents"] : nlohmann::ordered_json();
  if (c.contains("context")) {
    if (!c["context"].is_object()) fail("the chat case's \"context\" must be an object");
    for (auto it = c["context"].begin(); it != c["context"].end(); ++it) vars[it.key()] = it.value();
  }
  return vars;
}

std::time_t chat_case_time() {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 11;
  tm.tm_mday = 1;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

}  // namespace flops
