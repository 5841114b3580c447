#include "model/config.h"

#include "core/error.h"
#include "model/gguf.h"

namespace flops {

Arch parse_arch(const std::string& name) {
  if (name == "llama") return Arch::Llama;
  if (name == "qwen2") return Arch::Qwen2;
  if (name == "gpt2") return Arch::GPT2;
  fail("unsupported model architecture '{}' (supported: llama, qwen2, gpt2)", name);
}

ModelConfig config_from_gguf(const GGUFFile& g) {
  ModelConfig c;
  c.arch_name = g.get_string("general.architecture");
  c.arch = parse_arch(c.arch_name);
  const std::string a = c.arch_name + ".";
  auto pos_int = [&](const std::string& key, int64_t max) {
    int64_t v = g.get_int(key);
    if (v <= 0 || v > max) fail("model metadata '{}' = {} is out of range (1..{})", key, v, max);
    return (int)v;
  };
  c.n_embd = pos_int(a + "embedding_length", 1 << 16);
  c.n_layer = pos_int(a + "block_count", 1024);
  c.n_head = pos_int(a + "attention.head_count", 1024);
  c.n_head_kv = g.find(a + "attention.head_count_kv") ? pos_int(a + "attention.head_count_kv", 1024) : c.n_head;
  c.n_ff = pos_int(a + "feed_forward_length", 1 << 20);
  c.n_ctx_train = pos_int(a + "context_length", 1 << 24);
  if (c.n_embd % c.n_head != 0) fail("embedding length {} is not divisible by head count {}", c.n_embd, c.n_head);
  if (c.n_head % c.n_head_kv != 0) fail("head count {} is not divisible by KV head count {}", c.n_head, c.n_head_kv);
  c.n_rot = g.find(a + "rope.dimension_count") ? pos_int(a + "rope.dimension_count", c.head_dim()) : c.head_dim();
  if (c.n_rot % 2 != 0) fail("rope dimension count {} is odd", c.n_rot);
  c.rope_theta = (float)g.get_float(a + "rope.freq_base", 10000.0);
  if (c.arch == Arch::GPT2)
    c.norm_eps = (float)g.get_float(a + "attention.layer_norm_epsilon", 1e-5);
  else
    c.norm_eps = (float)g.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5);
  if (!(c.norm_eps > 0 && c.norm_eps < 1)) fail("model norm epsilon {} is out of range", c.norm_eps);
  if (g.find("tokenizer.ggml.tokens"))
    c.n_vocab = (int)g.array_size("tokenizer.ggml.tokens");
  else
    c.n_vocab = (int)g.get_int(a + "vocab_size", 0);
  return c;
}

void config_to_gguf(const ModelConfig& c, GGUFWriter& w) {
  const std::string a = c.arch_name + ".";
  w.set_string("general.architecture", c.arch_name);
  w.set_u32(a + "context_length", c.n_ctx_train);
  w.set_u32(a + "embedding_length", c.n_embd);
  w.set_u32(a + "block_count", c.n_layer);
  w.set_u32(a + "feed_forward_length", c.n_ff);
  w.set_u32(a + "attention.head_count", c.n_head);
  w.set_u32(a + "attention.head_count_kv", c.n_head_kv);
  if (c.arch == Arch::GPT2) {
    w.set_f32(a + "attention.layer_norm_epsilon", c.norm_eps);
  } else {
    w.set_u32(a + "rope.dimension_count", c.n_rot ? c.n_rot : c.head_dim());
    w.set_f32(a + "rope.freq_base", c.rope_theta);
    w.set_f32(a + "attention.layer_norm_rms_epsilon", c.norm_eps);
  }
  w.set_u32(a + "vocab_size", c.n_vocab);
}

int64_t ModelConfig::n_params_matmul() const {
  int64_t d = n_embd, L = n_layer, kv = kv_dim();
  int64_t attn = d * d /*q*/ + 2 * d * kv /*k,v*/ + d * d /*o*/;
  int64_t ffn = (arch == Arch::GPT2 ? 2 : 3) * d * n_ff;
  return L * (attn + ffn) + (int64_t)n_vocab * d;
}

double ModelConfig::forward_flops(int64_t n_tokens, int64_t n_past) const {
  double mm = 2.0 * (double)n_params_matmul() * (double)n_tokens;
  // Token i (0-based in the batch) attends to n_past + i + 1 keys: QK^T and AV are
  // each 2 * head_dim FLOPs per (query head, key).
  double keys = (double)n_tokens * (double)n_past + (double)n_tokens * (double)(n_tokens + 1) / 2.0;
  double attn = 2.0 * 2.0 * (double)head_dim() * (double)n_head * keys * (double)n_layer;
  return mm + attn;
}

}  // namespace flops
