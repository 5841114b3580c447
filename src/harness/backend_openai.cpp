// An OpenAI-compatible endpoint (flops serve, llama-server, vLLM, ...).
//
// Log-likelihoods as the harness's local-completions backend gets them: POST /v1/completions
// with the context and continuation as one prompt, echo = true, logprobs = 1, max_tokens = 1,
// temperature 0; the answer's logprobs.token_logprobs of the tokens that start inside the
// continuation (by text_offset) are summed, and the continuation is greedy when each of its
// tokens is the top entry of top_logprobs. Generation: POST /v1/chat/completions with the
// context as one user message (or /v1/completions with it as the prompt), temperature 0,
// `stop` = until; the answer is also cut at the stop strings here, for servers that ignore them.
// Every failure is one line naming the endpoint and what was wrong with its answer.
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "harness/backend.h"
#include "harness/metrics.h"

namespace flops::harness {

namespace {

struct Endpoint {
  std::string origin;  // http://host:port
  std::string prefix;  // path before /v1
};

Endpoint parse_base(std::string base) {
  if (base.rfind("https://", 0) == 0) fail("--api-base '{}': https is not supported (use http on a local network)", base);
  if (base.rfind("http://", 0) != 0) fail("--api-base '{}' must start with http://", base);
  while (!base.empty() && base.back() == '/') base.pop_back();
  for (const char* tail : {"/v1/chat/completions", "/v1/completions", "/v1"}) {
    std::string t = tail;
    if (base.size() > t.size() && base.compare(base.size() - t.size(), t.size(), t) == 0) {
      base.resize(base.size() - t.size());
      break;
    }
  }
  Endpoint e;
  size_t slash = base.find('/', 7);
  e.origin = slash == std::string::npos ? base : base.substr(0, slash);
  e.prefix = slash == std::string::npos ? "" : base.substr(slash);
  if (e.origin.size() <= 7) fail("--api-base '{}' has no host", base);
  return e;
}

std::string snippet(const std::string& s) {
  std::string t = s.substr(0, 80);
  for (auto& c : t)
    if (c == '\n' || c == '\r') c = ' ';
  return t + (s.size() > 80 ? "..." : "");
}

struct ApiBackend : Backend {
  ApiOptions o;
  Endpoint ep;

  explicit ApiBackend(const ApiOptions& opts) : o(opts), ep(parse_base(opts.base)) {
    if (o.model.empty()) fail("--api-base needs --api-model NAME (the model the endpoint serves)");
  }

  std::string describe() const override { return fmt::format("endpoint {} model {}", ep.origin + ep.prefix, o.model); }
  std::string cache_id() const override { return fmt::format("api:{}{}:{}:{}", ep.origin, ep.prefix, o.model, o.chat ? "chat" : "completions"); }
  bool local_compute() const override { return false; }

  nlohmann::json post(const std::string& path, const nlohmann::json& body, const char* need) {
    httplib::Client cli(ep.origin);
    cli.set_connection_timeout(10);
    cli.set_read_timeout(o.timeout_s);
    cli.set_write_timeout(60);
    if (!o.api_key.empty()) cli.set_bearer_token_auth(o.api_key);
    std::string url = ep.origin + ep.prefix + path;
    auto res = cli.Post(ep.prefix + path, body.dump(), "application/json");
    if (!res) {
      std::string why;
      switch (res.error()) {
        case httplib::Error::Connection: why = "connection refused or host unreachable (is the server running?)"; break;
        case httplib::Error::ConnectionTimeout: why = "no connection within 10 s"; break;
        case httplib::Error::Read: why = fmt::format("no complete answer within {} s (--api-timeout)", o.timeout_s); break;
        case httplib::Error::Write: why = "the connection closed while sending the request"; break;
        default: why = httplib::to_string(res.error());
      }
      fail("cannot reach the endpoint {}: {}", url, why);
    }
    nlohmann::json j;
    bool is_json = true;
    try {
      j = nlohmann::json::parse(res->body);
    } catch (...) {
      is_json = false;
    }
    if (res->status != 200) {
      std::string msg = is_json && j.contains("error")
                            ? (j["error"].is_object() && j["error"].contains("message") ? value_text(j["error"]["message"])
                                                                                       : value_text(j["error"]))
                            : snippet(res->body);
      std::string hint;
      if (std::string(need) == "logprobs" && (msg.find("echo") != std::string::npos || msg.find("logprobs") != std::string::npos))
        hint = " (it does not return prompt log-probabilities, which multiple_choice and loglikelihood tasks need; "
               "generate_until tasks work)";
      fail("the endpoint {} answered HTTP {}: {}{}", url, res->status, msg, hint);
    }
    if (!is_json) fail("the endpoint {} answered with something that is not JSON: '{}'", url, snippet(res->body));
    if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty())
      fail("the endpoint {} answered JSON without choices: '{}'", url, snippet(res->body));
    return j;
  }

