// flops train: a llama-architecture model from scratch (config JSON or flags) or
// fine-tuned from a llama/qwen2 GGUF, on text files; checkpoints, resume, MPI.
#include <sys/resource.h>

#include <cmath>
#include <cstdlib>
#include <set>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/flop_counter.h"
#include "core/log.h"
#include "core/machine.h"
#include "core/mmap_file.h"
#include "core/progress.h"
#include "core/threads.h"
#include "cost/calibrate.h"
#include "cost/receipt.h"
#include "model/gguf.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "train/data.h"
#include "train/forward_backward.h"
#include "train/lora.h"
#include "train/model.h"
#include "train/trainer.h"
#include "cli/train_contrastive.h"

#ifdef FLOPS_HAVE_MPI
#include <mpi.h>
#endif

namespace flops::cli {

namespace {

struct TrainArgs {
  std::string config;
  std::string init;       // GGUF to fine-tune
  std::string tokenizer;  // GGUF with tokenizer.ggml.* (from scratch)
  int dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, ctx = 0, vocab = 0;
  float rope_theta = 0;
  bool untied = false;  // --untied, or "tied": false in the config
  float init_std = 0.02f;
  // LoRA: --lora-rank > 0 trains an adapter of the frozen --init model instead of the model.
  train::LoraSpec lora{.rank = 0};
  std::string lora_targets;
  std::string lora_file;  // --eval-only --lora FILE: the base with this adapter
  bool lora_on() const { return lora.rank > 0 || !lora_file.empty(); }
  std::vector<std::string> data, val_data;
  std::vector<std::string> loss_on;  // strings of one token each
  double val_fraction = -1;
  std::string cache;
  train::TrainOptions o;
  int threads = 0;
  int log_every = 10;
  bool json = false, quiet = false;
  bool eval_only = false;
  std::string objective = "lm";  // or "contrastive" (train_contrastive.h)
  ContrastiveRun contrastive;
  // Which training options were given on the command line (they override the config file).
  CLI::App* cmd = nullptr;
};

uint64_t tokenizer_hash(const Tokenizer& t) {
  uint64_t h = train::fnv1a(t.model_name().data(), t.model_name().size());
  h = train::fnv1a(t.pre_name().data(), t.pre_name().size(), h);
  for (auto& s : t.tokens()) h = train::fnv1a(s.data(), s.size() + 1, h);
  for (auto& s : t.merges()) h = train::fnv1a(s.data(), s.size() + 1, h);
  return h;
}

bool given(const TrainArgs& a, const char* opt) { return a.cmd->count(opt) > 0; }

// Config file keys: model (dim, layers, heads, kv_heads, ffn, ctx, vocab, rope_theta, tied) and
// training (steps, batch, micro_batch, seq_len, lr, min_lr, warmup, weight_decay, grad_clip, seed,
// checkpoint_every, eval_every, eval_windows, data, val_data, val_fraction, tokenizer, init, name).
void apply_config(TrainArgs& a) {
  if (a.config.empty()) return;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(a.config));
  } catch (const nlohmann::json::exception& e) {
    fail("config '{}' is not valid JSON: {}", a.config, e.what());
  }
  if (!j.is_object()) fail("config '{}' must be a JSON object", a.config);
  static const std::set<std::string> known = {
      "dim", "layers", "heads", "kv_heads", "ffn", "ctx", "vocab", "rope_theta", "tied", "steps", "batch", "micro_batch",
      "seq_len", "lr", "min_lr", "warmup", "weight_decay", "grad_clip", "seed", "checkpoint_every", "eval_every",
      "eval_windows", "data", "val_data", "val_fraction", "tokenizer", "init", "name", "comment", "loss_on", "init_std",
      "lora_rank", "lora_alpha", "lora_targets", "lora_lr_ratio"};
  for (auto& [k, v] : j.items())
    if (!known.count(k)) fail("config '{}': unknown key '{}'", a.config, k);
  auto num = [&](const char* key, auto& dst, const char* flag) {
    if (j.contains(key) && !given(a, flag)) {
      if (!j[key].is_number()) fail("config '{}': '{}' must be a number", a.config, key);
      dst = j[key].get<std::decay_t<decltype(dst)>>();
    }
  };
  num("dim", a.dim, "--dim");
  num("layers", a.layers, "--layers");
  num("heads", a.heads, "--heads");
  num("kv_heads", a.kv_heads, "--kv-heads");
  num("ffn", a.ffn, "--ffn");
  num("ctx", a.ctx, "--ctx");
  num("vocab", a.vocab, "--vocab");
  num("rope_theta", a.rope_theta, "--rope-theta");
  num("init_std", a.init_std, "--init-std");
  num("steps", a.o.steps, "--steps");
  num("batch", a.o.batch, "--batch");
  num("micro_batch", a.o.micro_batch, "--micro-batch");
  num("seq_len", a.o.seq_len, "--seq-len");
  num("lr", a.o.lr, "--lr");
  num("min_lr", a.o.min_lr, "--min-lr");
  num("warmup", a.o.warmup, "--warmup");
  num("weight_decay", a.o.adam.weight_decay, "--weight-decay");
  num("grad_clip", a.o.grad_clip, "--grad-clip");
  num("seed", a.o.seed, "--seed");
  num("checkpoint_every", a.o.checkpoint_every, "--checkpoint-every");
  num("eval_every", a.o.eval_every, "--eval-every");
  num("eval_windows", a.o.eval_windows, "--eval-windows");
  num("val_fraction", a.val_fraction, "--val-fraction");
  num("lora_rank", a.lora.rank, "--lora-rank");
  num("lora_alpha", a.lora.alpha, "--lora-alpha");
  num("lora_lr_ratio", a.lora.lr_ratio, "--lora-lr-ratio");
  if (j.contains("tied") && !given(a, "--untied")) {
    if (!j["tied"].is_boolean()) fail("config '{}': 'tied' must be true or false", a.config);
    a.untied = !j["tied"].get<bool>();
  }
  // Relative paths in a config are relative to the directory the command runs in.
  auto strs = [&](const char* key, std::vector<std::string>& dst, const char* flag) {
    if (j.contains(key) && !given(a, flag)) {
      if (!j[key].is_array()) fail("config '{}': '{}' must be an array of file names", a.config, key);
      dst = j[key].get<std::vector<std::string>>();
    }
  };
  strs("data", a.data, "--data");
  strs("val_data", a.val_data, "--val-data");
  if (j.contains("loss_on") && !given(a, "--loss-on")) {
    if (!j["loss_on"].is_array()) fail("config '{}': 'loss_on' must be an array of strings", a.config);
    for (auto& v : j["loss_on"]) {
      if (!v.is_string()) fail("config '{}': 'loss_on' must be an array of strings", a.config);
      a.loss_on.push_back(v.get<std::string>());
    }
  }
  auto str = [&](const char* key, std::string& dst, const char* flag) {
    if (j.contains(key) && !given(a, flag)) dst = j[key].get<std::string>();
  };
  str("tokenizer", a.tokenizer, "--tokenizer");
  str("lora_targets", a.lora_targets, "--lora-targets");
  str("init", a.init, "--init");
  str("name", a.o.name, "--name");
}

