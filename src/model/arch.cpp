#include "model/arch.h"

#include "core/error.h"

namespace flops {

namespace {

constexpr const char* kRmsEps = "attention.layer_norm_rms_epsilon";
constexpr const char* kLayerEps = "attention.layer_norm_epsilon";

// One row per family. Field order as in ArchSpec:
// arch, name, norm, norm_place, eps_key, rope, rope_freqs, learned_pos, token_types, embd_norm,
// embd_scale, fused_qkv, fused_gate_up, qkv_bias, out_bias, ffn_bias, norm_bias, ffn,
// sandwich_norms, softcaps, swa, swa_key_required, causal, final_norm, lm_head, output,
// attn_norm_name, ffn_norm_name.
const ArchSpec kSpecs[] = {
    // Llama 1-3.x and Mistral-style files: RMS pre-norm, NORM rope (with Llama 3.1's rope_freqs
    // when present), SwiGLU; llama.cpp accepts optional biases on every projection.
    {Arch::Llama, "llama", NormKind::RMS, NormPlace::Pre, kRmsEps, RopeStyle::Norm, true, false, false, false,
     false, false, false, Need::Optional, Need::Optional, Need::Optional, Need::No, FfnKind::SwiGLU,
     false, false, SwaLayers::None, false, true, true, true, Need::Optional, "attn_norm", "ffn_norm"},
    // Qwen 2 / 2.5: llama with NEOX rope and mandatory Q/K/V biases.
    {Arch::Qwen2, "qwen2", NormKind::RMS, NormPlace::Pre, kRmsEps, RopeStyle::Neox, false, false, false, false,
     false, false, false, Need::Required, Need::No, Need::No, Need::No, FfnKind::SwiGLU,
     false, false, SwaLayers::None, false, true, true, true, Need::Optional, "attn_norm", "ffn_norm"},
    // Phi-3 / 3.5: fused QKV and fused [gate; up], NEOX rope, a sliding window on every layer.
    {Arch::Phi3, "phi3", NormKind::RMS, NormPlace::Pre, kRmsEps, RopeStyle::Neox, false, false, false, false,
     false, true, true, Need::No, Need::No, Need::No, Need::No, FfnKind::SwiGLU,
     false, false, SwaLayers::All, true, true, true, true, Need::Required, "attn_norm", "ffn_norm"},
    // Gemma 2: input scaled by sqrt(n_embd), GELU-gated FFN, norms after attention and FFN too,
    // soft-capped attention scores and logits, sliding window on even layers, output tied.
    {Arch::Gemma2, "gemma2", NormKind::RMS, NormPlace::Pre, kRmsEps, RopeStyle::Neox, false, false, false, false,
     true, false, false, Need::No, Need::No, Need::No, Need::No, FfnKind::GeGLU,
     true, true, SwaLayers::Even, false, true, true, true, Need::No, "attn_norm", "ffn_norm"},
    // BERT: bidirectional encoder with learned positions and token types, LayerNorm after each
    // residual sum, biases everywhere, GELU; no output head (embeddings are pooled hidden states).
    {Arch::Bert, "bert", NormKind::Layer, NormPlace::Post, kLayerEps, RopeStyle::None, false, true, true, true,
     false, false, false, Need::Required, Need::Required, Need::Required, Need::Required, FfnKind::GELU,
     false, false, SwaLayers::None, false, false, false, false, Need::No, "attn_output_norm", "layer_output_norm"},
    // GPT-2: learned positions, LayerNorm with biases, fused QKV with bias, GELU.
    {Arch::GPT2, "gpt2", NormKind::Layer, NormPlace::Pre, kLayerEps, RopeStyle::None, false, true, false, false,
     false, true, false, Need::Required, Need::Required, Need::Required, Need::Required, FfnKind::GELU,
     false, false, SwaLayers::None, false, true, true, true, Need::Optional, "attn_norm", "ffn_norm"},
};

}  // namespace

std::string supported_arch_names() {
  std::string s;
  for (const ArchSpec& a : kSpecs) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

const ArchSpec& arch_spec(const std::string& name) {
  for (const ArchSpec& a : kSpecs)
    if (name == a.name) return a;
  fail("unsupported model architecture: general.architecture = '{}' (supported: {})", name, supported_arch_names());
}

const ArchSpec& arch_spec(Arch arch) {
  for (const ArchSpec& a : kSpecs)
    if (a.arch == arch) return a;
  fail("internal error: architecture {} has no description", (int)arch);
}

bool layer_is_sliding(const ModelConfig& c, int il) {
  if (c.n_swa <= 0) return false;
  switch (arch_spec(c.arch).swa) {
    case SwaLayers::None: return false;
    case SwaLayers::All: return true;
    case SwaLayers::Even: return il % 2 == 0;
  }
  return false;
}

}  // namespace flops
