#pragma once
// LoRA training (Hu et al. 2021, arXiv 2106.09685): the base model stays frozen in its own
// storage type (F32, F16, BF16, Q8_0, Q4_0: never a full F32 copy) and each chosen matrix W
// of every layer gets a trainable low-rank update,
//   W x  ->  W x + (alpha / rank) * B (A x),   A: rank x in, B: out x rank,
// with A drawn small and B zero, so training starts exactly at the base. Only A and B have
// gradients and AdamW state; the backward through the frozen W computes only what reaches
// A and B (no dW, nothing below the first adapted layer).
#include <cstdint>
#include <string>
#include <vector>

#include "model/lora_adapter.h"
#include "train/forward_backward.h"
#include "train/model.h"

namespace flops {
struct Model;
}

namespace flops::train {

struct LoraSpec {
  int rank = 8;
  float alpha = 0.0f;  // 0: alpha = rank (factor 1)
  // Short names of the matrices to adapt, in the order q, k, v, o, gate, up, down.
  std::vector<std::string> targets = {"q", "k", "v", "o", "gate", "up", "down"};
  // LoRA+ (Hayou, Ghosh, Yu 2024, arXiv 2402.12354): B learns at lr_ratio times A's rate. With
  // one rate for both, B (zero at the start, fed by A's small outputs) moves too slowly in wide
  // layers for the update to learn new features efficiently; the paper finds ratios near 16 best.
  float lr_ratio = 1.0f;
};

// "q,k,v,o,gate,up,down" or any subset; fails naming an unknown one.
std::vector<std::string> parse_lora_targets(const std::string& list);
// The base tensor of target i (0..6, NetLayer order) in layer l, e.g. "blk.0.attn_q.weight".
std::string lora_tensor_name(int layer, int target);

// The adapter's parameters as a train::Model (cfg = the base's; only w, g and tensors are
// used): per adapted matrix "<base name>.lora_a" (rank x cols, ne {cols, rank}) and
// ".lora_b" (rows x rank, ne {rank, rows}). A ~ U(-1/sqrt(cols), 1/sqrt(cols)) from the seed,
// B = 0, B's lr_scale = spec.lr_ratio. Fails for architectures or tensors the training pass does not have.
Model make_lora_params(const flops::Model& base, const LoraSpec& spec, uint64_t seed);

// An adapter file's tensors as parameters (the layout of make_lora_params; ranks may differ).
Model lora_params_of(const flops::Model& base, const LoraAdapter& adapter);

// The frozen base with the adapter of `params` attached; gradients go to params.g. Each update
// is scaled by alpha / its rank (alpha 0: by 1), as llama.cpp does.
Net lora_net(const flops::Model& base, Model& params, float alpha);

// The trained parameters as an adapter file's contents (arch = the base's general.architecture).
LoraAdapter lora_adapter_of(const Model& params, const std::string& arch, float alpha);

// A hash of what the frozen base is (tensor names, types, shapes, a sample of the bytes): a
// checkpoint of one base is not resumed on another.
uint64_t base_identity(const flops::Model& base);

// W += factor * B A for every adapted tensor of `base_path`, written as an F32 GGUF (the base's
// configuration and tokenizer metadata; quantized matrices are dequantized for the sum). Atomic.
void merge_lora(const std::string& base_path, const std::vector<LoraChoice>& adapters, const std::string& out_path,
                const std::string& name);

}  // namespace flops::train
