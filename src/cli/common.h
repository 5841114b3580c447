#pragma once
// Flags and helpers shared by the commands that run a model.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"

namespace flops::cli {

struct ModelOpts {
  std::string model;
  int threads = 0;
  bool json = false;
  bool quiet = false;
  std::vector<std::string> lora;  // --lora FILE[:SCALE], applied at run time
  // -ctk/-ctv (add_cache_opts): KV cache types; empty (commands without the flags): F32.
  std::string cache_type_k, cache_type_v;
};

// Adds -m/--model, -t/--threads, --json, --quiet, --lora.
void add_model_opts(CLI::App* cmd, ModelOpts& o);
// Adds -ctk/--cache-type-k and -ctv/--cache-type-v (f32 or f16; default f16, as llama.cpp's) for
// a command that runs inference with a KV cache; open_model applies them (Model::kv_types).
void add_cache_opts(CLI::App* cmd, ModelOpts& o);
// The cache types the flags name (F32 for flags not given to the command); bad names fail.
KVCacheTypes cache_types(const ModelOpts& o);
// The KV cache of n_ctx slots as commands report it: {"type_k", "type_v", "bytes"}.
nlohmann::ordered_json kv_cache_json(const Model& m, int n_ctx);
// The model path: --model, else $FLOPS_MODEL, else the installed default
// (share/flops/models/flops-a.gguf beside the installed binary), else the checkout's
// models/flops-a.gguf. Says on stderr which it took (unless quiet, or given with --model).
std::string resolve_model_path(const std::string& given, bool quiet = false);
// Sets threads and loads the model, with the --lora adapters attached (model->lora). For
// inference (the default) the matrices are repacked for the packed kernels (load_for_inference);
// a command that only inspects the file passes false.
std::unique_ptr<Model> open_model(const ModelOpts& o, bool for_inference = true);
// Text from -p or -f (exactly one), or "-" for stdin; checks it is valid UTF-8 and not empty.
std::string read_input_text(const std::string& prompt, const std::string& file, bool allow_empty = false);
// The window a command runs: --ctx-size when given (> 0), else `fallback` capped at the
// positions the model was trained on. Past those, RoPE positions are extrapolated and scores
// degrade (a warning says so); GPT-2's learned position table simply ends there (an error).
int choose_context(const Model& m, int given, int fallback);
bool stdout_is_terminal();
bool stderr_is_terminal();

}  // namespace flops::cli