  // flops serve adds what the answer cost to OpenAI's usage object ("flops", "joules").
  static double usage_cost(const nlohmann::json& j, const char* what) {
    if (j.contains("usage") && j["usage"].is_object() && j["usage"].contains(what) && j["usage"][what].is_number())
      return j["usage"][what].get<double>();
    return -1;
  }

  std::vector<LLResult> loglikelihood(const std::vector<LLRequest>& reqs) override {
    std::vector<LLResult> out(reqs.size());
    if (reqs.empty()) return out;
    nlohmann::json prompts = nlohmann::json::array();
    std::vector<std::pair<size_t, size_t>> spans;  // [start, end) of the continuation, in characters
    for (const auto& r : reqs) {
      std::string ctx = r.context, cont = r.continuation;
      move_trailing_space(ctx, cont);
      if (ctx.empty()) fail("an empty context cannot be scored through an endpoint (its first token has no log-probability)");
      prompts.push_back(ctx + cont);
      spans.push_back({utf8_length(ctx), utf8_length(ctx) + utf8_length(cont)});
    }
    nlohmann::json body = {{"model", o.model}, {"prompt", prompts.size() == 1 ? prompts[0] : prompts},
                           {"max_tokens", 1},  {"temperature", 0},
                           {"echo", true},     {"logprobs", 1},
                           {"seed", o.seed}};
    std::string url = ep.origin + ep.prefix + "/v1/completions";
    nlohmann::json j = post("/v1/completions", body, "logprobs");
    auto& ch = j["choices"];
    if (ch.size() != reqs.size())
      fail("the endpoint {} answered {} choices for {} prompts", url, ch.size(), reqs.size());
    double flops_all = usage_cost(j, "flops"), joules_all = usage_cost(j, "joules");
    for (size_t i = 0; i < reqs.size(); i++) {
      const nlohmann::json* c = &ch[i];
      for (const auto& x : ch)
        if (x.contains("index") && x["index"].is_number_integer() && x["index"].get<size_t>() == i) c = &x;
      const nlohmann::json& lp = c->value("logprobs", nlohmann::json());
      if (!lp.is_object() || !lp.contains("token_logprobs") || !lp.contains("text_offset") || !lp["token_logprobs"].is_array() ||
          !lp["text_offset"].is_array())
        fail("the endpoint {} does not return prompt log-probabilities (no logprobs.token_logprobs and text_offset with "
             "echo = true), which multiple_choice and loglikelihood tasks need; generate_until tasks work",
             url);
      const auto& tl = lp["token_logprobs"];
      const auto& off = lp["text_offset"];
      const nlohmann::json top = lp.value("top_logprobs", nlohmann::json());
      const nlohmann::json toks = lp.value("tokens", nlohmann::json());
      if (off.size() != tl.size()) fail("the endpoint {}: text_offset and token_logprobs differ in length", url);
      LLResult& r = out[i];
      r.is_greedy = true;
      int n = 0;
      // OpenAI's offsets count characters; some servers (flops serve, others) count bytes. They
      // differ only past non-ASCII text, where an offset beyond the prompt's characters says bytes.
      size_t max_off = 0;
      for (const auto& x : off)
        if (x.is_number()) max_off = std::max(max_off, x.get<size_t>());
      std::pair<size_t, size_t> span = spans[i];
      const std::string& whole = prompts[i].get_ref<const std::string&>();
      if (max_off > utf8_length(whole)) {
        std::string ctx = reqs[i].context, cont = reqs[i].continuation;
        move_trailing_space(ctx, cont);
        span = {ctx.size(), ctx.size() + cont.size()};
      }
      for (size_t t = 0; t < tl.size(); t++) {
        if (!off[t].is_number()) fail("the endpoint {}: text_offset[{}] is not a number", url, t);
        size_t at = off[t].get<size_t>();
        if (at < span.first || at >= span.second) continue;
        if (!tl[t].is_number()) fail("the endpoint {}: token_logprobs[{}] is not a number", url, t);
        r.logprob += tl[t].get<double>();
        n++;
        if (top.is_array() && t < top.size() && top[t].is_object() && !top[t].empty() && toks.is_array() && t < toks.size()) {
          std::string best;
          double bv = -1e300;
          for (auto it = top[t].begin(); it != top[t].end(); ++it)
            if (it.value().is_number() && it.value().get<double>() > bv) {
              bv = it.value().get<double>();
              best = it.key();
            }
          if (best != value_text(toks[t])) r.is_greedy = false;
        }
      }
      if (n == 0) fail("the endpoint {}: no echoed token starts inside the continuation '{}'", url, snippet(reqs[i].continuation));
      r.prompt_tokens = (int64_t)tl.size();
      r.flops = flops_all >= 0 ? flops_all / reqs.size() : -1;
      r.joules = joules_all >= 0 ? joules_all / reqs.size() : -1;
    }
    return out;
  }

