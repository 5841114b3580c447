#pragma once
// Many LoRA adapters over one base (S-LoRA, arXiv 2311.03285): `flops serve --lora-dir DIR`
// serves DIR/NAME.gguf to requests that name it ("model": "BASE:NAME", or a "lora": "NAME"
// field). Adapters load on first use and stay in an LRU cache bounded in bytes; a request
// holds its adapter alive while it runs, so eviction never pulls one from under a request.
// Requests for different adapters decode in the same batch: the base products run once, each
// sequence adds its own low-rank products (forward_multi, SeqInput::lora).
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/lora_adapter.h"
#include "model/model.h"

namespace flops::server {

struct Context;

class LoraRegistry {
 public:
  LoraRegistry(const Model& m, std::string dir, size_t max_bytes);
  // The adapter DIR/name.gguf, loaded or from the cache. ApiError 400 for a name that is not a
  // plain file name, 404 when there is no such adapter, 400 when the file does not fit the model.
  std::shared_ptr<const LoraSet> get(const std::string& name);
  std::vector<std::string> available() const;  // the adapter names in the directory
  size_t loaded() const;
  size_t bytes() const;  // of the cached adapters
  uint64_t loads() const;  // files loaded so far (a reload after eviction counts again)

 private:
  const Model& m_;
  std::string dir_;
  size_t max_bytes_;
  mutable std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<const LoraSet>>> lru_;  // most recently used first
  uint64_t loads_ = 0;
};

// The adapters of a request: "model" is the server's model id (or file name or path), optionally
// followed by ":ADAPTER"; a "lora" field names one too (both: they must agree). Null for the
// base (or the server's --lora adapters). ApiError 404/400 otherwise.
std::shared_ptr<const LoraSet> resolve_model(const Context& c, const std::string& model, const std::string& lora_field);

}  // namespace flops::server
