#pragma once
// LoRA adapters (Hu et al. 2021, arXiv 2106.09685) in llama.cpp's adapter GGUF format.
//
// An adapter changes a base weight W (rows x cols, GGUF ne = [cols, rows]) into
//   W' = W + s * B A,   A: rank x cols (tensor "<base name>.lora_a", ne = [cols, rank]),
//                       B: rows x rank (tensor "<base name>.lora_b", ne = [rank, rows]),
// with s = scale * alpha / rank (llama.cpp's rule: alpha = 0 means s = scale), where scale is
// the user's (--lora FILE:SCALE, default 1) and alpha is `adapter.lora.alpha`. The file says
// `general.type` = adapter, `adapter.type` = lora and the base's `general.architecture`.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace flops {

struct GGUFWriter;
struct Model;

struct LoraTensor {
  int64_t rows = 0, cols = 0;  // of the base weight
  int rank = 0;
  std::vector<float> a;  // [rank][cols]
  std::vector<float> b;  // [rows][rank]
};

struct LoraAdapter {
  std::string path;
  std::string arch;  // general.architecture of the base it was trained on
  float alpha = 0.0f;
  std::map<std::string, LoraTensor> tensors;  // by base tensor name, e.g. "blk.0.attn_q.weight"

  // The factor s of W + s B A for one tensor at the user's scale.
  float factor(const LoraTensor& t, float scale = 1.0f) const { return alpha != 0.0f ? scale * alpha / (float)t.rank : scale; }
  // Bytes of A and B as F32 (what the adapter adds to memory).
  size_t bytes() const;
};

// Reads an adapter (tensors F32, F16, BF16 or Q8_0, converted to F32). Fails naming the problem
// (not an adapter, a tensor without its pair, shapes that do not fit together).
LoraAdapter load_lora_adapter(const std::string& path);

// Checks that every adapted tensor is a 2-D weight of `base` with the adapter's shape and that
// the architectures agree (what llama.cpp checks too).
void check_lora_fits(const LoraAdapter& a, const Model& base);

// Writes the adapter (F32 tensors, in the order of `a.tensors`) atomically; `extra` adds metadata.
void save_lora_adapter(const LoraAdapter& a, const std::string& path, const std::string& name,
                       const std::function<void(GGUFWriter&)>& extra = {});

// "FILE" or "FILE:SCALE" (the last colon, when what follows is a number) as on the command line.
struct LoraChoice {
  std::string path;
  float scale = 1.0f;
};
LoraChoice parse_lora_choice(const std::string& arg);

// Adapters applied at run time without merging: for each adapted weight of one model, its
// low-rank updates (one per adapter; several adapters add up). The forward pass looks a weight
// up by its data pointer and adds factor * (x A^T) B^T to the base product.
struct LoraSet {
  struct Update {
    const float* a = nullptr;  // [rank][cols]
    const float* b = nullptr;  // [rows][rank]
    int rank = 0;
    float factor = 0.0f;
    int64_t rows = 0, cols = 0;
  };
  std::string name;  // e.g. the adapter's file name, for messages and the server's model ids
  std::vector<std::shared_ptr<const LoraAdapter>> adapters;  // keep the updates' data alive
  std::unordered_map<const void*, std::vector<Update>> by_weight;

  const std::vector<Update>* find(const void* weight_data) const {
    auto it = by_weight.find(weight_data);
    return it == by_weight.end() ? nullptr : &it->second;
  }
  size_t bytes() const;  // memory of the updates
  double flops_per_token() const;  // of the low-rank products: sum of 2 rank (rows + cols)
};

// The adapters, each with its scale, resolved against m (checked with check_lora_fits). The
// updates point into the adapters, which the set keeps; the set is valid while m lives.
std::shared_ptr<const LoraSet> make_lora_set(const Model& m,
                                             const std::vector<std::pair<std::shared_ptr<const LoraAdapter>, float>>& adapters,
                                             const std::string& name = "");
// Loads FILE[:SCALE] choices and resolves them (null when the list is empty).
std::shared_ptr<const LoraSet> load_lora_set(const Model& m, const std::vector<std::string>& choices);

// y[R][rows] += sum over the updates of factor * (x[R][cols] A^T) B^T; counts the FLOPs.
void lora_apply(const std::vector<LoraSet::Update>& updates, int64_t rows, int64_t cols, const float* x, int64_t R, float* y);

}  // namespace flops
