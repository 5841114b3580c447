#pragma once
// --cache FILE: answered requests kept on disk so that a rerun (after a crash, a Ctrl-C, or with
// more tasks) answers them from the file instead of the model. One JSON object per line, appended
// and flushed after every batch, so what was answered before a crash is kept; a torn last line is
// ignored. A request's key is a 128-bit hash of the backend (model file, size and window, or
// endpoint and model) and the request itself, so answers of another model are never reused.
#include <cstdio>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "harness/backend.h"

namespace flops::harness {

struct RequestCache {
  std::string path;
  std::unordered_map<std::string, nlohmann::json> entries;
  std::FILE* out = nullptr;
  int64_t hits = 0, stored = 0;

  // Opens (creating when absent) the file and reads what it holds.
  explicit RequestCache(const std::string& path);
  ~RequestCache();
  RequestCache(const RequestCache&) = delete;
  RequestCache& operator=(const RequestCache&) = delete;

  const nlohmann::json* find(const std::string& key);
  void put(const std::string& key, const nlohmann::json& value);
  void flush();
};

std::string ll_key(const std::string& backend_id, const LLRequest& r);
std::string gen_key(const std::string& backend_id, const GenRequest& r);

nlohmann::json to_json(const LLResult& r);
nlohmann::json to_json(const GenResult& r);
LLResult ll_from_json(const nlohmann::json& j);
GenResult gen_from_json(const nlohmann::json& j);

}  // namespace flops::harness
