#pragma once
// A loaded model: configuration, tokenizer and weight views into the mapped GGUF
// file. Quantized weights stay quantized in memory; only the small vectors
// (norms, biases) are converted to F32.
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/huge_pages.h"
#include "model/config.h"
#include "model/gguf.h"
#include "model/kv_cache.h"
#include "model/tokenizer.h"

namespace flops {

// A 2-D weight: `rows` rows of `cols` elements (GGUF ne = [cols, rows]).
struct Weight {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t cols = 0, rows = 0;
  // Packed 8 rows at a time by repack_for_decode (core/repack.h): data is then the packed copy.
  // file: the tensor's bytes in the file, its identity for LoRA lookups, when data is a copy.
  bool rows8 = false;
  // An F32 matrix coded losslessly in 7/8 of its bytes by repack_for_decode (core/f32_coded.h):
  // data is then the coded copy.
  bool f32_coded = false;
  const void* file = nullptr;
  explicit operator bool() const { return data != nullptr; }
  const void* key() const { return file ? file : data; }
};

// Which of these a layer has is its family's ArchSpec (arch.h); absent ones stay null.
struct LayerWeights {
  const float* attn_norm = nullptr;  // bert: attn_output_norm (after the residual sum)
  const float* attn_norm_b = nullptr;
  Weight wq, wk, wv, wqkv, wo;       // wqkv: fused [Q; K; V] rows
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bqkv = nullptr, *bo = nullptr;
  const float* post_attn_norm = nullptr;  // gemma2
  const float* ffn_norm = nullptr;   // bert: layer_output_norm
  const float* ffn_norm_b = nullptr;
  Weight w_gate, w_up, w_down;       // phi3: w_up holds [gate; up] (2 * n_ff rows), no w_gate
  const float *b_gate = nullptr, *b_up = nullptr, *b_down = nullptr;
  const float* post_ffn_norm = nullptr;   // gemma2
};

struct ArchSpec;
struct LoraSet;

struct Model {
  ModelConfig cfg;
  Tokenizer tok;
  GGUFFile gguf;
  std::string path;
  uint64_t file_size = 0;
  const ArchSpec* spec = nullptr;  // the family's description (arch.h)
  Weight tok_embd, pos_embd, type_embd, output;  // output: absent (data null) for encoders
  const float* embd_norm = nullptr;   // bert
  const float* embd_norm_b = nullptr;
  const float* rope_freqs = nullptr;  // n_rot / 2 frequency divisors (llama 3.1), or null
  const float* out_norm = nullptr;
  const float* out_norm_b = nullptr;
  std::vector<LayerWeights> layers;
  std::vector<std::unique_ptr<std::vector<float>>> owned;  // F32 copies of small vectors
  HugePages arena;  // the matrices repack_for_decode packed or moved out of the file
  // LoRA adapters applied at run time to every pass (model/lora_adapter.h); null: none. A
  // sequence of forward_multi may bring its own instead.
  std::shared_ptr<const LoraSet> lora;
  // Storage types of the KV caches inference makes for it (make_kv_cache(Model, n)): F32 unless
  // a command sets them (its -ctk/-ctv flags, F16 by default as in llama.cpp).
  KVCacheTypes kv_types;

  bool tied_output() const { return output.data == tok_embd.data; }
  bool has_lm_head() const { return output.data != nullptr; }
  int64_t n_params() const;  // all tensor elements in the file
};

struct ModelLoadOptions {
  // false: leave Model::tok empty (a model whose tokenizer flops cannot build yet can still be run
  // on token ids). The vocabulary size then comes from the token list in the metadata.
  bool tokenizer = true;
  // Inference only: repack_for_decode once loaded, so that decoding and prompts run on the packed
  // kernels. The training passes need row-major matrices and refuse a model loaded so.
  bool repack = false;
};

// Every tensor the family needs must be present with its shape, and every tensor in the file
// must be one the family uses: an unknown or unused tensor is an error naming it.
std::unique_ptr<Model> load_model(const std::string& path, const ModelLoadOptions& o = {});
// Builds a model from an already parsed GGUF (tests build files in memory).
std::unique_ptr<Model> load_model(GGUFFile g, const std::string& name, const ModelLoadOptions& o = {});
// load_model for code that only runs the model (commands, the server, the search embedder): its
// matrices repacked for the packed kernels (ModelLoadOptions::repack). Never for training,
// which needs them row-major.
std::unique_ptr<Model> load_for_inference(const std::string& path);

// One embedding row as F32.
void embedding_row(const Weight& w, int64_t row, float* out);

// y[R x w.rows] = x[R x w.cols] * w^T, through matmul or (packed weights) matmul_rows8.
void weight_matmul(const Weight& w, const float* x, int64_t R, float* y);
// y = x w^T for up to 8 weights of one input (q, k and v; gate and up): the packed ones in one
// matmul_rows8_many (x quantized once, one pool job), the others one by one. Same values.
struct WeightProduct {
  const Weight* w;
  float* y;
};
void weight_matmul_many(const WeightProduct* ps, int n, const float* x, int64_t R);

// Repacks the matrices that have a packed form (core/repack.h: Q4_0, Q8_0, Q4_K and Q6_K with
// rows a multiple of 8) for the packed kernels: small-batch decoding (one token for each of
// several sequences) and the int8 GEMM of prompts (matmul_rows8). Every inference command loads
// its model so (ModelLoadOptions::repack); training does not.
// The packed copy has the bytes of the original. The other matrices of a mapped model (but an
// embedding matrix that is not the output) are copied as they are: all of them then sit in one
// arena of huge pages (core/huge_pages.h), which a decode step streams faster than the file's
// 4 KB pages. The file's pages are released (the tensors in m.gguf still read correctly, from
// the file). Logits change by float rounding only. F32 matrices whose rows are a multiple of 128
// wide are coded losslessly in 7/8 of their bytes (core/f32_coded.h) where the CPU has the
// coded row dot (AVX-512 VBMI), with the same logits bit for bit. Returns the bytes packed.
uint64_t repack_for_decode(Model& m);

}  // namespace flops
