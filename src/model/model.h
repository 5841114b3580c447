#pragma once
// A loaded model: configuration, tokenizer and weight views into the mapped GGUF
// file. Quantized weights stay quantized in memory; only the small vectors
// (norms, biases) are converted to F32.
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/config.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace flops {

// A 2-D weight: `rows` rows of `cols` elements (GGUF ne = [cols, rows]).
struct Weight {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t cols = 0, rows = 0;
  explicit operator bool() const { return data != nullptr; }
};

struct LayerWeights {
  const float* attn_norm = nullptr;
  const float* attn_norm_b = nullptr;
  Weight wq, wk, wv, wqkv, wo;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bqkv = nullptr, *bo = nullptr;
  const float* ffn_norm = nullptr;
  const float* ffn_norm_b = nullptr;
  Weight w_gate, w_up, w_down;
  const float *b_up = nullptr, *b_down = nullptr;
};

struct Model {
  ModelConfig cfg;
  Tokenizer tok;
  GGUFFile gguf;
  std::string path;
  uint64_t file_size = 0;
  Weight tok_embd, pos_embd, output;
  const float* out_norm = nullptr;
  const float* out_norm_b = nullptr;
  std::vector<LayerWeights> layers;
  std::vector<std::unique_ptr<std::vector<float>>> owned;  // F32 copies of small vectors

  bool tied_output() const { return output.data == tok_embd.data; }
  int64_t n_params() const;  // all tensor elements in the file
};

std::unique_ptr<Model> load_model(const std::string& path);
// Builds a model from an already parsed GGUF (tests build files in memory).
std::unique_ptr<Model> load_model(GGUFFile g, const std::string& name);

// One embedding row as F32.
void embedding_row(const Weight& w, int64_t row, float* out);

}  // namespace flops
