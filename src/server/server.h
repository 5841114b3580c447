#pragma once
// `flops serve`: an OpenAI-compatible HTTP server over one model, with continuous batching, a
// cost receipt in every answer, flops's own detection/scoring/estimation endpoints and a web
// page. Bound to loopback unless told otherwise.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "model/kv_cache.h"

namespace flops::server {

struct ServerOptions {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (printed)
  int n_slots = 4;             // -np: sequences decoded together
  int n_ctx = 0;               // per slot; 0: the model's training context
  std::string api_key;         // required on every endpoint but /health when set
  std::string chat_template;   // "" = the model's own, else chatml if it has none
  size_t max_body = 1 << 20;   // bytes; larger bodies get 413
  int max_tokens = 4096;       // the most a request may ask for
  int max_queue = 64;          // waiting requests beyond this get 503
  double timeout_s = 600;      // per request
  int threads = 0;             // compute threads (0: all cores)
  int http_threads = 64;       // connections served at once
  std::string carbon;          // grid intensity for receipts ("" = $FLOPS_CARBON or us)
  std::string search_index;    // flops index file for POST /v1/search ("" = none)
  bool quiet = false;
  std::vector<std::string> lora;   // --lora FILE[:SCALE]: applied to every request
  std::string lora_dir;            // --lora-dir: adapters requests name ("model": "BASE:NAME")
  size_t lora_cache_bytes = 256u << 20;  // --lora-cache-mib: adapters kept loaded (LRU)
  KVCacheTypes kv_types;           // -ctk/-ctv: the slots' KV caches (the command's default: F16)
};

// Loads the model, serves until SIGTERM/SIGINT (then drains in-flight requests) and returns.
// on_listening(port) is called once the socket accepts connections.
void run_server(const ServerOptions& o, const std::function<void(int)>& on_listening = {});

}  // namespace flops::server