void run_train(TrainArgs& a) {
  apply_config(a);
  if (a.threads < 0) fail("--threads must be >= 0, got {}", a.threads);
  set_threads(a.threads);
  const int rank = train::mpi_rank(), size = train::mpi_size();
  if (a.o.out_dir.empty() && !a.eval_only) fail("--out DIR is required (checkpoints, log and plot go there)");
  if (a.data.empty() && a.contrastive.pair_files.empty())
    fail("no training data: pass --data FILE... (or \"data\" in the config)");
  if (a.lora.rank < 0) fail("--lora-rank must be positive, got {}", a.lora.rank);
  if (a.lora.rank == 0)
    for (const char* f : {"--lora-alpha", "--lora-targets", "--lora-lr-ratio"})
      if (given(a, f)) fail("{} needs --lora-rank", f);
  if (!a.lora_file.empty() && !a.eval_only) fail("--lora FILE is for --eval-only (to train an adapter, pass --lora-rank)");
  // The contrastive run writes a whole embedding model (GGUF with a pooling type), not an adapter.
  if (a.objective == "contrastive" && a.lora_on())
    fail("--objective contrastive trains every weight: it does not take --lora-rank or --lora");

  // Model and tokenizer source. With LoRA, m holds only the adapter's parameters and `base` is
  // the frozen model as the engine loads it (weights in their own type, memory-mapped).
  std::unique_ptr<GGUFFile> tok_src;
  std::unique_ptr<Model> base;
  train::Model m;
  if (a.lora_on()) {
    if (a.init.empty()) fail("--lora-rank trains an adapter of a base model: pass --init BASE.gguf");
    for (const char* f : {"--dim", "--layers", "--heads", "--kv-heads", "--ffn", "--vocab", "--init-std", "--untied"})
      if (given(a, f)) fail("--init takes the architecture from the model: do not pass {}", f);
    tok_src = std::make_unique<GGUFFile>(gguf_open(a.init));
    base = load_model(a.init);
    if (!a.lora_file.empty()) {
      LoraAdapter ad = load_lora_adapter(a.lora_file);
      check_lora_fits(ad, *base);
      m = train::lora_params_of(*base, ad);
      a.lora.alpha = ad.alpha;
    } else {
      if (!a.lora_targets.empty()) a.lora.targets = train::parse_lora_targets(a.lora_targets);
      if (a.lora.alpha == 0) a.lora.alpha = (float)a.lora.rank;
      if (!(a.lora.alpha > 0) || !std::isfinite(a.lora.alpha))
        fail("--lora-alpha must be a positive number, not {}", a.lora.alpha);
      m = train::make_lora_params(*base, a.lora, a.o.seed);
    }
    if (a.ctx > 0) m.cfg.n_ctx_train = a.ctx;
  } else if (!a.init.empty()) {
    tok_src = std::make_unique<GGUFFile>(gguf_open(a.init));
    m = train::load_gguf_model(*tok_src);
    for (const char* f : {"--dim", "--layers", "--heads", "--kv-heads", "--ffn", "--vocab", "--init-std"})
      if (given(a, f)) fail("--init takes the architecture from the model: do not pass {}", f);
    if (a.ctx > 0) m.cfg.n_ctx_train = a.ctx;
  } else {
    if (a.tokenizer.empty()) fail("no tokenizer: pass --tokenizer TOK.gguf (from `flops tokenizer train`) or --init MODEL.gguf");
    tok_src = std::make_unique<GGUFFile>(gguf_open(a.tokenizer));
    ModelConfig c;
    c.n_embd = a.dim;
    c.n_layer = a.layers;
    c.n_head = a.heads;
    c.n_head_kv = a.kv_heads > 0 ? a.kv_heads : a.heads;
    c.n_ff = a.ffn;
    c.n_ctx_train = a.ctx;
    if (a.rope_theta > 0) c.rope_theta = a.rope_theta;
    int tok_vocab = (int)tok_src->array_size("tokenizer.ggml.tokens");
    if (a.vocab > 0 && a.vocab != tok_vocab)
      fail("--vocab {} does not match the tokenizer's {} tokens", a.vocab, tok_vocab);
    c.n_vocab = tok_vocab;
    if (!c.n_embd || !c.n_layer || !c.n_head || !c.n_ff || !c.n_ctx_train)
      fail("a model from scratch needs --dim, --layers, --heads, --ffn and --ctx (or a --config with them)");
    m = train::make_model(c, !a.untied);
    train::init_weights(m, a.o.seed, a.init_std);
  }
  Tokenizer tok = Tokenizer::from_gguf(*tok_src);
  if (tok.n_vocab() > m.cfg.n_vocab) fail("tokenizer has {} tokens but the model only {}", tok.n_vocab(), m.cfg.n_vocab);
  for (const std::string& s : a.loss_on) {
    std::vector<int32_t> ids = tok.encode(s, false);
    if (ids.size() != 1) fail("--loss-on '{}' is {} tokens for this tokenizer; each must be exactly one", s, ids.size());
    a.o.loss_tokens.push_back(ids[0]);
  }
  std::sort(a.o.loss_tokens.begin(), a.o.loss_tokens.end());
  a.o.loss_tokens.erase(std::unique(a.o.loss_tokens.begin(), a.o.loss_tokens.end()), a.o.loss_tokens.end());

  if (a.objective == "contrastive") {
    ContrastiveRun& c = a.contrastive;
    c.data = a.data;
    c.out_dir = a.o.out_dir;
    c.name = given(a, "--name") ? a.o.name : "flops-embed";
    c.json = a.json, c.quiet = a.quiet;
    // The language-model defaults do not carry over (a fine-tune wants a smaller rate): only flags given.
    if (given(a, "--steps")) c.o.steps = a.o.steps;
    if (given(a, "--lr")) c.o.lr = a.o.lr;
    if (given(a, "--min-lr")) c.o.min_lr = a.o.min_lr;
    if (given(a, "--warmup")) c.o.warmup = a.o.warmup;
    if (given(a, "--seed")) c.o.seed = a.o.seed;
    if (given(a, "--weight-decay")) c.o.adam.weight_decay = a.o.adam.weight_decay;
    if (given(a, "--grad-clip")) c.o.grad_clip = a.o.grad_clip;
    if (given(a, "--batch")) c.o.batch = a.o.batch;
    if (given(a, "--eval-every")) c.o.eval_every = a.o.eval_every;
    run_contrastive(m, tok, *tok_src, c);
    return;
  }
  if (a.objective != "lm") fail("unknown --objective '{}' (lm, contrastive)", a.objective);

  // Data, tokenized once into the cache.
  train::DataSpec spec;
  spec.files = a.data;
  spec.val_files = a.val_data;
  if (a.val_fraction >= 0) spec.val_fraction = a.val_fraction;
  std::string cache = !a.cache.empty() ? a.cache : a.o.out_dir.empty() ? "" : a.o.out_dir + "/tokens.bin";
  if (rank == 0 && !cache.empty() && !std::filesystem::path(cache).parent_path().empty())
    std::filesystem::create_directories(std::filesystem::path(cache).parent_path());
  train::TokenData data;
  auto build = [&] {
    return train::load_or_build_tokens(spec, [&](std::string_view s) { return tok.encode(s, false); }, tokenizer_hash(tok),
                                       m.cfg.n_vocab, tok.eos(), cache);
  };
#ifdef FLOPS_HAVE_MPI
  // Rank 0 tokenizes and writes the cache; the others then read it.
  if (size > 1) {
    if (rank == 0) data = build();
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank != 0) data = build();
  } else {
    data = build();
  }
