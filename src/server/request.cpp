#include "server/request.h"

#include <algorithm>
#include <random>

#include "core/error.h"
#include "core/utf8.h"
#include "server/api_error.h"

namespace flops::server {

using nlohmann::json;

namespace {

std::string type_word(const json& v) {
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a decimal";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

void check_text(const std::string& s, const std::string& field) {
  if (size_t bad = utf8_invalid_offset(s); bad != std::string::npos)
    bad_field(field, "Invalid '{}': not valid UTF-8 (byte offset {})", field, bad);
}

}  // namespace

json parse_body(const std::string& body) {
  if (body.empty()) throw ApiError(400, "The request body is empty: expected a JSON object");
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    throw ApiError(400, fmt::format("We could not parse the JSON body of your request: {}", e.what()),
                   "invalid_request_error", "", "invalid_json");
  }
  if (!j.is_object()) throw ApiError(400, fmt::format("The request body must be a JSON object, got {}", type_word(j)));
  return j;
}

Fields::Fields(const json& body) : j(body) {}

bool Fields::has(const std::string& k) {
  known.push_back(k);
  return j.contains(k) && !j[k].is_null();
}

std::optional<double> Fields::number(const std::string& k, double lo, double hi) {
  if (!has(k)) return std::nullopt;
  const json& v = j[k];
  if (!v.is_number()) bad_field(k, "Invalid type for '{}': expected a number, but got {} instead.", k, type_word(v));
  double x = v.get<double>();
  if (!(x >= lo && x <= hi)) bad_field(k, "Invalid '{}': expected a value in [{}, {}], but got {} instead.", k, lo, hi, x);
  return x;
}

std::optional<int64_t> Fields::integer(const std::string& k, int64_t lo, int64_t hi) {
  if (!has(k)) return std::nullopt;
  const json& v = j[k];
  bool integral = v.is_number_integer() || (v.is_number_float() && v.get<double>() == (double)(int64_t)v.get<double>());
  if (!integral) bad_field(k, "Invalid type for '{}': expected an integer, but got {} instead.", k, type_word(v));
  int64_t x = v.is_number_unsigned() ? (int64_t)std::min<uint64_t>(v.get<uint64_t>(), INT64_MAX) : v.get<int64_t>();
  if (x < lo || x > hi) bad_field(k, "Invalid '{}': expected a value in [{}, {}], but got {} instead.", k, lo, hi, x);
  return x;
}

std::optional<bool> Fields::boolean(const std::string& k) {
  if (!has(k)) return std::nullopt;
  const json& v = j[k];
  if (!v.is_boolean()) bad_field(k, "Invalid type for '{}': expected a boolean, but got {} instead.", k, type_word(v));
  return v.get<bool>();
}

std::optional<std::string> Fields::string(const std::string& k) {
  if (!has(k)) return std::nullopt;
  const json& v = j[k];
  if (!v.is_string()) bad_field(k, "Invalid type for '{}': expected a string, but got {} instead.", k, type_word(v));
  check_text(v.get<std::string>(), k);
  return v.get<std::string>();
}

const json* Fields::any(const std::string& k) { return has(k) ? &j[k] : nullptr; }

void Fields::ignore(const std::vector<std::string>& ks) { known.insert(known.end(), ks.begin(), ks.end()); }

void Fields::reject_unknown() const {
  for (auto& [k, v] : j.items())
    if (std::find(known.begin(), known.end(), k) == known.end())
      throw ApiError(400, fmt::format("Unrecognized request argument supplied: {}", k), "invalid_request_error", k,
                     "unknown_parameter");
}

std::shared_ptr<const JsonGrammar> parse_response_format(const json& body) {
  if (!body.contains("response_format") || body["response_format"].is_null()) return nullptr;
  const json& rf = body["response_format"];
  if (!rf.is_object()) bad_field("response_format", "Invalid type for 'response_format': expected an object, but got {} instead.", type_word(rf));
  if (!rf.contains("type") || !rf["type"].is_string())
    bad_field("response_format.type", "Missing required parameter: 'response_format.type'.");
  std::string t = rf["type"];
  for (auto& [k, v] : rf.items())
    if (k != "type" && !(t == "json_schema" && k == "json_schema"))
      bad_field("response_format." + k, "Unrecognized argument: 'response_format.{}'", k);
  if (t == "text") return nullptr;
  if (t == "json_object") return std::make_shared<JsonGrammar>(json_grammar_any_object());
  if (t != "json_schema")
    bad_field("response_format.type", "Invalid 'response_format.type': expected 'text', 'json_object' or 'json_schema', got '{}'", t);
  if (!rf.contains("json_schema") || !rf["json_schema"].is_object())
    bad_field("response_format.json_schema", "Missing required parameter: 'response_format.json_schema'.");
  const json& js = rf["json_schema"];
  for (auto& [k, v] : js.items())
    if (k != "name" && k != "schema" && k != "strict" && k != "description")
      bad_field("response_format.json_schema." + k, "Unrecognized argument: 'response_format.json_schema.{}'", k);
  if (!js.contains("name") || !js["name"].is_string())
    bad_field("response_format.json_schema.name", "Missing required parameter: 'response_format.json_schema.name'.");
  json schema = js.contains("schema") ? js["schema"] : json::object();
  try {
    return std::make_shared<JsonGrammar>(json_grammar_from_schema(schema));
  } catch (const Error& e) {
    bad_field("response_format.json_schema.schema", "Invalid 'response_format.json_schema.{}", std::string(e.what()).substr(6));
  }
}

namespace {

// Sampling fields shared by both endpoints.
void parse_sampling(Fields& f, GenParams& p, const Limits& lim) {
  // OpenAI's defaults: temperature 1, top_p 1, no top-k or min-p.
  p.sp.temp = (float)f.number("temperature", 0, 2).value_or(1.0);
  p.sp.top_p = (float)f.number("top_p", 0, 1).value_or(1.0);
  if (p.sp.top_p <= 0) p.sp.top_p = 1e-6f;  // 0 keeps the top token only
  p.sp.top_k = (int)f.integer("top_k", 0, 1 << 20).value_or(0);
  p.sp.min_p = (float)f.number("min_p", 0, 1).value_or(0.0);
  p.sp.repeat_penalty = (float)f.number("repeat_penalty", 0.01, 10).value_or(1.0);
  p.presence_penalty = (float)f.number("presence_penalty", -2, 2).value_or(0.0);
  p.frequency_penalty = (float)f.number("frequency_penalty", -2, 2).value_or(0.0);
  if (auto s = f.integer("seed", INT64_MIN, INT64_MAX))
    p.sp.seed = (uint64_t)*s;
  else
    p.sp.seed = std::random_device{}();
  if (const json* st = f.any("stop")) {
    if (st->is_string()) {
      p.stop = {st->get<std::string>()};
    } else if (st->is_array()) {
      if (st->size() > 4) bad_field("stop", "Invalid 'stop': at most 4 stop sequences, got {}", st->size());
      for (auto& s : *st) {
        if (!s.is_string()) bad_field("stop", "Invalid type for 'stop': expected a string or an array of strings.");
        p.stop.push_back(s.get<std::string>());
      }
    } else {
      bad_field("stop", "Invalid type for 'stop': expected a string or an array of strings, but got {} instead.", type_word(*st));
    }
    for (auto& s : p.stop) {
      if (s.empty()) bad_field("stop", "Invalid 'stop': a stop sequence is empty");
      check_text(s, "stop");
    }
  }
  p.timeout_s = lim.timeout_s;
  p.ignore_eos = f.boolean("ignore_eos").value_or(false);
  f.ignore({"user", "store", "metadata", "service_tier", "parallel_tool_calls", "logit_bias", "suffix", "best_of"});
  if (f.j.contains("logit_bias") && !f.j["logit_bias"].is_null() && !f.j["logit_bias"].empty())
    bad_field("logit_bias", "'logit_bias' is not supported by this server");
  if (f.j.contains("best_of") && !f.j["best_of"].is_null() && f.j["best_of"] != 1)
    bad_field("best_of", "'best_of' other than 1 is not supported by this server");
  if (f.j.contains("suffix") && !f.j["suffix"].is_null()) bad_field("suffix", "'suffix' is not supported by this server");
}

void parse_stream(Fields& f, bool& stream, bool& include_usage) {
  stream = f.boolean("stream").value_or(false);
  include_usage = true;
  if (const json* so = f.any("stream_options")) {
    if (!so->is_object()) bad_field("stream_options", "Invalid type for 'stream_options': expected an object.");
    if (!stream) bad_field("stream_options", "'stream_options' is only allowed when 'stream' is true");
    for (auto& [k, v] : so->items()) {
      if (k != "include_usage") bad_field("stream_options." + k, "Unrecognized argument: 'stream_options.{}'", k);
      if (!v.is_boolean()) bad_field("stream_options.include_usage", "Invalid type for 'stream_options.include_usage': expected a boolean.");
      include_usage = v.get<bool>();
    }
  }
}

std::string model_field(Fields& f) {
  auto m = f.string("model");
  if (!m) throw ApiError(400, "Missing required parameter: 'model'.", "invalid_request_error", "model", "missing_required_parameter");
  return *m;
}

}  // namespace

void fit_to_context(GenParams& p, const Limits& lim, bool max_tokens_given, const std::string& field) {
  int n = (int)p.prompt.size();
  if (n == 0) bad_field(field, "Invalid '{}': the prompt is empty and the model adds no BOS token", field);
  if (n >= lim.n_ctx)
    throw ApiError(400,
                   fmt::format("This model's maximum context length is {} tokens. However, your prompt has {} tokens.",
                               lim.n_ctx, n),
                   "invalid_request_error", field, "context_length_exceeded");
  if (!max_tokens_given) p.max_tokens = std::min(lim.n_ctx - n, lim.max_tokens);
  if (p.grammar) {
    int need = p.grammar->nodes[p.grammar->root].min_bytes;
    if (p.max_tokens < need)
      bad_field("max_tokens", "Invalid 'max_tokens': {} is too few for the shortest output the response_format allows ({} tokens)",
                p.max_tokens, need);
    if (lim.n_ctx - n < need)
      throw ApiError(400, fmt::format("The prompt leaves {} tokens of context, fewer than the shortest output the response_format allows ({})",
                                      lim.n_ctx - n, need),
                     "invalid_request_error", field, "context_length_exceeded");
  }
}

CompletionRequest parse_completion(const json& body, const Model& m, const Limits& lim, const TokenTrie* trie) {
  (void)trie;
  Fields f(body);
  CompletionRequest r;
  r.model = model_field(f);
  const json* pr = f.any("prompt");
  if (!pr) throw ApiError(400, "Missing required parameter: 'prompt'.", "invalid_request_error", "prompt", "missing_required_parameter");
  auto add_text = [&](const std::string& s) {
    check_text(s, "prompt");
    r.prompt_texts.push_back(s);
    r.prompts.push_back(m.tok.encode(s, true));
  };
  auto token_list = [&](const json& a) {
    std::vector<int32_t> t;
    for (auto& x : a) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= m.cfg.n_vocab)
        bad_field("prompt", "Invalid 'prompt': token ids must be integers in [0, {})", m.cfg.n_vocab);
      t.push_back((int32_t)x.get<int64_t>());
    }
    r.prompt_texts.push_back(m.tok.decode(t));
    r.prompts.push_back(std::move(t));
  };
  if (pr->is_string()) {
    add_text(pr->get<std::string>());
  } else if (pr->is_array() && !pr->empty()) {
    if ((*pr)[0].is_number_integer()) {
      token_list(*pr);
    } else {
      for (auto& x : *pr) {
        if (x.is_string()) add_text(x.get<std::string>());
        else if (x.is_array() && !x.empty()) token_list(x);
        else bad_field("prompt", "Invalid type for 'prompt': expected a string, an array of strings, an array of token ids or an array of such arrays.");
      }
    }
  } else {
    bad_field("prompt", "Invalid type for 'prompt': expected a string, an array of strings, an array of token ids or an array of such arrays.");
  }
  if (r.prompts.size() > 16) bad_field("prompt", "Invalid 'prompt': at most 16 prompts per request, got {}", r.prompts.size());
  r.n = (int)f.integer("n", 1, lim.max_n).value_or(1);
  r.echo = f.boolean("echo").value_or(false);
  auto mt = f.integer("max_tokens", 0, lim.max_tokens);
  r.params.max_tokens = (int)mt.value_or(16);  // OpenAI's default for completions
  if (auto lp = f.integer("logprobs", 0, 20)) r.params.logprobs = (int)*lp;
  parse_sampling(f, r.params, lim);
  parse_stream(f, r.stream, r.include_usage);
  r.params.grammar = parse_response_format(body);
  f.ignore({"response_format"});
  r.lora = f.string("lora").value_or("");
  f.reject_unknown();
  r.params.score_prompt = r.echo && r.params.logprobs >= 0;
  if (r.stream && r.params.score_prompt)
    bad_field("echo", "'echo' with 'logprobs' is not supported when streaming");
  if (r.params.max_tokens == 0 && !r.echo)
    bad_field("max_tokens", "Invalid 'max_tokens': 0 generates nothing (allowed only with 'echo')");
  for (auto& p : r.prompts) {
    GenParams g = r.params;
    g.prompt = p;
    fit_to_context(g, lim, true, "prompt");
  }
  return r;
}

