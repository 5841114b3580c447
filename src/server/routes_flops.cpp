// llama.cpp's /health, /metrics, /tokenize, /detokenize and flops's own /v1/detect, /v1/score,
// /v1/estimate.
#include <fmt/format.h>

#include "core/error.h"
#include "core/utf8.h"
#include "cost/estimate.h"
#include "detect/detector.h"
#include "detect/report.h"
#include "server/context.h"

namespace flops::server {

using nlohmann::json;

namespace {

std::string text_field(Fields& f, size_t max_bytes) {
  auto t = f.string("text");
  if (!t) t = f.string("input");
  if (!t) throw ApiError(400, "Missing required parameter: 'text'.", "invalid_request_error", "text", "missing_required_parameter");
  if (t->empty()) bad_field("text", "Invalid 'text': the text is empty");
  if (t->size() > max_bytes) bad_field("text", "Invalid 'text': {} bytes, more than the {} this endpoint takes", t->size(), max_bytes);
  return *t;
}

// Runs engine work under the engine lock and measures what it cost.
template <typename F>
cost::Receipt measure(Context& c, const std::string& label, F&& work) {
  const double t0 = steady_seconds();
  counter::Totals spent;
  double cpu = 0;
  {
    std::lock_guard<std::mutex> lk(c.engine_mu);
    double cpu0 = cost::read_meter().cpu_s;
    counter::Scope scope;
    work();
    spent = scope.elapsed();
    cpu = cost::read_meter().cpu_s - cpu0;
  }
  cost::Receipt r = measured_receipt(spent, cpu, steady_seconds() - t0, 0, false, c.usage, label);
  return r;
}

void detect_route(Context& c, const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req.body);
  Fields f(body);
  std::string text = text_field(f, 256 * 1024);
  std::string method_s = f.string("method").value_or("fast-detectgpt");
  detect::Method method;
  try {
    method = detect::parse_method(method_s);
  } catch (const Error& e) {
    bad_field("method", "Invalid 'method': {}", e.what());
  }
  if (method == detect::Method::Binoculars)
    bad_field("method", "Invalid 'method': binoculars needs two models and this server serves one (use ppl or fast-detectgpt)");
  int min_tokens = (int)f.integer("min_tokens", 1, 100000).value_or(64);
  int max_tokens = (int)f.integer("max_tokens", 0, 100000).value_or(0);
  f.ignore({"model"});
  f.reject_unknown();
  std::string cal_path = detect::calibration_path(c.m.path);
  std::string key = detect::calibration_key(method, "");
  detect::Calibration cal = detect::load_calibration(cal_path, key).value_or(detect::default_calibration(method));
  detect::Detection d;
  detect::Analysis a;
  cost::Receipt r = measure(c, "serve /v1/detect", [&] {
    detect::AnalyzeOptions ao;
    ao.n_ctx = std::min(512, c.m.cfg.n_ctx_train > 0 ? c.m.cfg.n_ctx_train : 512);
    ao.max_tokens = max_tokens;
    ao.moments = detect::needs_moments(method);
    a = detect::analyze(c.m, nullptr, text, ao);
    d = detect::decide(method, a, cal, min_tokens);
  });
  json j = detect::to_json(d, text);
  j["calibration_file"] = cal.calibrated ? cal_path : "";
  j["model"] = c.model_id;
  c.metrics.add_work(a.tokens.size(), 0, (double)r.flops.total(), r.energy_j, r.co2e_g);
  json u = usage_json((int)a.tokens.size(), 0, 0, r);
  u.erase("completion_tokens");
  j["usage"] = u;
  send_json(res, j);
}

void score_route(Context& c, const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req.body);
  Fields f(body);
  std::string text = text_field(f, 256 * 1024);
  int max_tokens = (int)f.integer("max_tokens", 0, 100000).value_or(0);
  bool with_tokens = f.boolean("tokens").value_or(true);
  f.ignore({"model"});
  f.reject_unknown();
  detect::Analysis a;
  cost::Receipt r = measure(c, "serve /v1/score", [&] {
    detect::AnalyzeOptions ao;
    ao.n_ctx = std::min(512, c.m.cfg.n_ctx_train > 0 ? c.m.cfg.n_ctx_train : 512);
    ao.max_tokens = max_tokens;
    ao.moments = false;
    a = detect::analyze(c.m, nullptr, text, ao);
  });
  json j = detect::analysis_json(a, c.m.tok, text, with_tokens);
  j["model"] = c.model_id;
  c.metrics.add_work(a.tokens.size(), 0, (double)r.flops.total(), r.energy_j, r.co2e_g);
  json u = usage_json((int)a.tokens.size(), 0, 0, r);
  u.erase("completion_tokens");
  j["usage"] = u;
  send_json(res, j);
}

