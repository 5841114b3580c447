#include "harness/cache.h"

#include <filesystem>

#include "core/error.h"
#include "core/mmap_file.h"

namespace flops::harness {

namespace {

// Two independent 64-bit FNV-1a hashes (different offsets) side by side.
std::string hash128(const std::string& s) {
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  for (unsigned char c : s) {
    a = (a ^ c) * 0x100000001b3ull;
    b = (b ^ (unsigned char)(c + 0x5b)) * 0x100000001b3ull;
  }
  return fmt::format("{:016x}{:016x}", a, b);
}

std::string field(const std::string& s) { return std::to_string(s.size()) + ":" + s; }

}  // namespace

RequestCache::RequestCache(const std::string& p) : path(p) {
  if (std::filesystem::exists(path)) {
    std::string text = read_text_file(path);
    size_t i = 0;
    while (i < text.size()) {
      size_t e = text.find('\n', i);
      if (e == std::string::npos) break;  // a torn last line from a crash: ignored, rewritten
      std::string line = text.substr(i, e - i);
      i = e + 1;
      try {
        auto j = nlohmann::json::parse(line);
        if (j.is_object() && j.contains("key") && j.contains("value")) entries[j["key"].get<std::string>()] = j["value"];
      } catch (...) {
        // A damaged line costs one request again, nothing more.
      }
    }
    // Drop a torn tail so that appended lines start on a fresh line.
    if (i < text.size()) {
      std::string good = text.substr(0, i);
      write_file_atomic(path, good.data(), good.size());
    }
  }
  out = std::fopen(path.c_str(), "ab");
  if (!out) fail("--cache: cannot open '{}' for writing", path);
}

RequestCache::~RequestCache() {
  if (out) std::fclose(out);
}

const nlohmann::json* RequestCache::find(const std::string& key) {
  auto it = entries.find(key);
  if (it == entries.end()) return nullptr;
  hits++;
  return &it->second;
}

void RequestCache::put(const std::string& key, const nlohmann::json& value) {
  entries[key] = value;
  std::string line = nlohmann::json{{"key", key}, {"value", value}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) fail("--cache: cannot write to '{}'", path);
  stored++;
}

void RequestCache::flush() {
  if (out) std::fflush(out);
}

std::string ll_key(const std::string& id, const LLRequest& r) {
  return hash128("ll|" + field(id) + field(r.context) + field(r.continuation));
}

std::string gen_key(const std::string& id, const GenRequest& r) {
  std::string s = "gen|" + field(id) + field(r.context) + std::to_string(r.max_gen_toks) + "|";
  for (const auto& u : r.until) s += field(u);
  return hash128(s);
}

nlohmann::json to_json(const LLResult& r) {
  return {{"logprob", r.logprob}, {"greedy", r.is_greedy}, {"tokens", r.prompt_tokens}, {"truncated", r.truncated},
          {"flops", r.flops}, {"joules", r.joules}};
}

nlohmann::json to_json(const GenResult& r) {
  return {{"text", r.text}, {"prompt_tokens", r.prompt_tokens}, {"gen_tokens", r.gen_tokens}, {"truncated", r.truncated},
          {"flops", r.flops}, {"joules", r.joules}};
}

LLResult ll_from_json(const nlohmann::json& j) {
  LLResult r;
  r.logprob = j.value("logprob", 0.0);
  r.is_greedy = j.value("greedy", false);
  r.prompt_tokens = j.value("tokens", (int64_t)0);
  r.truncated = j.value("truncated", false);
  r.flops = j.value("flops", -1.0);
  r.joules = j.value("joules", -1.0);
  return r;
}

GenResult gen_from_json(const nlohmann::json& j) {
  GenResult r;
  r.text = j.value("text", std::string());
  r.prompt_tokens = j.value("prompt_tokens", (int64_t)0);
  r.gen_tokens = j.value("gen_tokens", (int64_t)0);
  r.truncated = j.value("truncated", false);
  r.flops = j.value("flops", -1.0);
  r.joules = j.value("joules", -1.0);
  return r;
}

}  // namespace flops::harness
