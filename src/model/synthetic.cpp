#include "model/synthetic.h"

#include <random>
#include <vector>

#include "core/error.h"
#include "core/quant.h"
#include "model/arch.h"

namespace flops {

namespace {

std::string codepoint_utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += (char)cp;
  } else if (cp < 0x800) {
    s += (char)(0xc0 | (cp >> 6));
    s += (char)(0x80 | (cp & 0x3f));
  } else {
    s += (char)(0xe0 | (cp >> 12));
    s += (char)(0x80 | ((cp >> 6) & 0x3f));
    s += (char)(0x80 | (cp & 0x3f));
  }
  return s;
}

struct Filler {
  GGUFWriter& w;
  std::mt19937_64 rng;
  float std_;
  DType mtype;

  std::vector<float> randn(int64_t n, float s) {
    std::normal_distribution<float> d(0.0f, s);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  }
  void matrix(const std::string& name, int64_t cols, int64_t rows) {
    std::vector<float> v = randn(cols * rows, std_);
    size_t rb = dtype_row_bytes(mtype, cols);
    std::vector<uint8_t> q(rb * rows);
    for (int64_t r = 0; r < rows; r++) quantize_row(mtype, v.data() + r * cols, q.data() + r * rb, cols);
    w.add_tensor(name, mtype, {cols, rows}, q.data(), q.size());
  }
  void vec(const std::string& name, int64_t n, float mean, float s) {
    std::vector<float> v = randn(n, s);
    for (auto& x : v) x += mean;
    w.add_tensor(name, DType::F32, {n}, v.data(), v.size() * 4);
  }
};

}  // namespace

void add_byte_tokenizer(GGUFWriter& w, int n_vocab) {
  if (n_vocab < 258) fail("a byte-level vocabulary needs at least 258 tokens, got {}", n_vocab);
  // GPT-2's printable stand-ins for bytes: printable Latin-1 bytes map to themselves,
  // the others to code points from 256 up, in byte order.
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  int next = 256;
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    tokens.push_back(codepoint_utf8(printable ? b : next++));
    types.push_back(1);
  }
  tokens.push_back("<|bos|>");
  types.push_back(3);
  tokens.push_back("<|eos|>");
  types.push_back(3);
  while ((int)tokens.size() < n_vocab) {
    tokens.push_back("<|unused_" + std::to_string(tokens.size()) + "|>");
    types.push_back(5);
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt-2");  // the name llama.cpp knows (flops reads "gpt2" too)
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_string_array("tokenizer.ggml.merges", {});
  w.set_u32("tokenizer.ggml.bos_token_id", 256);
  w.set_u32("tokenizer.ggml.eos_token_id", 257);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
}

GGUFWriter synthetic_model(const ModelConfig& c, const SyntheticOptions& o) {
  GGUFWriter w;
  config_to_gguf(c, w);
  w.set_string("general.name", "synthetic");
  add_byte_tokenizer(w, c.n_vocab);
  Filler f{w, std::mt19937_64(o.seed), o.init_std, o.matrix_type};
  namespace tn = tensor_names;
  const ArchSpec& a = arch_spec(c.arch);
  const int64_t d = c.n_embd, qd = c.q_dim(), kv = c.kv_dim(), ff = c.n_ff, V = c.n_vocab;
  auto bias = [&](Need n, const std::string& name, int64_t len) {
    if (n == Need::Required || (n == Need::Optional && o.optional_biases)) f.vec(name, len, 0.0f, 0.1f);
  };
  auto norm = [&](const std::string& base) {
    f.vec(base + ".weight", d, 1.0f, 0.1f);
    bias(a.norm_bias, base + ".bias", d);
  };
  f.matrix(tn::token_embd, d, V);
  if (a.learned_pos) f.matrix(tn::pos_embd, d, c.n_ctx_train);
  if (a.token_types) f.matrix(tn::type_embd, d, 2);
  if (a.embd_norm) norm("token_embd_norm");
  if (a.rope_freqs && o.rope_freqs) {
    std::vector<float> v(c.n_rot / 2);
    for (size_t i = 0; i < v.size(); i++) v[i] = 1.0f + (float)i * 7.0f / (float)v.size();  // 1 .. 8, as Llama 3.1's
    w.add_tensor(tn::rope_freqs, DType::F32, {(int64_t)v.size()}, v.data(), v.size() * 4);
  }
  if (a.final_norm) norm("output_norm");
  if (a.lm_head && (a.output == Need::Required || (a.output == Need::Optional && !o.tied_output))) f.matrix(tn::output, d, V);
  // The order of the draws keeps the weights of files written before the families were data.
  for (int l = 0; l < c.n_layer; l++) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const std::string an = p + a.attn_norm_name, fn = p + a.ffn_norm_name;
    const int64_t up_rows = a.fused_gate_up ? 2 * ff : ff;
    f.vec(an + ".weight", d, 1.0f, 0.1f);
    f.vec(fn + ".weight", d, 1.0f, 0.1f);
    f.matrix(p + tn::attn_output, qd, d);
    f.matrix(p + tn::ffn_up, d, up_rows);
    f.matrix(p + tn::ffn_down, ff, d);
    bias(a.norm_bias, an + ".bias", d);
    bias(a.norm_bias, fn + ".bias", d);
    if (a.fused_qkv) {
      f.matrix(p + tn::attn_qkv, d, qd + 2 * kv);
      bias(a.qkv_bias, p + tn::attn_qkv_bias, qd + 2 * kv);
    }
    bias(a.out_bias, p + tn::attn_output_bias, d);
    bias(a.ffn_bias, p + tn::ffn_up_bias, up_rows);
    bias(a.ffn_bias, p + tn::ffn_down_bias, d);
    const bool gate = a.ffn != FfnKind::GELU && !a.fused_gate_up;
    if (!a.fused_qkv) {
      f.matrix(p + tn::attn_q, d, qd);
      f.matrix(p + tn::attn_k, d, kv);
      f.matrix(p + tn::attn_v, d, kv);
    }
    if (gate) f.matrix(p + tn::ffn_gate, d, ff);
    if (!a.fused_qkv) {
      bias(a.qkv_bias, p + tn::attn_q_bias, qd);
      bias(a.qkv_bias, p + tn::attn_k_bias, kv);
      bias(a.qkv_bias, p + tn::attn_v_bias, kv);
    }
    if (gate) bias(a.ffn_bias, p + tn::ffn_gate_bias, ff);
    if (a.sandwich_norms) {
      f.vec(p + tn::post_attn_norm, d, 1.0f, 0.1f);
      f.vec(p + tn::post_ffn_norm, d, 1.0f, 0.1f);
    }
  }
  return w;
}

std::unique_ptr<Model> load_synthetic_model(const ModelConfig& c, const SyntheticOptions& o, const std::string& name) {
  return load_model(gguf_parse_owned(synthetic_model(c, o).serialize(), name), name);
}

}  // namespace flops
