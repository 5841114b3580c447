// The OpenAI API: /v1/completions, /v1/chat/completions (both streamed as server-sent events
// when asked), /v1/embeddings, /v1/models.
#include <chrono>
#include <ctime>

#include "core/error.h"
#include "core/utf8.h"
#include "server/context.h"
#include "model/embed.h"
#include "server/sse.h"

namespace flops::server {

using nlohmann::json;

namespace {

int64_t unix_now() { return (int64_t)std::time(nullptr); }

// Token text for logprobs: the piece as UTF-8 (bytes that are not valid alone are replaced).
std::string piece_text(const std::string& p) {
  return utf8_invalid_offset(p) == std::string::npos ? p : json(p).dump(-1, ' ', false, json::error_handler_t::replace);
}

json bytes_of(const std::string& p) {
  json b = json::array();
  for (unsigned char ch : p) b.push_back((int)ch);
  return b;
}

json chat_logprobs(const Model& m, const std::vector<TokenInfo>& toks, size_t from, size_t to) {
  json content = json::array();
  for (size_t i = from; i < to; i++) {
    const auto& t = toks[i];
    json top = json::array();
    for (auto& [id, lp] : t.top) {
      std::string p = m.tok.token_to_piece(id);
      top.push_back({{"token", piece_text(p)}, {"logprob", lp}, {"bytes", bytes_of(p)}});
    }
    content.push_back({{"token", piece_text(t.piece)}, {"logprob", t.logprob}, {"bytes", bytes_of(t.piece)}, {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

// Legacy completions logprobs: parallel arrays.
void add_completion_logprobs(const Model& m, json& lp, const std::vector<TokenInfo>& toks, size_t& offset, bool first_null) {
  for (size_t i = 0; i < toks.size(); i++) {
    const auto& t = toks[i];
    lp["tokens"].push_back(piece_text(t.piece));
    lp["token_logprobs"].push_back(first_null && i == 0 ? json(nullptr) : json(t.logprob));
    json top = json::object();
    for (auto& [id, l] : t.top) top[piece_text(m.tok.token_to_piece(id))] = l;
    lp["top_logprobs"].push_back(first_null && i == 0 ? json(nullptr) : top);
    lp["text_offset"].push_back(offset);
    offset += t.piece.size();
  }
}

std::vector<std::shared_ptr<Job>> submit_all(Context& c, const std::vector<GenParams>& ps) {
  std::vector<std::shared_ptr<Job>> jobs;
  for (auto& p : ps) {
    auto j = std::make_shared<Job>();
    j->p = p;
    if (!c.sched.submit(j)) {
      for (auto& k : jobs) k->cancel = true;
      {
        std::lock_guard<std::mutex> lk(c.metrics.mu);
        c.metrics.rejected_busy++;
      }
      throw ApiError(503, "The server is busy: every slot is taken and the queue is full; retry shortly",
                     "server_overloaded", "", "server_busy");
    }
    jobs.push_back(j);
  }
  return jobs;
}

void wait_all(const std::vector<std::shared_ptr<Job>>& jobs) {
  for (auto& j : jobs)
    for (;;) {
      std::unique_lock<std::mutex> lk(j->mu);
      if (j->done) break;
      j->cv.wait_for(lk, std::chrono::milliseconds(500));
    }
}

// A job that did not end normally decides the status of a non-streamed answer.
void check_jobs(const std::vector<std::shared_ptr<Job>>& jobs, const Context& c) {
  for (auto& j : jobs) {
    if (j->finish_reason == "timeout")
      throw ApiError(408, fmt::format("The request timed out after {} s", c.o.timeout_s), "timeout_error", "", "timeout");
    if (j->finish_reason == "cancelled") throw ApiError(503, "The request was cancelled: " + j->error, "server_overloaded");
    if (j->finish_reason == "error") throw ApiError(500, "generation failed: " + j->error, "server_error");
  }
}

json finish_usage(Context& c, const std::vector<std::shared_ptr<Job>>& jobs, double t0, const std::string& label) {
  cost::Receipt r = jobs_receipt(jobs, steady_seconds() - t0, c.usage, label);
  int prompt = 0, completion = 0, cached = 0;
  // The prompt is counted once per distinct prompt: n choices of one prompt share it.
  std::vector<const std::vector<int32_t>*> seen;
  for (auto& j : jobs) {
    completion += j->completion_tokens;
    bool dup = false;
    for (auto* s : seen) dup |= *s == j->p.prompt;
    if (!dup) {
      seen.push_back(&j->p.prompt);
      prompt += j->prompt_tokens;
      cached += j->cached_tokens;
    }
  }
  c.metrics.add_work(prompt, completion, (double)r.flops.total(), r.energy_j, r.co2e_g);
  return usage_json(prompt, completion, cached, r);
}

std::vector<GenParams> choices_of(const GenParams& base, const std::vector<int32_t>& prompt, int n) {
  std::vector<GenParams> ps;
  for (int i = 0; i < n; i++) {
    GenParams p = base;
    p.prompt = prompt;
    p.sp.seed = base.sp.seed + (uint64_t)i;
    ps.push_back(std::move(p));
  }
  return ps;
}

void completions(Context& c, const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req.body);
  CompletionRequest r = parse_completion(body, c.m, c.lim, nullptr);
  r.params.lora = resolve_model(c, r.model, r.lora);
  std::vector<GenParams> ps;
  for (auto& p : r.prompts) {
    auto more = choices_of(r.params, p, r.n);
    ps.insert(ps.end(), more.begin(), more.end());
  }
  const double t0 = steady_seconds();
  auto jobs = submit_all(c, ps);
  const std::string id = random_id("cmpl");
  const int64_t created = unix_now();
  if (r.stream) {
    StreamSpec spec;
    spec.jobs = jobs;
    spec.chunk = [&c, id, created](size_t i, const std::string& text, const std::vector<TokenInfo>& toks, bool,
                                   const std::string& finish) {
      json ch = {{"index", i}, {"text", text}, {"finish_reason", finish.empty() ? json(nullptr) : json(finish)}};
      ch["logprobs"] = nullptr;
      if (!toks.empty()) {
        json lp = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()}, {"text_offset", json::array()}};
        size_t off = 0;
        add_completion_logprobs(c.m, lp, toks, off, false);
        ch["logprobs"] = lp;
      }
      return json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", c.model_id}, {"choices", {ch}}};
    };
    spec.with_logprobs = r.params.logprobs >= 0;
    if (r.include_usage)
      spec.usage = [&c, id, created, t0](const std::vector<std::shared_ptr<Job>>& js) {
        return json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", c.model_id},
                    {"choices", json::array()}, {"usage", finish_usage(c, js, t0, "serve /v1/completions")}};
      };
    start_stream(c, res, std::move(spec));
    return;
  }
  wait_all(jobs);
  check_jobs(jobs, c);
  json choices = json::array();
  for (size_t i = 0; i < jobs.size(); i++) {
    Job& j = *jobs[i];
    const std::string& prompt_text = r.prompt_texts[i / r.n];
    json ch = {{"index", i}, {"text", r.echo ? prompt_text + j.text : j.text}, {"finish_reason", j.finish_reason}};
    if (r.params.logprobs >= 0) {
      json lp = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()}, {"text_offset", json::array()}};
      size_t off = 0;
      if (r.echo) {
        // The first prompt token has no context to be predicted from: null, as OpenAI does.
        std::vector<TokenInfo> pt;
        TokenInfo first;
        first.id = j.p.prompt[0];
        first.piece = c.m.tok.token_to_piece(first.id);
        pt.push_back(first);
        pt.insert(pt.end(), j.prompt_scores.begin(), j.prompt_scores.end());
        add_completion_logprobs(c.m, lp, pt, off, true);
      }
      add_completion_logprobs(c.m, lp, j.tokens, off, false);
      ch["logprobs"] = lp;
    } else {
      ch["logprobs"] = nullptr;
    }
    choices.push_back(ch);
  }
  json out = {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", c.model_id},
              {"choices", choices}, {"usage", finish_usage(c, jobs, t0, "serve /v1/completions")}};
  send_json(res, out);
}

void chat(Context& c, const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req.body);
  ChatRequest r = parse_chat(body, c.m, c.lim);
  r.params.lora = resolve_model(c, r.model, r.lora);
  std::string prompt_text = render_chat(c.chat, r.messages, true);
  GenParams base = r.params;
  bool max_given = base.max_tokens > 0;
  base.prompt = encode_chat(c.m.tok, c.chat, prompt_text);
  for (auto& s : c.chat.stop_strings) base.stop.push_back(s);
  fit_to_context(base, c.lim, max_given, "messages");
  const double t0 = steady_seconds();
  auto jobs = submit_all(c, choices_of(base, base.prompt, r.n));
  const std::string id = random_id("chatcmpl");
  const int64_t created = unix_now();
  if (r.stream) {
    StreamSpec spec;
    spec.jobs = jobs;
    spec.with_logprobs = r.logprobs;
    spec.chunk = [&c, id, created, logprobs = r.logprobs](size_t i, const std::string& text, const std::vector<TokenInfo>& toks,
                                                         bool first, const std::string& finish) {
      json delta = json::object();
      if (first) delta["role"] = "assistant";
      if (finish.empty()) delta["content"] = text;
      json ch = {{"index", i}, {"delta", delta}, {"finish_reason", finish.empty() ? json(nullptr) : json(finish)}};
      ch["logprobs"] = logprobs && !toks.empty() ? chat_logprobs(c.m, toks, 0, toks.size()) : json(nullptr);
      return json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", c.model_id}, {"choices", {ch}}};
    };
    if (r.include_usage)
      spec.usage = [&c, id, created, t0](const std::vector<std::shared_ptr<Job>>& js) {
        return json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", c.model_id},
                    {"choices", json::array()}, {"usage", finish_usage(c, js, t0, "serve /v1/chat/completions")}};
      };
    start_stream(c, res, std::move(spec));
    return;
  }
  wait_all(jobs);
  check_jobs(jobs, c);
  json choices = json::array();
  for (size_t i = 0; i < jobs.size(); i++) {
    Job& j = *jobs[i];
    json ch = {{"index", i},
               {"message", {{"role", "assistant"}, {"content", j.text}, {"refusal", nullptr}}},
               {"finish_reason", j.finish_reason}};
    ch["logprobs"] = r.logprobs ? chat_logprobs(c.m, j.tokens, 0, j.tokens.size()) : json(nullptr);
    choices.push_back(ch);
  }
  json out = {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", c.model_id},
              {"choices", choices}, {"usage", finish_usage(c, jobs, t0, "serve /v1/chat/completions")}};
  send_json(res, out);
}