// The same options as `flops estimate`, as JSON fields: {"preset": "gpt3", "params": "175B", ...}.
void estimate_route(Context& c, const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req.body);
  static const std::vector<std::string> keys = {
      "preset", "params", "config", "tokens", "seq-len", "infer-tokens", "context", "budget", "tokens-per-param",
      "hardware", "precision", "devices", "mfu", "sustained", "power", "pue", "carbon", "price", "rent", "currency",
      "duration", "claim", "watts-per-core"};
  cost::Args args;
  for (auto& [k, v] : body.items()) {
    std::string key = k;
    for (char& ch : key)
      if (ch == '_') ch = '-';
    if (key == "model") bad_field(k, "'model' (a GGUF file) is not available over HTTP: give 'params' or 'config'");
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      throw ApiError(400, fmt::format("Unrecognized request argument supplied: {}", k), "invalid_request_error", k, "unknown_parameter");
    if (v.is_null()) continue;
    if (v.is_string()) args.emplace_back(key, v.get<std::string>());
    else if (v.is_number()) args.emplace_back(key, v.is_number_integer() ? std::to_string(v.get<int64_t>()) : fmt::format("{}", v.get<double>()));
    else bad_field(k, "Invalid type for '{}': expected a string or a number", k);
  }
  cost::Estimate e;
  try {
    e = cost::estimate(cost::make_input(args));
  } catch (const Error& err) {
    // make_input names the option as on the command line (--params): point at the field.
    std::string msg = err.what(), field;
    for (auto& [k, v] : args)
      if (msg.find("--" + k) != std::string::npos) field = k;
    throw ApiError(400, msg, "invalid_request_error", field, "invalid_value");
  }
  send_json(res, cost::to_json(e));
}

void presets_route(Context&, const httplib::Request&, httplib::Response& res) {
  json p = json::array();
  for (auto& name : cost::preset_names()) p.push_back({{"name", name}, {"title", cost::preset(name).title}});
  send_json(res, {{"presets", p}});
}

void tokenize_route(Context& c, const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req.body);
  Fields f(body);
  auto content = f.string("content");
  if (!content) throw ApiError(400, "Missing required parameter: 'content'.", "invalid_request_error", "content", "missing_required_parameter");
  bool add_special = f.boolean("add_special").value_or(false);
  bool parse_special = f.boolean("parse_special").value_or(false);
  bool with_pieces = f.boolean("with_pieces").value_or(false);
  f.reject_unknown();
  auto ids = c.m.tok.encode(*content, add_special, parse_special);
  json toks = json::array();
  for (int32_t id : ids) {
    if (!with_pieces) {
      toks.push_back(id);
      continue;
    }
    std::string p = c.m.tok.token_to_piece(id);
    if (utf8_invalid_offset(p) == std::string::npos) {
      toks.push_back({{"id", id}, {"piece", p}});
    } else {
      json bytes = json::array();
      for (unsigned char ch : p) bytes.push_back((int)ch);
      toks.push_back({{"id", id}, {"piece", bytes}});
    }
  }
  send_json(res, {{"tokens", toks}});
}

void detokenize_route(Context& c, const httplib::Request& req, httplib::Response& res) {
  json body = parse_body(req.body);
  Fields f(body);
  const json* t = f.any("tokens");
  if (!t) throw ApiError(400, "Missing required parameter: 'tokens'.", "invalid_request_error", "tokens", "missing_required_parameter");
  if (!t->is_array()) bad_field("tokens", "Invalid type for 'tokens': expected an array of token ids");
  f.reject_unknown();
  std::vector<int32_t> ids;
  for (auto& x : *t) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= c.m.cfg.n_vocab)
      bad_field("tokens", "Invalid 'tokens': token ids must be integers in [0, {})", c.m.cfg.n_vocab);
    ids.push_back((int32_t)x.get<int64_t>());
  }
  send_json(res, {{"content", c.m.tok.decode(ids)}});
}

}  // namespace

void add_flops_routes(httplib::Server& s, Context& c) {
  s.Get("/health", wrap(c, "/health", [&c](auto&, auto& r) {
          if (c.draining) send_json(r, {{"status", "draining"}}, 503);
          else send_json(r, {{"status", "ok"}, {"slots_idle", c.o.n_slots - c.sched.active()}, {"slots_processing", c.sched.active()}});
        }));
  s.Get("/metrics", wrap(c, "/metrics", [&c](auto&, auto& r) {
          Gauges g;
          g.queue_depth = c.sched.queued();
          g.slots_busy = c.sched.active();
          g.slots_total = c.o.n_slots;
          g.decode_tokens_per_s = c.sched.decode_rate();
          g.steps = c.sched.steps();
          g.max_adapters_per_step = c.sched.max_adapters_per_step();
          if (c.loras) {
            g.adapters_loaded = c.loras->loaded();
            g.adapter_bytes = c.loras->bytes();
            g.adapter_loads = c.loras->loads();
          }
          g.uptime_s = steady_seconds() - c.t_start;
          r.set_content(prometheus_text(c.metrics, g), "text/plain; version=0.0.4");
        }));
  s.Post("/tokenize", wrap(c, "/tokenize", [&c](auto& q, auto& r) { tokenize_route(c, q, r); }));
  s.Post("/detokenize", wrap(c, "/detokenize", [&c](auto& q, auto& r) { detokenize_route(c, q, r); }));
  s.Post("/v1/detect", wrap(c, "/v1/detect", [&c](auto& q, auto& r) { detect_route(c, q, r); }));
  s.Post("/v1/score", wrap(c, "/v1/score", [&c](auto& q, auto& r) { score_route(c, q, r); }));
  s.Post("/v1/estimate", wrap(c, "/v1/estimate", [&c](auto& q, auto& r) { estimate_route(c, q, r); }));
  s.Get("/v1/estimate/presets", wrap(c, "/v1/estimate/presets", [&c](auto& q, auto& r) { presets_route(c, q, r); }));
}

}  // namespace flops::server
