#pragma once
// Model families as data. Each family (GGUF general.architecture) is one ArchSpec: which norm,
// where the norms sit, the rope style, which tensors carry biases, which matrices are fused, the
// FFN activation, the attention pattern, extra embeddings and norms, soft-caps, and what the
// final layer is. forward.cpp reads these fields in one pass; a new family is a new entry in
// arch.cpp (plus at most one new kernel), never a new branch on the family's name.
//
// The facts encoded here are those of llama.cpp c392e509's model builders (llama-model.cpp), the
// reference the project checks its numbers against (see ../shared/data/llama-reference/SOURCE.md).
#include <string>

#include "model/config.h"

namespace flops {

enum class NormKind { RMS, Layer };           // x/rms(x)*w  or  (x-mean)/sd*w + b
enum class NormPlace { Pre, Post };           // on the block's input, or on the residual sum (bert)
enum class RopeStyle { None, Norm, Neox };    // rotated pairs (2i, 2i+1) or (i, i + n_rot/2)
enum class FfnKind { SwiGLU, GeGLU, GELU };   // silu(gate)*up, gelu(gate)*up, or gelu(up)
enum class Need { No, Optional, Required };   // a tensor the family does not have / may have / must have
enum class SwaLayers { None, All, Even };     // layers with a sliding window (when n_swa > 0)

struct ArchSpec {
  Arch arch;
  const char* name;             // general.architecture
  NormKind norm;
  NormPlace norm_place;
  const char* eps_key;          // "<arch>." + this: the norm epsilon
  RopeStyle rope;
  bool rope_freqs;              // may carry rope_freqs.weight (Llama 3.1 per-pair frequency divisors)
  bool learned_pos;             // position_embd.weight added to the input (gpt2, bert)
  bool token_types;             // token_types.weight row 0 added to the input (bert)
  bool embd_norm;               // token_embd_norm on the input (bert)
  bool embd_scale;              // input times sqrt(n_embd) (gemma2)
  bool fused_qkv;               // one attn_qkv matrix with [Q; K; V] rows (gpt2, phi3)
  bool fused_gate_up;           // one ffn_up matrix with [gate; up] rows (phi3)
  Need qkv_bias, out_bias, ffn_bias, norm_bias;
  FfnKind ffn;
  bool sandwich_norms;          // post_attention_norm and post_ffw_norm on each block's output (gemma2)
  bool softcaps;                // attention and final logit soft-caps from metadata (gemma2)
  SwaLayers swa;                // which layers use <arch>.attention.sliding_window
  bool swa_key_required;        // llama.cpp refuses the file without the key (phi3)
  bool causal;                  // default of <arch>.attention.causal
  bool final_norm;              // output_norm before the head (bert has none: its last norm is in the layer)
  bool lm_head;                 // has an output matrix (bert is an encoder: embeddings only)
  Need output;                  // a separate output.weight: Optional = tied to token_embd when absent
  // Tensor names (blk.N.<name>.weight) of the two block norms.
  const char* attn_norm_name;
  const char* ffn_norm_name;
};

// The family of a GGUF general.architecture value; throws naming the key and value when unknown.
const ArchSpec& arch_spec(const std::string& name);
const ArchSpec& arch_spec(Arch a);
// "llama, qwen2, ..." for messages and docs.
std::string supported_arch_names();

// Does layer `il` use the sliding window? (n_swa > 0 and the family's layer pattern)
bool layer_is_sliding(const ModelConfig& c, int il);

}  // namespace flops