std::string base64(const std::vector<float>& v) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* b = reinterpret_cast<const unsigned char*>(v.data());
  size_t n = v.size() * sizeof(float);
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t x = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) | (i + 2 < n ? b[i + 2] : 0);
    out += tbl[x >> 18 & 63];
    out += tbl[x >> 12 & 63];
    out += i + 1 < n ? tbl[x >> 6 & 63] : '=';
    out += i + 2 < n ? tbl[x & 63] : '=';
  }
  return out;
}

void embeddings(Context& c, const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req.body);
  Fields f(body);
  auto model = f.string("model");
  if (!model) throw ApiError(400, "Missing required parameter: 'model'.", "invalid_request_error", "model", "missing_required_parameter");
  check_model(c, *model);
  const json* in = f.any("input");
  if (!in) throw ApiError(400, "Missing required parameter: 'input'.", "invalid_request_error", "input", "missing_required_parameter");
  std::string fmt_ = f.string("encoding_format").value_or("float");
  if (fmt_ != "float" && fmt_ != "base64") bad_field("encoding_format", "Invalid 'encoding_format': expected 'float' or 'base64', got '{}'", fmt_);
  if (f.has("dimensions")) bad_field("dimensions", "'dimensions' is not supported: this model's embeddings have {} dimensions", c.m.cfg.n_embd);
  f.ignore({"user"});
  f.reject_unknown();
  std::vector<std::string> texts;
  auto bad = [] { bad_field("input", "Invalid type for 'input': expected a string, an array of strings, an array of token ids or an array of such arrays."); };
  auto from_ids = [&](const json& a) {
    std::vector<int32_t> ids;
    for (auto& x : a) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= c.m.cfg.n_vocab)
        bad_field("input", "Invalid 'input': token ids must be integers in [0, {})", c.m.cfg.n_vocab);
      ids.push_back((int32_t)x.get<int64_t>());
    }
    texts.push_back(c.m.tok.decode(ids));
  };
  if (in->is_string()) texts.push_back(*in);
  else if (in->is_array() && !in->empty() && (*in)[0].is_number_integer()) from_ids(*in);
  else if (in->is_array() && !in->empty()) {
    for (auto& x : *in) {
      if (x.is_string()) texts.push_back(x);
      else if (x.is_array() && !x.empty()) from_ids(x);
      else bad();
    }
  } else bad();
  if (texts.size() > 256) bad_field("input", "Invalid 'input': at most 256 inputs per request, got {}", texts.size());
  int n_tokens = 0;
  for (auto& t : texts) {
    if (size_t b = utf8_invalid_offset(t); b != std::string::npos) bad_field("input", "Invalid 'input': not valid UTF-8 (byte offset {})", b);
    if (t.empty()) bad_field("input", "Invalid 'input': an input is empty");
    n_tokens += (int)std::min<size_t>(c.m.tok.encode(t, true).size(), c.lim.n_ctx);
  }
  const double t0 = steady_seconds();
  std::vector<std::vector<float>> vecs;
  counter::Totals spent;
  double cpu = 0;
  {
    std::lock_guard<std::mutex> lk(c.engine_mu);
    counter::Scope scope;
    auto cpu0 = cost::read_meter().cpu_s;
    vecs = embed_texts(c.m, texts, model_pooling(c.m), true, c.lim.n_ctx);
    spent = scope.elapsed();
    cpu = cost::read_meter().cpu_s - cpu0;
  }
  json data = json::array();
  for (size_t i = 0; i < vecs.size(); i++)
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", fmt_ == "base64" ? json(base64(vecs[i])) : json(vecs[i])}});
  cost::Receipt r = measured_receipt(spent, cpu, steady_seconds() - t0, 0, false, c.usage, "serve /v1/embeddings");
  c.metrics.add_work(n_tokens, 0, (double)r.flops.total(), r.energy_j, r.co2e_g);
  json u = usage_json(n_tokens, 0, 0, r);
  u.erase("completion_tokens");
  send_json(res, {{"object", "list"}, {"data", data}, {"model", c.model_id}, {"usage", u}});
}