#else
  data = build();
#endif
  if (data.val.empty() && rank == 0) log::warn("no validation tokens: pass --val-data or a --val-fraction > 0");

  // LoRA: the passes see the frozen base with the adapter; checkpoints write adapter.gguf.
  train::TrainHooks hooks;
  const std::string adapter_path = a.o.out_dir + "/adapter.gguf";
  if (a.lora_on()) {
    hooks.net = [&](train::Model& p) { return train::lora_net(*base, p, a.lora.alpha); };
    hooks.salt = train::base_identity(*base);
    hooks.lr_ratio = a.lora.lr_ratio;
    hooks.save = [&](const train::Model& p, const std::function<void(GGUFWriter&)>& meta) {
      save_lora_adapter(train::lora_adapter_of(p, base->cfg.arch_name, a.lora.alpha), adapter_path, a.o.name,
                        [&](GGUFWriter& w) {
                          meta(w);
                          w.set_string("flops.lora.base", std::filesystem::path(a.init).filename().string());
                          w.set_f32("flops.lora.lr_ratio", a.lora.lr_ratio);
                        });
    };
  }

  if (a.eval_only) {
    const int T = a.o.seq_len > 0 ? a.o.seq_len : m.cfg.n_ctx_train;
    counter::Scope fc;
    int64_t scored = 0;
    const train::Net net = a.lora_on() ? hooks.net(m) : train::net_of(m);
    double loss = train::evaluate(net, data, T, a.o.eval_windows, std::max(1, a.o.batch / size), a.o.loss_tokens, &scored);
    if (rank != 0) return;
    const int windows = train::n_val_windows(data.val, T, a.o.eval_windows);
    if (windows == 0) fail("no validation windows of {} tokens in {} validation tokens", T, data.val.size());
    if (loss < 0) fail("none of the --loss-on tokens occurs in the {} validation windows", windows);
    nlohmann::json j = {{"val_loss", loss}, {"val_ppl", std::exp(loss)}, {"windows", windows}, {"seq_len", T},
                        {"val_tokens_scored", scored}, {"flops", (double)fc.elapsed().model()}};
    if (a.json)
      fmt::print("{}\n", j.dump());
    else
      fmt::print("validation loss {:.4f}, perplexity {:.2f} over {} targets in {} windows of {} tokens ({} held-out tokens)\n",
                 loss, std::exp(loss), scored, windows, T, data.val.size());
    return;
  }

  // The MFU denominator: this machine's sgemm at our thread count, times the ranks. Measured now,
  // or the `flops calibrate` figure when that is higher (a busy machine measures low, which would
  // push MFU above 100% once it quietens).
  {
    double peak = measure_sgemm_flops(get_threads(), 0.3);
    if (auto cal = cost::load_calibration(get_threads())) peak = std::max(peak, cal->sgemm_flops);
    a.o.peak_flops = peak * size;
  }
  const int T = a.o.seq_len > 0 ? a.o.seq_len : m.cfg.n_ctx_train;
  const double step_flops = a.lora_on() ? train::net_step_flops(hooks.net(m), a.o.batch, T)
                                        : train::train_flops_per_step(m.cfg, a.o.batch, T);
  if (rank == 0 && !a.json && a.lora_on())
    log::info("LoRA rank {} alpha {}{} on {} of the frozen {} ({} params, {}): {} trainable params; data {} train / {} val "
              "tokens; {:.3g} GFLOP per step; machine sgemm {:.1f} GFLOP/s",
              a.lora.rank, a.lora.alpha,
              a.lora.lr_ratio != 1 ? fmt::format(" (LoRA+: B at {} x lr)", a.lora.lr_ratio) : "", fmt::join(a.lora.targets, ","), a.init, base->n_params(),
              dtype_name(base->layers.empty() ? DType::F32 : base->layers[0].wq.type), m.n_params(), data.train.size(),
              data.val.size(), step_flops / 1e9, a.o.peak_flops / 1e9);
  else if (rank == 0 && !a.json)
    log::info("model {} params ({} layers, dim {}, heads {}/{} kv, ffn {}, ctx {}, vocab {}); data {} train / {} val tokens; "
              "{:.3g} GFLOP per step; machine sgemm {:.1f} GFLOP/s",
              m.n_params(), m.cfg.n_layer, m.cfg.n_embd, m.cfg.n_head, m.cfg.n_head_kv, m.cfg.n_ff, m.cfg.n_ctx_train,
              m.cfg.n_vocab, data.train.size(), data.val.size(), step_flops / 1e9, a.o.peak_flops / 1e9);

  const bool bar_on = rank == 0 && !a.json && !a.quiet;
  std::unique_ptr<Progress> bar;
  auto on_step = [&](const train::StepInfo& s) {
    if (!bar) bar = std::make_unique<Progress>("train", s.total_steps, "step", bar_on);
    std::string extra = fmt::format("loss {:.4f}  {:.0f} tok/s  {} FLOP/s  MFU {:.0f}%", s.loss, s.tokens_per_s,
                                    format_si(s.flops_per_s), 100 * s.mfu);
    bar->update(s.step, extra);
    bool line = s.val_loss >= 0 || (!bar->active() && !a.json && !a.quiet && a.log_every > 0 && s.step % a.log_every == 0);
    if (line) {
      std::string v = s.val_loss >= 0 ? fmt::format("  val {:.4f} (ppl {:.2f})", s.val_loss, std::exp(s.val_loss)) : "";
      log::info("step {}/{}  {}{}{}", s.step, s.total_steps, extra, v, s.checkpointed ? "  [checkpoint]" : "");
    }
  };
  cost::Meter meter;
  train::TrainResult r = train::run_training(m, data, a.o, tok_src.get(), on_step, a.lora_on() ? &hooks : nullptr);
  if (bar) bar->finish();
  if (rank != 0) return;
  // This process's share (rank 0 of `size`): the receipt counts its own FLOPs, time and energy.
  cost::ReceiptOptions ro;
  ro.label = size > 1 ? fmt::format("train (rank 0 of {})", size) : "train";
  ro.peak_flops = a.o.peak_flops / size;
  ro.peak_source = "sgemm at start or calibration, the higher";
  cost::Receipt receipt = cost::finish(meter, ro);
  nlohmann::json j;
  j["out"] = a.o.out_dir;
  j["model"] = a.lora_on() ? adapter_path : a.o.out_dir + "/model.gguf";
  if (a.lora_on()) {
    j["lora_rank"] = a.lora.rank;
    j["lora_alpha"] = a.lora.alpha;
    j["lora_lr_ratio"] = a.lora.lr_ratio;
    j["lora_targets"] = a.lora.targets;
    j["base"] = a.init;
  }
  j["steps"] = r.history.empty() ? r.start_step : r.history.back().step;
  j["resumed_from"] = r.start_step;
  j["tokens_seen"] = r.tokens_seen;
  j["parameters"] = m.n_params();
  j["total_flops"] = r.total_flops;
  j["total_seconds"] = r.total_seconds;
  j["mpi_ranks"] = size;
  j["threads"] = get_threads();
  j["machine_sgemm_flops"] = a.o.peak_flops;
  if (r.total_seconds > 0 && a.o.peak_flops > 0) j["mfu"] = r.total_flops / r.total_seconds / a.o.peak_flops;
  if (!r.history.empty()) j["final_train_loss"] = r.history.back().loss;
  if (r.final_val_loss >= 0) {
    j["val_loss"] = r.final_val_loss;
    j["val_ppl"] = std::exp(r.final_val_loss);
  }
  // Peak resident memory of the whole process (model, optimizer state, activations, mapped files).
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  j["peak_rss_bytes"] = (int64_t)ru.ru_maxrss * 1024;
  j["train_tokens"] = data.train.size();
  j["val_tokens"] = data.val.size();
  j["receipt"] = cost::to_json(receipt);
  if (a.json) {
    fmt::print("{}\n", j.dump());
  } else {
    if (!a.quiet) cost::print_receipt(stderr, receipt);
    fmt::print("trained {} steps ({} tokens) in {:.1f} s, {} FLOPs counted; ", j["steps"].get<int64_t>(), r.tokens_seen,
               r.total_seconds, format_si(r.total_flops));
    if (r.final_val_loss >= 0) fmt::print("val loss {:.4f} ppl {:.2f}; ", r.final_val_loss, std::exp(r.final_val_loss));
    fmt::print("peak memory {:.1f} MiB; ", j["peak_rss_bytes"].get<int64_t>() / 1048576.0);
    fmt::print("{} {}, log {}/log.jsonl, plot {}/loss.svg\n", a.lora_on() ? "adapter" : "model", j["model"].get<std::string>(),
               a.o.out_dir, a.o.out_dir);
  }
}

}  // namespace

