#include "server/lora_registry.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "server/context.h"

namespace flops::server {

namespace fs = std::filesystem;

LoraRegistry::LoraRegistry(const Model& m, std::string dir, size_t max_bytes) : m_(m), dir_(std::move(dir)), max_bytes_(max_bytes) {
  if (!fs::is_directory(dir_)) fail("--lora-dir '{}' is not a directory", dir_);
}

std::shared_ptr<const LoraSet> LoraRegistry::get(const std::string& name) {
  const bool plain = !name.empty() && name.size() <= 200 && name[0] != '.' &&
                     std::all_of(name.begin(), name.end(), [](char ch) {
                       return std::isalnum((unsigned char)ch) || ch == '-' || ch == '_' || ch == '.';
                     });
  if (!plain)
    throw ApiError(400, fmt::format("Invalid adapter name '{}': letters, digits, '-', '_' and '.' only", name),
                   "invalid_request_error", "model", "invalid_value");
  // Loading happens under the lock: an adapter is read once however many requests ask for it
  // at once (a rank-8 adapter of model A takes milliseconds).
  std::lock_guard<std::mutex> lk(mu_);
  for (auto it = lru_.begin(); it != lru_.end(); ++it)
    if (it->first == name) {
      lru_.splice(lru_.begin(), lru_, it);
      return it->second;
    }
  const std::string path = dir_ + "/" + name + ".gguf";
  if (!fs::is_regular_file(path))
    throw ApiError(404, fmt::format("The adapter '{}' does not exist in this server's adapter directory", name),
                   "invalid_request_error", "model", "model_not_found");
  std::shared_ptr<const LoraSet> set;
  try {
    set = make_lora_set(m_, {{std::make_shared<const LoraAdapter>(load_lora_adapter(path)), 1.0f}}, name);
  } catch (const Error& e) {
    throw ApiError(400, fmt::format("The adapter '{}' cannot be used: {}", name, e.what()), "invalid_request_error", "model");
  }
  loads_++;
  lru_.emplace_front(name, set);
  size_t total = 0;
  for (auto& [n, s] : lru_) total += s->bytes();
  while (lru_.size() > 1 && total > max_bytes_) {
    total -= lru_.back().second->bytes();
    lru_.pop_back();
  }
  return set;
}

std::vector<std::string> LoraRegistry::available() const {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir_))
    if (e.is_regular_file() && e.path().extension() == ".gguf") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

size_t LoraRegistry::loaded() const {
  std::lock_guard<std::mutex> lk(mu_);
  return lru_.size();
}

uint64_t LoraRegistry::loads() const {
  std::lock_guard<std::mutex> lk(mu_);
  return loads_;
}

size_t LoraRegistry::bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  size_t n = 0;
  for (auto& [name, s] : lru_) n += s->bytes();
  return n;
}

std::shared_ptr<const LoraSet> resolve_model(const Context& c, const std::string& model, const std::string& lora_field) {
  std::string base = model, adapter;
  const size_t colon = model.rfind(':');
  if (colon != std::string::npos && c.loras) {
    base = model.substr(0, colon);
    adapter = model.substr(colon + 1);
  }
  check_model(c, base);
  if (!lora_field.empty()) {
    if (!adapter.empty() && adapter != lora_field)
      throw ApiError(400, fmt::format("'model' names the adapter '{}' but 'lora' names '{}'", adapter, lora_field),
                     "invalid_request_error", "lora", "invalid_value");
    adapter = lora_field;
  }
  if (adapter.empty()) return nullptr;
  if (!c.loras)
    throw ApiError(400, "This server has no adapters: start it with --lora-dir DIR", "invalid_request_error", "lora",
                   "invalid_value");
  return c.loras->get(adapter);
}

}  // namespace flops::server