  std::vector<GenResult> generate(const std::vector<GenRequest>& reqs) override {
    std::vector<GenResult> out;
    for (const auto& q : reqs) {
      nlohmann::json stop = nlohmann::json::array();
      for (size_t k = 0; k < q.until.size() && k < 4; k++) stop.push_back(q.until[k]);  // OpenAI allows 4
      nlohmann::json body = {{"model", o.model}, {"max_tokens", q.max_gen_toks}, {"temperature", 0}, {"seed", o.seed}};
      if (!stop.empty()) body["stop"] = stop;
      std::string path = o.chat ? "/v1/chat/completions" : "/v1/completions";
      if (o.chat) body["messages"] = {{{"role", "user"}, {"content", q.context}}};
      else body["prompt"] = q.context;
      nlohmann::json j = post(path, body, "text");
      const auto& c = j["choices"][0];
      std::string url = ep.origin + ep.prefix + path;
      GenResult g;
      if (o.chat) {
        if (!c.contains("message") || !c["message"].is_object() || !c["message"].contains("content") ||
            !(c["message"]["content"].is_string() || c["message"]["content"].is_null()))
          fail("the endpoint {} answered without choices[0].message.content", url);
        g.text = c["message"]["content"].is_string() ? c["message"]["content"].get<std::string>() : "";
      } else {
        if (!c.contains("text") || !c["text"].is_string()) fail("the endpoint {} answered without choices[0].text", url);
        g.text = c["text"].get<std::string>();
      }
      g.text = cut_at_stop(g.text, q.until);
      if (j.contains("usage") && j["usage"].is_object()) {
        g.prompt_tokens = j["usage"].value("prompt_tokens", 0);
        g.gen_tokens = j["usage"].value("completion_tokens", 0);
      }
      g.flops = usage_cost(j, "flops");
      g.joules = usage_cost(j, "joules");
      out.push_back(std::move(g));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Backend> make_api_backend(const ApiOptions& o) { return std::make_unique<ApiBackend>(o); }

}  // namespace flops::harness
