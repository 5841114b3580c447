// The mixes: which type each tensor gets, by llama.cpp's rules (llama-quantize, c392e509), so
// that a Q4_K_M from flops holds the same tensor types as llama.cpp's Q4_K_M. The rules were
// checked against the per-tensor types of ../shared/data/llama-reference/llama.*.gguf
// (tests/test_quantize.cpp compares every file's plan with the file).
//
// Which tensors are quantized: names ending in "weight" with at least 2 dimensions (trailing
// dimensions of 1 do not count), except *_norm.weight, position_embd.weight,
// token_types.weight and ffn_gate_inp.weight (MoE routers). Others are copied unchanged.
// For a quantized base type, with use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
// over the i-th attn_v (of n) or ffn_down (of n_layer):
//   output.weight (token_embd.weight when there is no output): Q6_K, unless the base is Q8_0
//     (kept) or rows are not a multiple of 256 (Q8_0).
//   attn_v: Q2_K -> Q3_K (Q4_K with 4+ query heads per KV head); Q3_K_M -> Q5_K for the first two,
//     then Q4_K; Q3_K_L -> Q5_K; IQ4_NL/IQ4_XS with 4+ heads per KV head -> Q5_K;
//     Q4_K_M/Q5_K_M -> Q6_K where use_more_bits; Q4_K_S -> Q5_K for the first four;
//     80-layer llama models: Q3_K/Q4_K -> Q5_K; 8 experts: Q8_0.
//   attn_k with 8 experts: Q8_0.
//   ffn_down: Q2_K -> Q3_K; Q3_K_M -> Q5_K in the first n/16 layers, else Q4_K (falcon: Q4_K
//     only where use_more_bits); Q3_K_L -> Q5_K (falcon Q4_K); Q4_K_M -> Q6_K where use_more_bits
//     (falcon: Q6_K in the first n/16, Q5_K where use_more_bits); IQ4_NL/IQ4_XS -> Q5_K in the
//     first n/8; Q5_K_M -> Q6_K where use_more_bits; Q4_K_S -> Q5_K in the first n/8 (not falcon).
//   attn_output (not falcon, no 8 experts): Q2_K -> Q3_K, Q3_K_M -> Q4_K, Q3_K_L -> Q5_K;
//     falcon: Q3_K_L -> Q4_K.
//   attn_qkv: Q3_K_M/Q3_K_L -> Q4_K, Q4_K_M -> Q5_K, Q5_K_M -> Q6_K.
// Where flops differs: rules for the IQ1/IQ2/IQ3 mixes (which flops cannot write) and for
// imatrix-guided quantization are absent; a 32-element type whose block does not divide the
// rows falls back to F16 (llama-quantize stops with an error there); --pure still applies the
// fallback for row lengths (llama-quantize would abort).
#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "model/quantize.h"

namespace flops {

namespace {

// llama.cpp's llama_ftype numbers.
enum FType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 7, kQ5_0 = 8, kQ5_1 = 9, kQ2_K = 10, kQ3_K_S = 11,
  kQ3_K_M = 12, kQ3_K_L = 13, kQ4_K_S = 14, kQ4_K_M = 15, kQ5_K_S = 16, kQ5_K_M = 17, kQ6_K = 18,
  kIQ4_NL = 25, kIQ4_XS = 30, kBF16 = 32,
};

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}
bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

struct Model {
  std::string arch;
  int n_layer = 0, n_gqa = 1, n_expert = 0, n_attention_wv = 0;
  bool has_output = false;
  int i_attention_wv = 0, i_ffn_down = 0;
};

int64_t n_dims(const std::vector<int64_t>& shape) {
  int64_t n = (int64_t)shape.size();
  while (n > 1 && shape[n - 1] == 1) n--;
  return n;
}

bool quantizable(const GGUFTensorInfo& t) {
  const std::string& n = t.name;
  return ends_with(n, "weight") && n_dims(t.shape) >= 2 && !has(n, "_norm.weight") && n != "position_embd.weight" &&
         n != "token_types.weight" && !has(n, "ffn_gate_inp.weight");
}