ChatRequest parse_chat(const json& body, const Model& m, const Limits& lim) {
  (void)m;
  Fields f(body);
  ChatRequest r;
  r.model = model_field(f);
  const json* msgs = f.any("messages");
  if (!msgs) throw ApiError(400, "Missing required parameter: 'messages'.", "invalid_request_error", "messages", "missing_required_parameter");
  if (!msgs->is_array() || msgs->empty())
    bad_field("messages", "Invalid 'messages': expected a non-empty array of messages.");
  static const std::vector<std::string> roles = {"system", "developer", "user", "assistant", "tool"};
  json clean = json::array();
  for (size_t i = 0; i < msgs->size(); i++) {
    const json& msg = (*msgs)[i];
    std::string at = fmt::format("messages[{}]", i);
    if (!msg.is_object()) bad_field(at, "Invalid type for '{}': expected an object, but got {} instead.", at, type_word(msg));
    if (!msg.contains("role") || !msg["role"].is_string()) bad_field(at + ".role", "Missing required parameter: '{}.role'.", at);
    std::string role = msg["role"];
    if (std::find(roles.begin(), roles.end(), role) == roles.end())
      bad_field(at + ".role", "Invalid '{}.role': '{}' is not one of system, developer, user, assistant, tool", at, role);
    std::string content;
    if (msg.contains("content") && msg["content"].is_string()) {
      content = msg["content"];
    } else if (msg.contains("content") && msg["content"].is_array()) {
      for (auto& part : msg["content"]) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
          bad_field(at + ".content", "Invalid '{}.content': only text parts ({{\"type\": \"text\", \"text\": ...}}) are supported", at);
        content += part["text"].get<std::string>();
      }
    } else if (!(role == "assistant" && msg.contains("content") && msg["content"].is_null())) {
      bad_field(at + ".content", "Invalid type for '{}.content': expected a string or an array of text parts.", at);
    }
    check_text(content, at + ".content");
    for (auto& [k, v] : msg.items())
      if (k != "role" && k != "content" && k != "name")
        bad_field(at + "." + k, "Unrecognized argument: '{}.{}'", at, k);
    json c = {{"role", role == "developer" ? "system" : role}, {"content", content}};
    if (msg.contains("name") && msg["name"].is_string()) c["name"] = msg["name"];
    clean.push_back(c);
  }
  r.messages = clean;
  r.n = (int)f.integer("n", 1, lim.max_n).value_or(1);
  auto mt = f.integer("max_tokens", 1, lim.max_tokens);
  auto mct = f.integer("max_completion_tokens", 1, lim.max_tokens);
  if (mct) mt = mct;
  r.params.max_tokens = (int)mt.value_or(0);
  r.logprobs = f.boolean("logprobs").value_or(false);
  auto top = f.integer("top_logprobs", 0, 20);
  if (top && !r.logprobs) bad_field("top_logprobs", "'top_logprobs' requires 'logprobs' to be true");
  if (r.logprobs) r.params.logprobs = (int)top.value_or(0);
  parse_sampling(f, r.params, lim);
  parse_stream(f, r.stream, r.include_usage);
  r.params.grammar = parse_response_format(body);
  f.ignore({"response_format"});
  if (f.has("tools") || f.has("tool_choice") || f.has("functions"))
    bad_field(f.j.contains("tools") ? "tools" : f.j.contains("tool_choice") ? "tool_choice" : "functions",
              "tool calls are not supported by this server");
  r.lora = f.string("lora").value_or("");
  f.reject_unknown();
  // max_tokens 0 = "not given": fit_to_context fills it in.
  return r;
}

}  // namespace flops::server