json model_card(const Context& c) {
  return {{"id", c.model_id}, {"object", "model"}, {"created", (int64_t)0}, {"owned_by", "flops"},
          {"meta", {{"path", c.m.path}, {"n_params", c.m.n_params()}, {"n_ctx", c.o.n_ctx}, {"n_ctx_train", c.m.cfg.n_ctx_train},
                    {"n_vocab", c.m.cfg.n_vocab}, {"n_embd", c.m.cfg.n_embd}, {"slots", c.o.n_slots}, {"chat_template", c.chat.name}}}};
}

// An adapter of --lora-dir, listed as BASE:NAME (the id a request names it by).
json adapter_card(const Context& c, const std::string& name) {
  return {{"id", c.model_id + ":" + name}, {"object", "model"}, {"created", (int64_t)0}, {"owned_by", "flops"},
          {"parent", c.model_id}, {"meta", {{"adapter", name}}}};
}

}  // namespace

void add_openai_routes(httplib::Server& s, Context& c) {
  s.Post("/v1/completions", wrap(c, "/v1/completions", [&c](auto& q, auto& r) { completions(c, q, r); }));
  s.Post("/v1/chat/completions", wrap(c, "/v1/chat/completions", [&c](auto& q, auto& r) { chat(c, q, r); }));
  s.Post("/v1/embeddings", wrap(c, "/v1/embeddings", [&c](auto& q, auto& r) { embeddings(c, q, r); }));
  s.Get("/v1/models", wrap(c, "/v1/models", [&c](auto&, auto& r) {
          json data = json::array({model_card(c)});
          if (c.loras)
            for (auto& name : c.loras->available()) data.push_back(adapter_card(c, name));
          send_json(r, {{"object", "list"}, {"data", data}});
        }));
  s.Get(R"(/v1/models/(.+))", wrap(c, "/v1/models/id", [&c](auto& q, auto& r) {
          const std::string id = q.matches[1];
          auto lora = resolve_model(c, id, "");
          send_json(r, lora ? adapter_card(c, lora->name) : model_card(c));
        }));
}

}  // namespace flops::server
