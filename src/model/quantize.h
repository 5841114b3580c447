#pragma once
// Converting a GGUF model to another tensor type: `flops quantize IN OUT TYPE`.
//
// TYPE is a llama-quantize name: a plain type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
// Q6_K, IQ4_NL, IQ4_XS) or a mix (Q2_K, Q3_K_S/M/L, Q4_K_S/M, Q5_K_S/M; Q3_K, Q4_K and Q5_K
// mean the _M mixes, as in llama-quantize). Which tensor gets which type follows llama.cpp's
// rules (quantize_mix.cpp documents them and where flops differs): 1-D tensors (norms,
// biases) are copied, the output matrix gets Q6_K in the quantized types, and the mixes give
// some attn_v / ffn_down / attn_output matrices more bits. A row length the chosen type's block
// does not divide falls back to a type that fits (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0,
// Q2_K/Q3_K/IQ4_XS -> IQ4_NL, then F16), and the plan says so.
//
// Every metadata key is kept in order; general.quantization_version = 2 and general.file_type
// (llama.cpp's llama_ftype number) go last, as llama-quantize writes them. The output is
// written atomically and streamed one tensor at a time.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/gguf.h"

namespace flops {

struct QuantMix {
  std::string name;       // "Q4_K_M"
  DType base;             // the type of most 2-D weights
  uint32_t file_type;     // general.file_type
  std::string summary;    // one line for the command's help
};

// Every name `flops quantize` accepts, in the order help shows them.
const std::vector<QuantMix>& quant_mixes();
// Case-insensitive; fails naming the accepted names (and saying why for IQ2_XXS and the like).
const QuantMix& quant_mix(const std::string& name);

struct QuantizeOptions {
  bool allow_requantize = false;  // quantized input tensors are dequantized and quantized again
  bool pure = false;              // every quantized weight in the base type (no mix rules)
  // Called after each tensor with (elements done, elements in all tensors).
  std::function<void(int64_t, int64_t)> progress;
};

struct TensorPlan {
  std::string name;
  std::vector<int64_t> shape;
  DType from = DType::F32, to = DType::F32;
  uint64_t n_elements = 0, bytes_in = 0, bytes_out = 0;
  std::string note;  // why it got `to` when that is not the base type ("" otherwise)
  bool fallback = false;  // the rule's type did not fit the row length
};

// What quantize_file would do with each tensor, in file order. Fails on an input tensor that
// is already quantized (and would change type) unless allow_requantize.
std::vector<TensorPlan> plan_quantization(const GGUFFile& in, const QuantMix& mix, const QuantizeOptions& o);

struct QuantizeResult {
  QuantMix mix;
  std::vector<TensorPlan> tensors;
  uint64_t file_bytes_in = 0, file_bytes_out = 0;
  uint64_t tensor_bytes_in = 0, tensor_bytes_out = 0, n_elements = 0;
  double seconds = 0;
  double bits_per_weight_in() const { return n_elements ? 8.0 * (double)tensor_bytes_in / (double)n_elements : 0; }
  double bits_per_weight_out() const { return n_elements ? 8.0 * (double)tensor_bytes_out / (double)n_elements : 0; }
};

QuantizeResult quantize_file(const std::string& in_path, const std::string& out_path, const QuantMix& mix,
                             const QuantizeOptions& o);

}  // namespace flops
