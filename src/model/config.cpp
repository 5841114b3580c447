#include "model/config.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/arch.h"
#include "model/gguf.h"

namespace flops {

Arch parse_arch(const std::string& name) { return arch_spec(name).arch; }

float ModelConfig::query_scale() const { return attn_scale > 0 ? attn_scale : 1.0f / std::sqrt((float)head_dim()); }

ModelConfig config_from_gguf(const GGUFFile& g) {
  ModelConfig c;
  c.arch_name = g.get_string("general.architecture");
  const ArchSpec& s = arch_spec(c.arch_name);
  c.arch = s.arch;
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
  if (c.n_head % c.n_head_kv != 0) fail("head count {} is not divisible by KV head count {}", c.n_head, c.n_head_kv);
  if (g.find(a + "expert_count") && g.get_int(a + "expert_count") > 0)
    fail("unsupported model: metadata '{}' = {} (mixture-of-experts models are not supported)", a + "expert_count",
         g.get_int(a + "expert_count"));
  // Head size: gemma-style files give it (the query width n_head * head_dim need not be n_embd).
  if (g.find(a + "attention.key_length")) {
    const int kl = pos_int(a + "attention.key_length", 1 << 12);
    const int vl = g.find(a + "attention.value_length") ? pos_int(a + "attention.value_length", 1 << 12) : kl;
    if (kl != vl)
      fail("unsupported model: metadata '{}' = {} differs from '{}' = {} (flops needs equal key and value head sizes)",
           a + "attention.key_length", kl, a + "attention.value_length", vl);
    c.n_embd_head = kl;
  } else if (c.n_embd % c.n_head != 0) {
    fail("embedding length {} is not divisible by head count {}", c.n_embd, c.n_head);
  }
  if (s.rope != RopeStyle::None) {
    const std::string rk = a + "rope.dimension_count";
    c.n_rot = g.find(rk) ? pos_int(rk, c.head_dim()) : c.head_dim();
    if (c.n_rot % 2 != 0) fail("model metadata '{}' = {} is odd", rk, c.n_rot);
    c.rope_theta = (float)g.get_float(a + "rope.freq_base", 10000.0);
    if (!(c.rope_theta > 0)) fail("model metadata '{}' = {} is not positive", a + "rope.freq_base", c.rope_theta);
    // llama.cpp: the factor comes from rope.scaling.factor (or the older rope.scale_linear); the
    // type defaults to linear. YaRN and LongRoPE change more than the frequencies: refused.
    const std::string tk = a + "rope.scaling.type";
    const std::string type = g.get_string(tk, "");
    double factor = g.get_float(a + "rope.scaling.factor", 0.0);
    if (factor == 0.0) factor = g.get_float(a + "rope.scale_linear", 0.0);
    if (factor < 0 || !std::isfinite(factor)) fail("model metadata '{}' = {} is not a valid factor", a + "rope.scaling.factor", factor);
    if (type.empty() || type == "linear")
      c.rope_freq_scale = factor > 0 ? (float)(1.0 / factor) : 1.0f;
    else if (type != "none")
      fail("unsupported rope scaling: model metadata '{}' = '{}' (flops supports none and linear, and Llama 3.1's "
           "rope_freqs tensor)", tk, type);
  } else {
    c.n_rot = 0;
  }
  c.norm_eps = (float)g.get_float(a + s.eps_key, 1e-5);
  if (!(c.norm_eps > 0 && c.norm_eps < 1)) fail("model metadata '{}' = {} is out of range", a + s.eps_key, c.norm_eps);
  if (s.softcaps) {  // llama.cpp's defaults for gemma2 files without the keys
    c.attn_softcap = (float)g.get_float(a + "attn_logit_softcapping", 50.0);
    c.final_softcap = (float)g.get_float(a + "final_logit_softcapping", 30.0);
    if (!(c.attn_softcap > 0) || !(c.final_softcap > 0))
      fail("model metadata: soft-caps must be positive ({} = {}, {} = {})", a + "attn_logit_softcapping", c.attn_softcap,
           a + "final_logit_softcapping", c.final_softcap);
  }
  if (s.swa != SwaLayers::None) {
    const std::string wk = a + "attention.sliding_window";
    if (!g.find(wk) && s.swa_key_required) fail("missing model metadata '{}' (required for {})", wk, c.arch_name);
    c.n_swa = (int)g.get_int(wk, 4096);  // 4096: llama.cpp's default for gemma2
    if (c.n_swa < 0) fail("model metadata '{}' = {} is negative", wk, c.n_swa);
  }
  c.causal = g.get_bool(a + "attention.causal", s.causal);
  if (g.find(a + "pooling_type")) {
    const int64_t p = g.get_int(a + "pooling_type");
    if (p < 0 || p > 3)
      fail("unsupported pooling: model metadata '{}' = {} (flops supports 0 none, 1 mean, 2 cls, 3 last)",
           a + "pooling_type", p);
    c.pooling_type = (int)p;
  }
  // llama.cpp picks gemma2's query scale by model size: the 27B (46 layers) scales by n_embd / n_head.
  if (c.arch == Arch::Gemma2 && c.n_layer == 46) c.attn_scale = 1.0f / std::sqrt((float)(c.n_embd / c.n_head));
  if (g.find("tokenizer.ggml.tokens"))
    c.n_vocab = (int)g.array_size("tokenizer.ggml.tokens");
  else
    c.n_vocab = (int)g.get_int(a + "vocab_size", 0);
  return c;
}

void config_to_gguf(const ModelConfig& c, GGUFWriter& w) {
  const ArchSpec& s = arch_spec(c.arch);
  const std::string a = c.arch_name + ".";
  if (c.arch_name != s.name) fail("config architecture name '{}' does not match its family '{}'", c.arch_name, s.name);
  w.set_string("general.architecture", c.arch_name);
  w.set_u32(a + "context_length", c.n_ctx_train);
  w.set_u32(a + "embedding_length", c.n_embd);
  w.set_u32(a + "block_count", c.n_layer);
  w.set_u32(a + "feed_forward_length", c.n_ff);
  w.set_u32(a + "attention.head_count", c.n_head);
  w.set_u32(a + "attention.head_count_kv", c.n_head_kv);
  if (c.n_embd_head > 0 && c.n_embd_head * c.n_head != c.n_embd) {
    w.set_u32(a + "attention.key_length", c.n_embd_head);
    w.set_u32(a + "attention.value_length", c.n_embd_head);
  }
  if (s.rope != RopeStyle::None) {
    w.set_u32(a + "rope.dimension_count", c.n_rot ? c.n_rot : c.head_dim());
    w.set_f32(a + "rope.freq_base", c.rope_theta);
    if (c.rope_freq_scale != 1.0f) {
      w.set_string(a + "rope.scaling.type", "linear");
      w.set_f32(a + "rope.scaling.factor", 1.0f / c.rope_freq_scale);
    }
  }
  w.set_f32(a + s.eps_key, c.norm_eps);
  if (s.softcaps) {
    w.set_f32(a + "attn_logit_softcapping", c.attn_softcap);
    w.set_f32(a + "final_logit_softcapping", c.final_softcap);
  }
  if (s.swa != SwaLayers::None) w.set_u32(a + "attention.sliding_window", c.n_swa);
  if (c.causal != s.causal) w.set_bool(a + "attention.causal", c.causal);
  if (c.pooling_type >= 0) w.set_u32(a + "pooling_type", c.pooling_type);
  w.set_u32(a + "vocab_size", c.n_vocab);
}

int64_t ModelConfig::n_params_matmul() const {
  const ArchSpec& s = arch_spec(arch);
  int64_t d = n_embd, L = n_layer, kv = kv_dim(), qd = q_dim();
  int64_t attn = d * qd /*q*/ + 2 * d * kv /*k,v*/ + qd * d /*o*/;
  int64_t ffn = (s.ffn == FfnKind::GELU ? 2 : 3) * d * n_ff;
  return L * (attn + ffn) + (s.lm_head ? (int64_t)n_vocab * d : 0);
}

double ModelConfig::forward_flops(int64_t n_tokens, int64_t n_past) const {
  double mm = 2.0 * (double)n_params_matmul() * (double)n_tokens;
  // Keys each new token attends to, summed over the batch: causal token i sees n_past + i + 1;
  // under a sliding window at most n_swa of them; bidirectional, all n_past + n_tokens.
  auto keys = [&](bool sliding) -> double {
    const double T = (double)n_tokens, np = (double)n_past;
    if (!causal) return T * (np + T);
    if (!sliding) return T * np + T * (T + 1) / 2.0;
    const double W = (double)n_swa, first = np + 1;  // token i sees min(first + i, W)
    const double k = std::clamp(W - first, 0.0, T);   // tokens below the cap
    return k * first + k * (k - 1) / 2.0 + (T - k) * W;
  };
  double attn = 0;
  for (int l = 0; l < n_layer; l++) attn += 2.0 * 2.0 * (double)head_dim() * (double)n_head * keys(layer_is_sliding(*this, l));
  return mm + attn;
}

}  // namespace flops
