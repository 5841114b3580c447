// flops serve: an OpenAI-compatible server over one model, with a web page (see src/server/).
#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "server/server.h"

namespace flops::cli {

void add_serve(CLI::App& app) {
  auto o = std::make_shared<server::ServerOptions>();
  auto m = std::make_shared<ModelOpts>();
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server with a web page; every answer carries its cost");
  add_model_opts(cmd, *m);
  add_cache_opts(cmd, *m);
  cmd->add_option("--host", o->host, "address to bind (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", o->port, "port (default 8080; 0 = any free port, printed)");
  cmd->add_option("--parallel", o->n_slots, "-np N, slots: requests decoded together in one batch (default 4)");
  cmd->add_option("-c,--ctx-size", o->n_ctx, "context of each slot in tokens (default: the model's training context)");
  cmd->add_option("--api-key", o->api_key, "require 'Authorization: Bearer KEY' on every endpoint but /health (default: $FLOPS_API_KEY)");
  cmd->add_option("--chat-template", o->chat_template, "chat template: a built-in name (chatml) or a .jinja file (default: the model's own, else chatml)");
  cmd->add_option("--max-body", o->max_body, "largest request body in bytes (default 1 MiB)");
  cmd->add_option("--max-tokens", o->max_tokens, "the most tokens a request may ask for (default 4096)");
  cmd->add_option("--max-queue", o->max_queue, "requests waiting for a slot before 503 (default 64)");
  cmd->add_option("--timeout", o->timeout_s, "seconds a request may take (default 600)");
  cmd->add_option("--http-threads", o->http_threads, "connections served at once (default 64)");
  cmd->add_option("--index", o->search_index, "a flops index: POST /v1/search and the page /static/search.html search it");
  cmd->add_option("--lora-dir", o->lora_dir, "directory of LoRA adapters (NAME.gguf) that requests name as \"model\": \"BASE:NAME\" or \"lora\": \"NAME\"");
  auto cache_mib = std::make_shared<int>(256);
  cmd->add_option("--lora-cache-mib", *cache_mib, "MiB of adapters kept loaded, least recently used dropped first (default 256)");
  cmd->add_option("--carbon", o->carbon, "grid intensity for receipts: a region or e.g. 429 g/kWh (default $FLOPS_CARBON or us)");
  cmd->callback([o, m, cache_mib] {
    if (m->threads < 0) fail("--threads must be >= 0, got {}", m->threads);
    if (o->port < 0 || o->port > 65535) fail("--port must be in [0, 65535], got {}", o->port);
    if (o->n_ctx < 0) fail("--ctx-size must be >= 0, got {}", o->n_ctx);
    if (o->max_tokens < 1) fail("--max-tokens must be >= 1, got {}", o->max_tokens);
    if (o->max_queue < 0) fail("--max-queue must be >= 0, got {}", o->max_queue);
    if (o->timeout_s <= 0) fail("--timeout must be > 0, got {}", o->timeout_s);
    if (o->http_threads < 2) fail("--http-threads must be >= 2, got {}", o->http_threads);
    if (o->max_body < 64) fail("--max-body must be >= 64 bytes, got {}", o->max_body);
    if (o->api_key.empty())
      if (const char* k = std::getenv("FLOPS_API_KEY"); k && *k) o->api_key = k;
    o->model_path = resolve_model_path(m->model, m->json || m->quiet);
    if (*cache_mib < 1) fail("--lora-cache-mib must be >= 1, got {}", *cache_mib);
    o->lora_cache_bytes = (size_t)*cache_mib << 20;
    o->lora = m->lora;
    o->kv_types = cache_types(*m);
    o->threads = m->threads;
    o->quiet = m->quiet;
    server::run_server(*o, [o](int port) {
      // The line scripts wait for; stdout, flushed, whatever the log level.
      std::printf("listening on http://%s:%d/\n", o->host.c_str(), port);
      std::fflush(stdout);
    });
  });
}

}  // namespace flops::cli
