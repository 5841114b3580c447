#include "server/server.h"

#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/threads.h"
#include "cost/calibrate.h"
#include "server/context.h"

namespace flops::server {

using nlohmann::json;

void send_json(httplib::Response& res, const json& j, int status) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  send_json(res, error_body(e), e.status);
  if (e.status == 503) res.set_header("Retry-After", "1");
}

std::string random_id(const std::string& prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}-{:016x}", prefix, rng());
}

void check_model(const Context& c, const std::string& model) {
  namespace fs = std::filesystem;
  if (model == c.model_id || model == fs::path(c.m.path).filename().string() || model == c.m.path) return;
  throw ApiError(404, fmt::format("The model '{}' does not exist: this server serves '{}'", model, c.model_id),
                 "invalid_request_error", "model", "model_not_found");
}

httplib::Server::Handler wrap(Context& c, const std::string& name, Route r) {
  return [&c, name, r](const httplib::Request& req, httplib::Response& res) {
    c.in_flight++;
    try {
      r(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      // The engine's own checks (bad text, context too long): the request's fault.
      send_error(res, ApiError(400, e.what()));
    } catch (const std::exception& e) {
      log::error("server: {} failed: {}", name, e.what());
      send_error(res, ApiError(500, fmt::format("internal error: {}", e.what()), "server_error"));
    }
    c.metrics.count_request(name, res.status);
    c.in_flight--;
  };
}

namespace {

// httplib listens with a backlog of 5: under 32 concurrent clients new connections would wait
// for SYN retries. Linux lets listen() be called again on the socket to raise it.
struct HttpServer : httplib::Server {
  void raise_backlog(int n) { ::listen(svr_sock_, n); }
};

// Constant time in the length of the given key: every byte is compared whatever matches.
bool same_key(const std::string& given, const std::string& want) {
  unsigned char diff = given.size() != want.size();
  size_t n = std::max(given.size(), want.size());
  for (size_t i = 0; i < n; i++) {
    unsigned char a = i < given.size() ? (unsigned char)given[i] : 0;
    unsigned char b = i < want.size() ? (unsigned char)want[i] : 0;
    diff |= a ^ b;
  }
  return diff == 0;
}

bool is_public(const std::string& path) {
  // The page and its assets hold no data; the page asks for the key and sends it with its calls.
  return path == "/health" || path == "/" || path == "/index.html" || path.rfind("/static/", 0) == 0 ||
         path == "/favicon.ico";
}

}  // namespace

void run_server(const ServerOptions& opt, const std::function<void(int)>& on_listening) {
  // SIGTERM and SIGINT are taken by one thread (sigwait); every other thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  set_threads(opt.threads);
  // Decode steps are small batches: the packed layout makes their products cheaper.
  auto model = load_for_inference(opt.model_path);
  model->lora = load_lora_set(*model, opt.lora);
  model->kv_types = opt.kv_types;
  const Model& m = *model;
  ServerOptions o = opt;
  if (o.n_ctx <= 0) o.n_ctx = m.cfg.n_ctx_train > 0 ? std::min(m.cfg.n_ctx_train, 4096) : 2048;
  if (o.n_slots < 1 || o.n_slots > 256) fail("-np must be in [1, 256], got {}", o.n_slots);

  std::mutex engine_mu;
  SchedulerOptions so;
  so.n_slots = o.n_slots;
  so.n_ctx = o.n_ctx;
  so.max_queue = o.max_queue;
  Scheduler sched(m, so, engine_mu);
  const double sched_kv_bytes = (double)o.n_slots * (double)kv_cache_bytes(m.cfg, o.n_ctx, m.kv_types);

  Context c{m, o, Limits{}, sched, engine_mu, UsageContext{}, ChatTemplate{}, "", 0, {}, {}, {}};
  c.lim.n_ctx = o.n_ctx;
  c.lim.max_tokens = o.max_tokens;
  c.lim.timeout_s = o.timeout_s;
  c.model_id = std::filesystem::path(m.path).stem().string();
  std::unique_ptr<LoraRegistry> loras;
  if (!o.lora_dir.empty()) {
    loras = std::make_unique<LoraRegistry>(m, o.lora_dir, o.lora_cache_bytes);
    c.loras = loras.get();
  }
  c.t_start = steady_seconds();
  c.usage.threads = get_threads();
  {
    const char* env = std::getenv("FLOPS_CARBON");
    c.usage.carbon = !o.carbon.empty() ? o.carbon : env && *env ? env : "us";
    cost::Calibration cal = cost::machine_peak(c.usage.threads);
    c.usage.peak_flops = cal.sgemm_flops;
    c.usage.peak_source = fmt::format("sgemm, {} threads{}", cal.threads, cal.from_cache ? ", calibrated " + cal.measured_at : "");
  }
  try {
    c.chat = chat_template_for(m, o.chat_template);
  } catch (const Error& e) {
    if (!o.chat_template.empty()) throw;
    log::warn("{}; chat uses the built-in chatml template", e.what());
    c.chat = chat_template_for(m, "chatml");
  }

  HttpServer svr;
  const int http_threads = o.http_threads;
  svr.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  svr.set_payload_max_length(o.max_body);
  svr.set_read_timeout(10, 0);
  svr.set_write_timeout(10, 0);
  svr.set_keep_alive_timeout(5);
  svr.set_keep_alive_max_count(100);
  svr.set_tcp_nodelay(true);

  svr.set_pre_routing_handler([&c](const httplib::Request& req, httplib::Response& res) {
    if (!c.o.api_key.empty() && !is_public(req.path)) {
      std::string auth = req.get_header_value("Authorization");
      std::string key = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : req.get_header_value("x-api-key");
      if (!same_key(key, c.o.api_key)) {
        send_error(res, ApiError(401, "Incorrect API key provided: pass it as 'Authorization: Bearer KEY'",
                                 "invalid_request_error", "", "invalid_api_key"));
        c.metrics.count_request("auth", 401);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (c.draining && req.method == "POST") {
      send_error(res, ApiError(503, "The server is shutting down", "server_overloaded"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors httplib answers itself (no route, body too large, bad request line) in OpenAI's shape.
  svr.set_error_handler([&c](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string msg = res.status == 404   ? fmt::format("Unknown request URL: {} {}", req.method, req.path)
                      : res.status == 413 ? fmt::format("The request body is larger than the server's limit of {} bytes", c.o.max_body)
                      : res.status == 405 ? fmt::format("Method {} is not allowed on {}", req.method, req.path)
                                          : fmt::format("HTTP error {}", res.status);
    send_json(res, error_body(res.status, msg, error_type_for(res.status)), res.status);
    c.metrics.count_request("other", res.status);
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "internal error: " + what, "server_error"));
  });

  add_openai_routes(svr, c);
  add_flops_routes(svr, c);
  add_web_routes(svr, c);
  add_search_routes(svr, c);

  int port = o.port;
  if (port == 0) {
    port = svr.bind_to_any_port(o.host);
    if (port < 0) fail("cannot bind to {}", o.host);
  } else if (!svr.bind_to_port(o.host, port)) {
    fail("cannot bind to {}:{} (in use, or not an address of this machine)", o.host, port);
  }
  svr.raise_backlog(512);

  std::atomic<bool> finished{false};
  std::thread signals([&] {
    timespec ts{0, 200 * 1000 * 1000};
    while (!finished) {
      int sig = sigtimedwait(&sigs, nullptr, &ts);
      if (sig != SIGTERM && sig != SIGINT) continue;
      log::info("flops serve: {} received, draining {} in-flight request(s)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                c.in_flight.load());
      c.draining = true;
      // New requests get 503 from here on; those running finish (bounded by their timeouts).
      double t0 = steady_seconds();
      while ((c.in_flight > 0 || !sched.idle()) && steady_seconds() - t0 < o.timeout_s + 5)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      svr.stop();
      return;
    }
  });
  if (!o.quiet)
    log::info("flops serve: {} ({} slots x {} tokens of context, KV cache {}/{} {:.1f} MB) on http://{}:{}/", m.path,
              o.n_slots, o.n_ctx, kv_cache_type_name(m.kv_types.k), kv_cache_type_name(m.kv_types.v),
              sched_kv_bytes / 1e6, o.host, port);
  if (on_listening) on_listening(port);
  svr.listen_after_bind();
  finished = true;
  signals.join();
  sched.stop();
  if (!o.quiet) log::info("flops serve: stopped");
}

}  // namespace flops::server
