#pragma once
// A llama-architecture model held for training: every parameter lives in one
// contiguous fp32 buffer (so the optimizer, gradient clipping and the MPI
// all-reduce see a single array), with a table of named tensors into it.
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace flops {
struct GGUFFile;
struct GGUFWriter;
}  // namespace flops

namespace flops::train {

// Offsets (in floats) of one layer's tensors inside Model::w.
struct LayerOffsets {
  size_t attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
  size_t bq = 0, bk = 0, bv = 0;  // qwen2 only (has_qkv_bias)
};

struct TensorRef {
  std::string name;            // llama.cpp name, e.g. "blk.0.attn_q.weight"
  size_t offset = 0;           // into Model::w
  size_t count = 0;
  std::vector<int64_t> shape;  // ggml order: ne[0] = input (contiguous) dimension
  bool decay = false;          // AdamW weight decay applies (matrices only)
  float lr_scale = 1.0f;       // this tensor's learning rate is the schedule's times this (LoRA+: B)
};

struct Model {
  ModelConfig cfg;
  bool tied_output = true;   // output matrix is token_embd (no output.weight)
  bool neox_rope = false;    // qwen2 rotates (x[i], x[i + n_rot/2]); llama rotates adjacent pairs
  bool has_qkv_bias = false;
  size_t tok_emb = 0, out_norm = 0, output = 0;
  std::vector<LayerOffsets> layers;
  std::vector<TensorRef> tensors;
  std::vector<float> w;  // parameters
  std::vector<float> g;  // gradients, same layout

  size_t n_params() const { return w.size(); }
  const float* out_matrix() const { return w.data() + (tied_output ? tok_emb : output); }
  const TensorRef* find(const std::string& name) const;
};

// Lays out the tensors for `cfg` (all zero). Validates the dimensions.
Model make_model(const ModelConfig& cfg, bool tied_output);
// Normal(0, std) matrices, residual projections scaled by 1/sqrt(2 * n_layer), norms 1.
// GPT-2's 0.02 suits wide models; narrow ones (dim 64) start with attention logits so small
// that content-based attention (induction heads) takes thousands of steps to form, and a
// larger std (about 1/sqrt(dim)) shortens that plateau.
void init_weights(Model& m, uint64_t seed, float std = 0.02f);

// Loads a llama or qwen2 GGUF (F32/F16/BF16, quantized types dequantized) for fine-tuning.
Model load_gguf_model(const GGUFFile& g);
Model load_gguf_model(const std::string& path);
// Adds the architecture metadata and every tensor as F32 (ne = [in, out]); the caller adds
// general.* and tokenizer.* metadata and writes the file.
void add_model_to_gguf(const Model& m, GGUFWriter& w);

// Copies every "tokenizer.*" key of `src` into `w` (so llama.cpp and the engine can
// tokenize with the written model).
void copy_tokenizer_metadata(const GGUFFile& src, GGUFWriter& w);

}  // namespace flops::train
