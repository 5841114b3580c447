#pragma once
// The training loop: deterministic batches, gradient accumulation, optional MPI data
// parallelism, AdamW with warm-up + cosine, clipping, periodic validation, and atomic
// checkpoints (model GGUF + optimizer state) from which --resume continues bit for bit.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/data.h"
#include "train/forward_backward.h"
#include "train/model.h"
#include "train/optim.h"

namespace flops {
struct GGUFFile;
struct GGUFWriter;
}

namespace flops::train {

struct TrainOptions {
  int64_t steps = 1000;
  int batch = 16;        // sequences per optimizer step (global, over all MPI ranks)
  int micro_batch = 0;   // sequences per forward/backward on one rank (0: the rank's whole share)
  int seq_len = 0;       // 0: the model context
  float lr = 1e-3f;
  float min_lr = 1e-4f;
  int64_t warmup = 100;
  AdamWConfig adam;
  float grad_clip = 1.0f;
  uint64_t seed = 1;
  int64_t checkpoint_every = 0;  // 0: only at the end
  int64_t eval_every = 0;        // 0: only at the end
  int eval_windows = 64;         // validation windows of seq_len tokens
  std::string out_dir;           // model.gguf, optimizer.bin, log.jsonl, loss.svg ("" = write nothing)
  bool resume = false;
  int64_t stop_at = 0;  // > 0: stop after this step with a checkpoint (the schedule still spans `steps`)
  double peak_flops = 0;         // machine sgemm FLOP/s (all ranks' threads) for MFU; 0 = unknown
  std::string name = "flops-model";
  // When not empty, only targets among these token ids count in the loss (training and
  // validation); the others are kIgnoreTarget. The loss is then the mean over counted targets.
  std::vector<int32_t> loss_tokens;
};

struct StepInfo {
  int64_t step = 0;        // updates done (1-based after the first)
  int64_t total_steps = 0;
  double loss = 0;         // mean training loss of this step's global batch
  double lr = 0;
  double grad_norm = 0;
  double tokens_per_s = 0; // over this step
  double flops_per_s = 0;  // counted model FLOPs (all ranks) / wall time, this step
  double mfu = 0;          // flops_per_s / peak_flops
  double elapsed_s = 0;    // this run
  double val_loss = -1;    // when evaluated at this step
  bool checkpointed = false;
};

struct TrainResult {
  std::vector<StepInfo> history;  // this run's steps
  int64_t start_step = 0;         // > 0 when resumed
  double total_flops = 0;         // counted model FLOPs over all ranks, whole training (incl. resumed parts)
  double total_seconds = 0;       // wall time, whole training
  int64_t tokens_seen = 0;
  double final_val_loss = -1;
};

// The file every checkpoint writes besides the model. It holds the fp32 master weights too, so
// that it alone is a complete, consistent resume point whatever moment the process was killed.
struct OptimizerCheckpoint {
  AdamState adam;
  std::vector<float> weights;
  uint64_t seed = 0;
  uint64_t model_hash = 0;  // fnv1a of the tensor names and sizes: refuses a state of another model
  float lora_lr_ratio = 1;  // LoRA+ ratio of B's lr to A's (1 for every other run; version-1 files)
  int64_t tokens_seen = 0;
  double total_flops = 0;
  double total_seconds = 0;
};
uint64_t model_layout_hash(const Model& m);
void write_optimizer_state(const std::string& path, const OptimizerCheckpoint& c);
OptimizerCheckpoint read_optimizer_state(const std::string& path);

// Writes the model as GGUF (llama.cpp names, F32), with the tokenizer metadata of `tokenizer_src`.
// `extra` adds metadata of the caller's (checkpoints: what training took so far).
void save_model_gguf(const Model& m, const GGUFFile* tokenizer_src, const std::string& name, const std::string& path,
                     const std::function<void(GGUFWriter&)>& extra = {});

// Mean validation loss over the first eval windows of data.val (split over MPI ranks), over the
// counted targets (all of them, or those in loss_tokens); -1 when
// none was counted. `counted`, when given, receives how many were.
double evaluate(const Model& m, const TokenData& data, int T, int max_windows, int micro_batch,
                const std::vector<int32_t>& loss_tokens = {}, int64_t* counted = nullptr);
double evaluate(const Net& net, const TokenData& data, int T, int max_windows, int micro_batch,
                const std::vector<int32_t>& loss_tokens = {}, int64_t* counted = nullptr);
// Replaces every target not in loss_tokens (sorted) by kIgnoreTarget; returns how many remain.
int64_t mask_targets(int32_t* y, size_t n, const std::vector<int32_t>& loss_tokens);

// Training only part of a network (LoRA): run_training then updates `m` as a set of parameters
// (its w, g and tensors; cfg gives the context), computes their gradient through the pass over
// net(m), and writes each checkpoint's model file with save(m, meta) instead of model.gguf.
// salt is mixed into the checkpoint's layout hash (e.g. the frozen base's identity).
struct TrainHooks {
  std::function<Net(Model& m)> net;
  std::function<void(const Model& m, const std::function<void(GGUFWriter&)>& meta)> save;
  uint64_t salt = 0;
  float lr_ratio = 1;  // the LoRA+ ratio the tensors' lr_scale encodes: recorded, and a resume must match it
};

// `on_step` is called on rank 0 after every step (for progress and logs).
TrainResult run_training(Model& m, const TokenData& data, const TrainOptions& o, const GGUFFile* tokenizer_src,
                         const std::function<void(const StepInfo&)>& on_step = {}, const TrainHooks* hooks = nullptr);

// MPI rank and size (0 and 1 without MPI or before MPI_Init).
int mpi_rank();
int mpi_size();

// The loss curve as a small self-contained SVG (train loss per step, validation points).
std::string loss_curve_svg(const std::vector<StepInfo>& history, const std::string& title);

}  // namespace flops::train
