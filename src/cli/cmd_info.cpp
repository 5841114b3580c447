// flops info MODEL: what a GGUF model is.
#include <fmt/format.h>
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/threads.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace flops::cli {

namespace {

// A GGUF with no tensors (a tokenizer shipped on its own, like models/flops-tok4k.gguf):
// what the tokenizer is, instead of failing to load a model.
void describe_tokenizer_file(const std::string& path, bool json) {
  const GGUFFile g = gguf_open(path);
  const Tokenizer tok = Tokenizer::from_gguf(g);
  int n_control = 0, n_user = 0, n_byte = 0;
  for (TokenType t : tok.token_types()) {
    n_control += t == TokenType::Control;
    n_user += t == TokenType::UserDefined;
    n_byte += t == TokenType::Byte;
  }
  const uint64_t n_merges = g.find("tokenizer.ggml.merges") ? g.array_size("tokenizer.ggml.merges") : 0;
  nlohmann::json j;
  j["path"] = path;
  j["kind"] = "tokenizer";
  j["name"] = g.get_string("general.name", "");
  j["gguf_version"] = g.version;
  j["file_bytes"] = g.size;
  j["metadata_keys"] = g.kv_order.size();
  j["tokenizer"] = {{"model", tok.model_name()}, {"pre", tok.pre_name()}, {"n_vocab", tok.n_vocab()},
                    {"merges", n_merges},        {"bos", tok.bos()},       {"eos", tok.eos()},
                    {"add_bos", tok.add_bos_default()}, {"control_tokens", n_control},
                    {"user_defined_tokens", n_user}, {"byte_tokens", n_byte}};
  if (json) {
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("file           {} (GGUF v{}, {} bytes, {} metadata keys, no tensors)\n", path, g.version, g.size,
             g.kv_order.size());
  if (!j["name"].get<std::string>().empty()) fmt::print("name           {}\n", j["name"].get<std::string>());
  fmt::print("kind           tokenizer only: no model weights, usable with tokenize and as a tokenizer\n");
  fmt::print("tokenizer      {} (pre: {}), {} tokens, {} merges\n", tok.model_name(), tok.pre_name(), tok.n_vocab(),
             n_merges);
  fmt::print("special        BOS {} EOS {}, add BOS: {}; {} control, {} user-defined, {} byte tokens\n", tok.bos(),
             tok.eos(), tok.add_bos_default() ? "yes" : "no", n_control, n_user, n_byte);
}

}  // namespace

void add_info(CLI::App& app) {
  auto o = std::make_shared<ModelOpts>();
  auto* cmd = app.add_subcommand("info", "architecture, parameters, tensor types, file size and tokenizer of a model");
  cmd->add_option("model", o->model, "GGUF model file");
  add_model_opts(cmd, *o);
  cmd->callback([o] {
    const std::string path = resolve_model_path(o->model, o->json || o->quiet);
    if (gguf_open(path).tensors.empty()) {
      describe_tokenizer_file(path, o->json);
      return;
    }
    ModelOpts mo = *o;
    mo.model = path;
    auto m = open_model(mo, false);  // inspects the file: nothing to repack
    const ModelConfig& c = m->cfg;
    struct TypeCount {
      int tensors = 0;
      int64_t elements = 0;
      uint64_t bytes = 0;
    };
    std::map<std::string, TypeCount> types;
    uint64_t tensor_bytes = 0;
    for (auto& t : m->gguf.tensors) {
      auto& e = types[std::string(dtype_name(t.type))];
      e.tensors++;
      e.elements += (int64_t)t.n_elements;
      e.bytes += t.n_bytes;
      tensor_bytes += t.n_bytes;
    }
    const double bpw = 8.0 * (double)tensor_bytes / (double)std::max<int64_t>(1, m->n_params());
    nlohmann::json j;
    j["path"] = m->path;
    j["architecture"] = c.arch_name;
    j["name"] = m->gguf.get_string("general.name", "");
    j["gguf_version"] = m->gguf.version;
    j["file_bytes"] = m->file_size;
    j["parameters"] = m->n_params();
    j["parameters_matmul"] = c.n_params_matmul();
    j["flops_per_token"] = 2.0 * (double)c.n_params_matmul();
    j["n_vocab"] = c.n_vocab;
    j["n_embd"] = c.n_embd;
    j["n_layer"] = c.n_layer;
    j["n_head"] = c.n_head;
    j["n_head_kv"] = c.n_head_kv;
    j["n_ff"] = c.n_ff;
    j["n_ctx_train"] = c.n_ctx_train;
    if (c.arch != Arch::GPT2) {
      j["rope_theta"] = c.rope_theta;
      j["n_rot"] = c.n_rot;
    }
    j["norm_eps"] = c.norm_eps;
    j["tied_output"] = m->tied_output();
    for (auto& [k, v] : types) {
      DType dt = DType::F32;
      dtype_from_name(k, dt);
      j["tensor_types"][k] = {{"tensors", v.tensors}, {"elements", v.elements}, {"bytes", v.bytes},
                              {"bits_per_weight", dtype_bits_per_weight(dt)}};
    }
    j["bits_per_weight"] = bpw;
    j["file_type"] = m->gguf.get_int("general.file_type", -1);
    j["tensors"] = m->gguf.tensors.size();
    // Models written by `flops train` say what training them took. Informational only: a value
    // that is not a usable number (a file from elsewhere) is left out rather than failing.
    nlohmann::json t;
    for (const char* k : {"step", "steps", "tokens", "seed", "batch", "seq_len", "flops", "seconds", "lr"}) {
      const GGUFValue* v = m->gguf.find(std::string("flops.train.") + k);
      if (!v) continue;
      if (v->is_integer() && !(v->type == GGUFType::U64 && v->u > (uint64_t)INT64_MAX)) t[k] = v->i;
      else if (v->is_float()) t[k] = v->f;
    }
    if (t.contains("step")) j["training"] = t;
    j["tokenizer"] = {{"model", m->tok.model_name()}, {"pre", m->tok.pre_name()}, {"n_vocab", m->tok.n_vocab()},
                      {"bos", m->tok.bos()}, {"eos", m->tok.eos()}, {"add_bos", m->tok.add_bos_default()}};
    if (o->json) {
      fmt::print("{}\n", j.dump());
      return;
    }
    fmt::print("model          {}\n", m->path);
    if (!j["name"].get<std::string>().empty()) fmt::print("name           {}\n", j["name"].get<std::string>());
    fmt::print("architecture   {} (GGUF v{})\n", c.arch_name, m->gguf.version);
    fmt::print("parameters     {} ({:.3g} M); {} in matmuls -> {:.3g} FLOPs per token (2N)\n", m->n_params(),
               m->n_params() / 1e6, c.n_params_matmul(), 2.0 * c.n_params_matmul());
    fmt::print("file size      {} bytes ({:.2f} MiB)\n", m->file_size, m->file_size / 1048576.0);
    fmt::print("shape          {} layers, dim {}, {} heads ({} KV heads), head dim {}, FFN {}, vocab {}\n", c.n_layer,
               c.n_embd, c.n_head, c.n_head_kv, c.head_dim(), c.n_ff, c.n_vocab);
    fmt::print("context        {} tokens (trained)\n", c.n_ctx_train);
    if (c.arch != Arch::GPT2) fmt::print("rope           theta {}, {} dims\n", c.rope_theta, c.n_rot);
    fmt::print("norm eps       {}\n", c.norm_eps);
    fmt::print("output         {}\n", m->tied_output() ? "tied to token embedding" : "separate matrix");
    fmt::print("tensor types   {:.3f} bits per weight over all tensors\n", bpw);
    for (auto& [k, v] : types) {
      DType dt = DType::F32;
      dtype_from_name(k, dt);
      fmt::print("  {:<7} {:>4} tensors {:>12} weights  {:>7.4g} bits/weight  {:>6.2f} MiB\n", k, v.tensors, v.elements,
                 dtype_bits_per_weight(dt), v.bytes / 1048576.0);
    }
    fmt::print("tokenizer      {} (pre: {}), {} tokens, BOS {} EOS {}, add BOS: {}\n", m->tok.model_name(),
               m->tok.pre_name().empty() ? "default" : m->tok.pre_name(), m->tok.n_vocab(), m->tok.bos(), m->tok.eos(),
               m->tok.add_bos_default() ? "yes" : "no");
    if (j.contains("training")) {
      const nlohmann::json& t = j["training"];
      std::string line = fmt::format("flops train, step {}", t["step"].get<int64_t>());
      if (t.contains("steps")) line += fmt::format(" of {}", t["steps"].get<int64_t>());
      if (t.contains("tokens")) line += fmt::format("; {:.3g} tokens", (double)t["tokens"].get<int64_t>());
      if (t.contains("flops")) line += fmt::format(", {:.3g} FLOPs counted", t["flops"].get<double>());
      if (t.contains("seconds")) line += fmt::format(", {:.3g} s", t["seconds"].get<double>());
      fmt::print("training       {}\n", line);
    }
  });
}

}  // namespace flops::cli