// The rule's type for a quantized base (before the row-length fallback).
DType rule_type(Model& m, const std::string& name, int64_t ne0, DType t, uint32_t ft, std::string& note) {
  const bool falcon = m.arch == "falcon";
  auto set = [&](DType to, const char* why) {
    if (to != t) note = why;
    t = to;
  };
  if (name == "output.weight" || (!m.has_output && name == "token_embd.weight")) {
    if (falcon || ne0 % QK_K != 0) set(DType::Q8_0, "output matrix (rows not a multiple of 256)");
    else if (t != DType::Q8_0) set(DType::Q6_K, "output matrix");
  } else if (has(name, "attn_v.weight")) {
    const int i = m.i_attention_wv++, n = m.n_attention_wv;
    if (ft == kQ2_K) set(m.n_gqa >= 4 ? DType::Q4_K : DType::Q3_K, "attn_v in Q2_K");
    else if (ft == kQ3_K_M) set(i < 2 ? DType::Q5_K : DType::Q4_K, "attn_v in Q3_K_M");
    else if (ft == kQ3_K_L) set(DType::Q5_K, "attn_v in Q3_K_L");
    else if ((ft == kIQ4_NL || ft == kIQ4_XS) && m.n_gqa >= 4) set(DType::Q5_K, "attn_v with 4+ heads per KV head");
    else if ((ft == kQ4_K_M || ft == kQ5_K_M) && use_more_bits(i, n)) set(DType::Q6_K, "attn_v, more bits in this layer");
    else if (ft == kQ4_K_S && i < 4) set(DType::Q5_K, "attn_v of the first 4 layers in Q4_K_S");
    if (m.arch == "llama" && m.n_layer == 80 && (t == DType::Q3_K || t == DType::Q4_K))
      set(DType::Q5_K, "attn_v of an 80-layer model");
    if (m.n_expert == 8) set(DType::Q8_0, "attn_v with 8 experts");
  } else if (has(name, "attn_k.weight")) {
    if (m.n_expert == 8) set(DType::Q8_0, "attn_k with 8 experts");
  } else if (has(name, "ffn_down")) {
    const int i = m.i_ffn_down++, n = m.n_layer;
    if (ft == kQ2_K) set(DType::Q3_K, "ffn_down in Q2_K");
    else if (ft == kQ3_K_M)
      set(i < n / 16 ? DType::Q5_K : !falcon || use_more_bits(i, n) ? DType::Q4_K : DType::Q3_K, "ffn_down in Q3_K_M");
    else if (ft == kQ3_K_L) set(falcon ? DType::Q4_K : DType::Q5_K, "ffn_down in Q3_K_L");
    else if (ft == kQ4_K_M) {
      if (falcon) set(i < n / 16 ? DType::Q6_K : use_more_bits(i, n) ? DType::Q5_K : DType::Q4_K, "ffn_down in Q4_K_M");
      else if (use_more_bits(i, n)) set(DType::Q6_K, "ffn_down, more bits in this layer");
    } else if (i < n / 8 && (ft == kIQ4_NL || ft == kIQ4_XS)) set(DType::Q5_K, "ffn_down of the first 1/8 of layers");
    else if (ft == kQ5_K_M && use_more_bits(i, n)) set(DType::Q6_K, "ffn_down, more bits in this layer");
    else if (ft == kQ4_K_S && !falcon && i < n / 8) set(DType::Q5_K, "ffn_down of the first 1/8 of layers");
  } else if (has(name, "attn_output.weight")) {
    if (!falcon) {
      if (m.n_expert != 8) {
        if (ft == kQ2_K) set(DType::Q3_K, "attn_output in Q2_K");
        else if (ft == kQ3_K_M) set(DType::Q4_K, "attn_output in Q3_K_M");
        else if (ft == kQ3_K_L) set(DType::Q5_K, "attn_output in Q3_K_L");
      }
    } else if (ft == kQ3_K_L) {
      set(DType::Q4_K, "attn_output in Q3_K_L");
    }
  } else if (has(name, "attn_qkv.weight")) {
    if (ft == kQ3_K_M || ft == kQ3_K_L) set(DType::Q4_K, "attn_qkv in Q3_K_M/L");
    else if (ft == kQ4_K_M) set(DType::Q5_K, "attn_qkv in Q4_K_M");
    else if (ft == kQ5_K_M) set(DType::Q6_K, "attn_qkv in Q5_K_M");
  }
  return t;
}

// A type whose block divides ne0: llama.cpp's replacements for the 256-element types, then F16.
DType fit_row(DType t, int64_t ne0) {
  if (ne0 % dtype_block_elems(t) == 0) return t;
  switch (t) {
    case DType::Q2_K: case DType::Q3_K: case DType::IQ4_XS: t = DType::IQ4_NL; break;
    case DType::Q4_K: t = DType::Q5_0; break;
    case DType::Q5_K: t = DType::Q5_1; break;
    case DType::Q6_K: t = DType::Q8_0; break;
    default: t = DType::F16; break;
  }
  return ne0 % dtype_block_elems(t) == 0 ? t : DType::F16;
}

int64_t arch_int(const GGUFFile& g, const std::string& arch, const char* key, int64_t def) {
  const GGUFValue* v = g.find(arch + "." + key);
  if (!v) return def;
  if (v->is_integer()) return v->i;
  if (v->type == GGUFType::ARRAY && v->arr_count > 0) return g.get_int_array(arch + "." + key)[0];  // per-layer arrays
  return def;
}

}  // namespace

