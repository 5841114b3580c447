// flops info MODEL: what a GGUF model is.
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/threads.h"

namespace flops::cli {

void add_info(CLI::App& app) {
  auto o = std::make_shared<ModelOpts>();
  auto* cmd = app.add_subcommand("info", "architecture, parameters, tensor types, file size and tokenizer of a model");
  cmd->add_option("model", o->model, "GGUF model file");
  add_model_opts(cmd, *o);
  cmd->callback([o] {
    auto m = open_model(*o);
    const ModelConfig& c = m->cfg;
    std::map<std::string, std::pair<int, int64_t>> types;  // type -> (tensors, elements)
    for (auto& t : m->gguf.tensors) {
      auto& e = types[std::string(dtype_name(t.type))];
      e.first++;
      e.second += (int64_t)t.n_elements;
    }
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
    for (auto& [k, v] : types) j["tensor_types"][k] = {{"tensors", v.first}, {"elements", v.second}};
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
    std::string ts;
    for (auto& [k, v] : types) ts += fmt::format("{}{}: {} tensors, {} elements", ts.empty() ? "" : "; ", k, v.first, v.second);
    fmt::print("tensor types   {}\n", ts);
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
