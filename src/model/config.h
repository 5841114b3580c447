#pragma once
// Hyperparameters of a transformer, read from (or written to) GGUF metadata
// with llama.cpp's key names: "<arch>.embedding_length" and so on.
#include <cstdint>
#include <string>

namespace flops {

struct GGUFFile;
struct GGUFWriter;

enum class Arch { Llama, Qwen2, Phi3, Gemma2, Bert, GPT2 };

struct ModelConfig {
  Arch arch = Arch::Llama;
  std::string arch_name = "llama";  // GGUF general.architecture
  int n_vocab = 0;
  int n_embd = 0;       // <arch>.embedding_length
  int n_layer = 0;      // <arch>.block_count
  int n_head = 0;       // <arch>.attention.head_count
  int n_head_kv = 0;    // <arch>.attention.head_count_kv (defaults to n_head)
  int n_ff = 0;         // <arch>.feed_forward_length
  int n_ctx_train = 0;  // <arch>.context_length
  int n_rot = 0;        // <arch>.rope.dimension_count (defaults to head_dim)
  float rope_theta = 10000.0f;  // <arch>.rope.freq_base
  float norm_eps = 1e-5f;       // attention.layer_norm_rms_epsilon (RMS families) or attention.layer_norm_epsilon
  // Options some families read (see arch.h for which); defaults leave them off.
  int n_embd_head = 0;          // attention.key_length (= value_length); 0: n_embd / n_head
  float rope_freq_scale = 1.0f; // 1 / rope.scaling.factor (linear scaling; rope.scale_linear in old files)
  float attn_softcap = 0.0f;    // attn_logit_softcapping: scores -> cap * tanh(scores / cap)
  float final_softcap = 0.0f;   // final_logit_softcapping: logits -> cap * tanh(logits / cap)
  int n_swa = 0;                // attention.sliding_window: a key at p_k is hidden from p_q when p_q - p_k >= n_swa
  bool causal = true;           // attention.causal (bert: false, bidirectional)
  int pooling_type = -1;        // pooling_type as llama.cpp numbers it (0 none, 1 mean, 2 cls, 3 last); -1 absent
  float attn_scale = 0.0f;      // query scale; 0: 1/sqrt(head_dim)

  int head_dim() const { return n_embd_head > 0 ? n_embd_head : n_embd / n_head; }
  int q_dim() const { return n_head * head_dim(); }
  int kv_dim() const { return n_head_kv * head_dim(); }
  float query_scale() const;
  // Parameters in the matrices that every token multiplies (excluding the token embedding
  // lookup, including the output matrix): the N of the 2N-FLOPs-per-token rule.
  int64_t n_params_matmul() const;
  // Analytic forward FLOPs (matmuls + attention) for `n_tokens` new tokens
  // that each attend to `n_past` earlier tokens plus the causal part of the batch.
  double forward_flops(int64_t n_tokens, int64_t n_past = 0) const;
};

Arch parse_arch(const std::string& name);  // throws naming the unsupported architecture
// Options are read as llama.cpp reads them; unsupported values (a rope scaling type, a pooling
// type, mixture-of-experts) are refused naming the key and the value.
ModelConfig config_from_gguf(const GGUFFile& g);
void config_to_gguf(const ModelConfig& c, GGUFWriter& w);

// Tensor names as llama.cpp writes them.
namespace tensor_names {
inline const char* token_embd = "token_embd.weight";
inline const char* pos_embd = "position_embd.weight";  // gpt2, bert
inline const char* type_embd = "token_types.weight";   // bert
inline const char* embd_norm = "token_embd_norm.weight";  // bert
inline const char* embd_norm_bias = "token_embd_norm.bias";
inline const char* rope_freqs = "rope_freqs.weight";   // llama 3.1
inline const char* output_norm = "output_norm.weight";
inline const char* output_norm_bias = "output_norm.bias";
inline const char* output = "output.weight";  // absent when tied to token_embd
// Per layer: "blk.<i>." + one of these.
inline const char* attn_norm = "attn_norm.weight";
inline const char* attn_norm_bias = "attn_norm.bias";
inline const char* attn_q = "attn_q.weight";
inline const char* attn_k = "attn_k.weight";
inline const char* attn_v = "attn_v.weight";
inline const char* attn_q_bias = "attn_q.bias";
inline const char* attn_k_bias = "attn_k.bias";
inline const char* attn_v_bias = "attn_v.bias";
inline const char* attn_qkv = "attn_qkv.weight";  // gpt2, phi3 fused
inline const char* attn_qkv_bias = "attn_qkv.bias";
inline const char* attn_output = "attn_output.weight";
inline const char* attn_output_bias = "attn_output.bias";
inline const char* ffn_norm = "ffn_norm.weight";
inline const char* ffn_norm_bias = "ffn_norm.bias";
inline const char* ffn_gate = "ffn_gate.weight";
inline const char* ffn_up = "ffn_up.weight";
inline const char* ffn_down = "ffn_down.weight";
inline const char* ffn_up_bias = "ffn_up.bias";
inline const char* ffn_gate_bias = "ffn_gate.bias";
inline const char* post_attn_norm = "post_attention_norm.weight";  // gemma2
inline const char* post_ffn_norm = "post_ffw_norm.weight";
inline const char* ffn_down_bias = "ffn_down.bias";
}  // namespace tensor_names

}  // namespace flops