const std::vector<QuantMix>& quant_mixes() {
  static const std::vector<QuantMix> m = {
      {"F32", DType::F32, kF32, "32 bits, a plain copy of F16/BF16 inputs"},
      {"F16", DType::F16, kF16, "16 bits"},
      {"BF16", DType::BF16, kBF16, "16 bits, bfloat16"},
      {"Q8_0", DType::Q8_0, kQ8_0, "8.5 bpw"},
      {"Q6_K", DType::Q6_K, kQ6_K, "6.56 bpw"},
      {"Q5_1", DType::Q5_1, kQ5_1, "6.0 bpw (output Q6_K)"},
      {"Q5_0", DType::Q5_0, kQ5_0, "5.5 bpw (output Q6_K)"},
      {"Q5_K_M", DType::Q5_K, kQ5_K_M, "Q5_K, Q6_K for the output and some attn_v/ffn_down"},
      {"Q5_K_S", DType::Q5_K, kQ5_K_S, "Q5_K, Q6_K output"},
      {"Q4_1", DType::Q4_1, kQ4_1, "5.0 bpw (output Q6_K)"},
      {"Q4_0", DType::Q4_0, kQ4_0, "4.5 bpw (output Q6_K)"},
      {"Q4_K_M", DType::Q4_K, kQ4_K_M, "Q4_K, Q6_K for the output and some attn_v/ffn_down"},
      {"Q4_K_S", DType::Q4_K, kQ4_K_S, "Q4_K, Q5_K for early attn_v/ffn_down"},
      {"IQ4_NL", DType::IQ4_NL, kIQ4_NL, "4.5 bpw non-linear grid"},
      {"IQ4_XS", DType::IQ4_XS, kIQ4_XS, "4.25 bpw non-linear grid"},
      {"Q3_K_L", DType::Q3_K, kQ3_K_L, "Q3_K, Q5_K for attn_v/attn_output/ffn_down"},
      {"Q3_K_M", DType::Q3_K, kQ3_K_M, "Q3_K, Q4_K/Q5_K for attn_v/attn_output/ffn_down"},
      {"Q3_K_S", DType::Q3_K, kQ3_K_S, "Q3_K, Q6_K output"},
      {"Q2_K", DType::Q2_K, kQ2_K, "Q2_K, Q3_K for attn_v/attn_output/ffn_down"},
  };
  return m;
}

const QuantMix& quant_mix(const std::string& name) {
  std::string up = name;
  for (auto& c : up) c = (char)std::toupper((unsigned char)c);
  // llama-quantize's aliases: the plain K names mean the _M mixes.
  if (up == "Q3_K" || up == "Q4_K" || up == "Q5_K") up += "_M";
  for (const QuantMix& m : quant_mixes())
    if (m.name == up) return m;
  std::string names;
  for (const QuantMix& m : quant_mixes()) names += (names.empty() ? "" : ", ") + m.name;
  for (uint32_t id = 0; id < 64; id++)
    if (dtype_name_of(id) == up)
      fail("quantization type {} is a ggml type flops cannot write (types: {})", up, names);
  fail("unknown quantization type '{}' (types: {})", name, names);
}

std::vector<TensorPlan> plan_quantization(const GGUFFile& in, const QuantMix& mix, const QuantizeOptions& o) {
  Model m;
  m.arch = in.get_string("general.architecture", "");
  m.n_layer = (int)arch_int(in, m.arch, "block_count", 0);
  const int64_t heads = arch_int(in, m.arch, "attention.head_count", 1);
  const int64_t kv_heads = arch_int(in, m.arch, "attention.head_count_kv", heads);
  m.n_gqa = kv_heads > 0 ? (int)(heads / kv_heads) : 1;
  m.n_expert = (int)arch_int(in, m.arch, "expert_count", 0);
  m.has_output = in.find_tensor("output.weight") != nullptr;
  for (const auto& t : in.tensors)
    if (has(t.name, "attn_v.weight") || has(t.name, "attn_qkv.weight")) m.n_attention_wv++;
  const bool quantized_base = !dtype_is_float(mix.base);

  std::vector<TensorPlan> plan;
  for (const auto& t : in.tensors) {
    TensorPlan p;
    p.name = t.name;
    p.shape = t.shape;
    p.from = p.to = t.type;
    p.n_elements = t.n_elements;
    p.bytes_in = t.n_bytes;
    if (quantizable(t)) {
      DType to = mix.base;
      const int64_t ne0 = t.shape[0];
      if (quantized_base && !o.pure) to = rule_type(m, t.name, ne0, to, mix.file_type, p.note);
      const DType fit = fit_row(to, ne0);
      if (fit != to) {
        p.note = fmt::format("rows of {} are not a multiple of the {} block of {}: {} instead", ne0, dtype_name(to),
                             dtype_block_elems(to), dtype_name(fit));
        p.fallback = true;
      }
      p.to = fit;
      if (p.to != p.from && !dtype_is_float(p.from) && !o.allow_requantize)
        fail("tensor '{}' is already {}: quantizing it again to {} loses accuracy; pass --allow-requantize to do it anyway",
             t.name, dtype_name(p.from), dtype_name(p.to));
    }
    p.bytes_out = p.to == p.from ? p.bytes_in : dtype_row_bytes(p.to, t.shape[0]) * (t.n_elements / t.shape[0]);
    plan.push_back(std::move(p));
  }
  return plan;
}

}  // namespace flops
