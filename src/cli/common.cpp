#include "cli/common.h"

#include <filesystem>
#include <iostream>
#include <iterator>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mmap_file.h"
#include "core/threads.h"
#include "core/utf8.h"
#include "model/lora_adapter.h"

namespace flops::cli {

void add_model_opts(CLI::App* cmd, ModelOpts& o) {
  cmd->add_option("-m,--model", o.model, "GGUF model file (default: $FLOPS_MODEL or the shipped model)");
  cmd->add_option("-t,--threads", o.threads, "threads (default: all cores)");
  cmd->add_flag("--json", o.json, "print one JSON object on stdout");
  cmd->add_flag("--quiet", o.quiet, "no progress bar and no cost receipt");
  cmd->add_option("--lora", o.lora, "LoRA adapter FILE[:SCALE] applied at run time (repeatable; llama.cpp's adapter GGUF)")
      ->take_all()->expected(1);
}

void add_cache_opts(CLI::App* cmd, ModelOpts& o) {
  o.cache_type_k = o.cache_type_v = "f16";
  cmd->add_option("--cache-type-k", o.cache_type_k, "KV cache type of the keys: f32 or f16 (default f16; also -ctk)");
  cmd->add_option("--cache-type-v", o.cache_type_v, "KV cache type of the values: f32 or f16 (default f16; also -ctv)");
}

KVCacheTypes cache_types(const ModelOpts& o) {
  KVCacheTypes t;
  if (!o.cache_type_k.empty()) t.k = kv_cache_type_from_name(o.cache_type_k, "--cache-type-k");
  if (!o.cache_type_v.empty()) t.v = kv_cache_type_from_name(o.cache_type_v, "--cache-type-v");
  return t;
}

nlohmann::ordered_json kv_cache_json(const Model& m, int n_ctx) {
  nlohmann::ordered_json j;
  j["type_k"] = kv_cache_type_name(m.kv_types.k);
  j["type_v"] = kv_cache_type_name(m.kv_types.v);
  j["bytes"] = kv_cache_bytes(m.cfg, n_ctx, m.kv_types);
  return j;
}

std::string resolve_model_path(const std::string& given, bool quiet) {
  namespace fs = std::filesystem;
  if (!given.empty()) return given;
  auto took = [&](const std::string& path, const char* why) {
    if (!quiet) log::info("model: {} ({})", path, why);
    return path;
  };
  if (const char* env = std::getenv("FLOPS_MODEL"); env && *env) return took(env, "from FLOPS_MODEL");
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  // Installed: PREFIX/bin/flops and PREFIX/share/flops/models/.
  fs::path installed = exe.parent_path().parent_path() / "share" / "flops" / "models" / "flops-a.gguf";
  if (!ec && fs::exists(installed)) return took(installed.lexically_normal().string(), "the installed default");
  // A build tree: the shipped model sits in models/ of the source tree; the binary is in build*/.
  for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    fs::path cand = dir / "models" / "flops-a.gguf";
    if (fs::exists(cand)) return took(cand.string(), "the checkout's default");
  }
  fail("no model given: pass -m MODEL.gguf or set FLOPS_MODEL (no installed default at {} and no checkout's models/flops-a.gguf)",
       installed.lexically_normal().string());
}

int choose_context(const Model& m, int given, int fallback) {
  const int trained = m.cfg.n_ctx_train;
  if (given <= 0) return trained > 0 ? std::min(fallback, trained) : fallback;
  if (trained > 0 && given > trained) {
    if (m.cfg.arch == Arch::GPT2)
      fail("context too long: --ctx-size {} exceeds the model's {} positions", given, trained);
    log::warn("--ctx-size {} exceeds the {} positions the model was trained on: positions past them are "
              "extrapolated and its predictions there are poor",
              given, trained);
  }
  return given;
}

std::unique_ptr<Model> open_model(const ModelOpts& o, bool for_inference) {
  if (o.threads < 0) fail("--threads must be >= 0, got {}", o.threads);
  const KVCacheTypes kv_types = cache_types(o);
  set_threads(o.threads);
  const std::string path = resolve_model_path(o.model, o.json || o.quiet);
  // The adapters are keyed by the tensors' bytes in the file (Weight::key), packed or not.
  auto m = for_inference ? load_for_inference(path) : load_model(path);
  m->kv_types = kv_types;
  m->lora = load_lora_set(*m, o.lora);
  return m;
}


std::string read_input_text(const std::string& prompt, const std::string& file, bool allow_empty) {
  if (!prompt.empty() && !file.empty()) fail("give either -p/--prompt or -f/--file, not both");
  std::string text;
  if (!file.empty()) {
    if (file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      if (!std::filesystem::exists(file)) fail("file not found: '{}'", file);
      text = read_text_file(file);
    }
  } else {
    text = prompt;
  }
  if (text.empty() && !allow_empty) fail("the input text is empty");
  if (text.find('\0') != std::string::npos) fail("the input contains NUL bytes: binary data is not text");
  if (size_t bad = utf8_invalid_offset(text); bad != std::string::npos)
    fail("input text is not valid UTF-8 (byte offset {})", bad);
  return text;
}

bool stdout_is_terminal() { return isatty(STDOUT_FILENO); }
bool stderr_is_terminal() { return isatty(STDERR_FILENO); }

}  // namespace flops::cli