void add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "train a llama-architecture model from scratch or fine-tune a GGUF, on text files");
  a->cmd = cmd;
  cmd->add_option("-c,--config", a->config, "JSON config (model and training keys; flags override it)");
  cmd->add_option("--init", a->init, "fine-tune this llama/qwen2 GGUF (F32/F16/BF16/quantized)");
  cmd->add_option("--tokenizer", a->tokenizer, "GGUF holding the tokenizer (from `flops tokenizer train`)");
  cmd->add_option("--dim", a->dim, "embedding size");
  cmd->add_option("--layers", a->layers, "transformer blocks");
  cmd->add_option("--heads", a->heads, "attention heads");
  cmd->add_option("--kv-heads", a->kv_heads, "key/value heads (grouped-query attention; default = heads)");
  cmd->add_option("--ffn", a->ffn, "feed-forward (SwiGLU) size");
  cmd->add_option("--ctx", a->ctx, "context length (training sequence length)");
  cmd->add_option("--vocab", a->vocab, "vocabulary size (must match the tokenizer)");
  cmd->add_option("--rope-theta", a->rope_theta, "RoPE base (default 10000)");
  cmd->add_flag("--untied", a->untied, "separate output matrix instead of reusing the token embedding");
  cmd->add_option("--lora-rank", a->lora.rank, "train a LoRA adapter of this rank on the frozen --init model (writes OUT/adapter.gguf)");
  cmd->add_option("--lora-alpha", a->lora.alpha, "LoRA alpha: the update is scaled by alpha / rank (default: alpha = rank)");
  cmd->add_option("--lora-lr-ratio", a->lora.lr_ratio,
                  "LoRA+: the B matrices learn at this times --lr (A at --lr; default 1; the paper suggests about 16)");
  cmd->add_option("--lora-targets", a->lora_targets, "matrices to adapt in every layer: any of q,k,v,o,gate,up,down [all]");
  cmd->add_option("--lora", a->lora_file, "with --eval-only: evaluate the --init model with this adapter");
  cmd->add_option("--init-std", a->init_std, "std of the random initial matrices (default 0.02; about 1/sqrt(dim) suits narrow models)");
  cmd->add_option("--data", a->data, "training text files")->expected(1, -1);
  cmd->add_option("--loss-on", a->loss_on,
                  "train only on predicting these strings (each one token, e.g. the answers of a task); "
                  "other targets add nothing to the loss")
      ->expected(1, -1);
  cmd->add_option("--val-data", a->val_data, "validation text files, held out whole")->expected(1, -1);
  cmd->add_option("--val-fraction", a->val_fraction, "without --val-data: hold out the trailing chapters (this fraction) of each file [0.05]");
  cmd->add_option("--cache", a->cache, "token cache file (default OUT/tokens.bin)");
  cmd->add_option("--steps", a->o.steps, "optimizer steps");
  cmd->add_option("--batch", a->o.batch, "sequences per step (global across MPI ranks)");
  cmd->add_option("--micro-batch", a->o.micro_batch, "sequences per forward/backward (gradient accumulation)");
  cmd->add_option("--seq-len", a->o.seq_len, "training sequence length (default: --ctx)");
  cmd->add_option("--lr", a->o.lr, "peak learning rate");
  cmd->add_option("--min-lr", a->o.min_lr, "final learning rate of the cosine");
  cmd->add_option("--warmup", a->o.warmup, "warm-up steps");
  cmd->add_option("--weight-decay", a->o.adam.weight_decay, "AdamW decoupled weight decay (matrices only)");
  cmd->add_option("--grad-clip", a->o.grad_clip, "clip the global gradient norm to this (0: off)");
  cmd->add_option("--seed", a->o.seed, "seed for initialization and batch order");
  cmd->add_option("-t,--threads", a->threads, "threads per process (default: all cores)");
  cmd->add_option("--checkpoint-every", a->o.checkpoint_every, "write model.gguf + optimizer.bin every N steps (0: at the end)");
  cmd->add_option("--eval-every", a->o.eval_every, "validation loss every N steps (0: at the end)");
  cmd->add_option("--eval-windows", a->o.eval_windows, "validation windows of seq-len tokens");
  cmd->add_option("--stop-at", a->o.stop_at, "stop after this step with a checkpoint (continue later with --resume)");
  cmd->add_option("-o,--out", a->o.out_dir, "output directory (model.gguf, optimizer.bin, log.jsonl, loss.svg)");
  cmd->add_option("--name", a->o.name, "general.name of the written model");
  cmd->add_flag("--eval-only", a->eval_only, "only report the validation loss of the model (--init) on the held-out data");
  cmd->add_flag("--resume", a->o.resume, "continue the run in --out from its last checkpoint");
  cmd->add_option("--log-every", a->log_every, "without a terminal: a status line every N steps");
  cmd->add_option("--objective", a->objective,
                  "lm (next-token, default) or contrastive (InfoNCE on text pairs: an embedding model)");
  cmd->add_option("--pair-file", a->contrastive.pair_files, "contrastive: JSONL pairs {\"a\": text, \"b\": text}")
      ->expected(1, -1);
  cmd->add_option("--pairs", a->contrastive.kinds, "contrastive: pairs made from --data: neighbour, opening (default both)")
      ->expected(1, -1);
  cmd->add_option("--tau", a->contrastive.o.tau, "contrastive: temperature of the similarities (default 0.05)");
  cmd->add_option("--pair-tokens", a->contrastive.o.max_tokens, "contrastive: tokens per text at most (default 64)");
  cmd->add_flag("--json", a->json, "print a JSON summary on stdout");
  cmd->add_flag("--quiet", a->quiet, "no progress bar");
  cmd->callback([a] {
#ifdef FLOPS_HAVE_MPI
    // Under mpirun the launcher sets these; a plain run never touches MPI.
    bool under_mpi = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE");
    int inited = 0;
    MPI_Initialized(&inited);
    if (under_mpi && !inited) MPI_Init(nullptr, nullptr);
    struct Fin {
      bool on;
      ~Fin() {
        if (on) MPI_Finalize();
      }
    } fin{under_mpi && !inited};
    try {
      run_train(*a);
    } catch (const std::exception& e) {
      if (under_mpi && train::mpi_size() > 1) {
        std::fprintf(stderr, "error: %s\n", e.what());
        MPI_Abort(MPI_COMM_WORLD, 1);  // the other ranks would wait forever in a collective
      }
      throw;
    }
#else
    run_train(*a);
#endif
  });
}

}  // namespace flops::cli
