#include "train/model.h"

#include <cmath>

#include "core/error.h"
#include "model/gguf.h"
#include "train/rng.h"

#if __has_include("core/quant.h")
#include "core/quant.h"
#define FLOPS_TRAIN_HAVE_QUANT 1
#endif

namespace flops::train {

const TensorRef* Model::find(const std::string& name) const {
  for (auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

Model make_model(const ModelConfig& cfg_in, bool tied_output) {
  ModelConfig cfg = cfg_in;
  if (cfg.arch == Arch::GPT2) fail("training supports llama and qwen2 architectures, not gpt2");
  if (cfg.n_head_kv == 0) cfg.n_head_kv = cfg.n_head;
  if (cfg.n_vocab <= 0 || cfg.n_embd <= 0 || cfg.n_layer <= 0 || cfg.n_head <= 0 || cfg.n_ff <= 0 || cfg.n_ctx_train <= 0)
    fail("model config needs positive vocab, dim, layers, heads, ffn and context (got vocab {} dim {} layers {} heads {} ffn {} ctx {})",
         cfg.n_vocab, cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_ff, cfg.n_ctx_train);
  if (cfg.n_embd % cfg.n_head != 0) fail("dim {} is not divisible by heads {}", cfg.n_embd, cfg.n_head);
  if (cfg.n_head_kv <= 0 || cfg.n_head % cfg.n_head_kv != 0) fail("heads {} is not divisible by kv-heads {}", cfg.n_head, cfg.n_head_kv);
  if (cfg.n_rot == 0) cfg.n_rot = cfg.head_dim();
  if (cfg.n_rot % 2 != 0 || cfg.n_rot > cfg.head_dim()) fail("rope dimension {} must be even and at most the head dim {}", cfg.n_rot, cfg.head_dim());

  Model m;
  m.cfg = cfg;
  m.tied_output = tied_output;
  m.neox_rope = cfg.arch == Arch::Qwen2;
  m.has_qkv_bias = cfg.arch == Arch::Qwen2;
  const int64_t C = cfg.n_embd, Ck = cfg.kv_dim(), F = cfg.n_ff, V = cfg.n_vocab;
  size_t off = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool decay) {
    size_t n = 1;
    for (auto d : shape) n *= (size_t)d;
    m.tensors.push_back({name, off, n, shape, decay});
    size_t at = off;
    off += n;
    return at;
  };
  m.tok_emb = add(tensor_names::token_embd, {C, V}, true);
  for (int l = 0; l < cfg.n_layer; l++) {
    std::string p = "blk." + std::to_string(l) + ".";
    LayerOffsets L;
    L.attn_norm = add(p + tensor_names::attn_norm, {C}, false);
    L.wq = add(p + tensor_names::attn_q, {C, C}, true);
    L.wk = add(p + tensor_names::attn_k, {C, Ck}, true);
    L.wv = add(p + tensor_names::attn_v, {C, Ck}, true);
    if (m.has_qkv_bias) {
      L.bq = add(p + tensor_names::attn_q_bias, {C}, false);
      L.bk = add(p + tensor_names::attn_k_bias, {Ck}, false);
      L.bv = add(p + tensor_names::attn_v_bias, {Ck}, false);
    }
    L.wo = add(p + tensor_names::attn_output, {C, C}, true);
    L.ffn_norm = add(p + tensor_names::ffn_norm, {C}, false);
    L.w_gate = add(p + tensor_names::ffn_gate, {C, F}, true);
    L.w_up = add(p + tensor_names::ffn_up, {C, F}, true);
    L.w_down = add(p + tensor_names::ffn_down, {F, C}, true);
    m.layers.push_back(L);
  }
  m.out_norm = add(tensor_names::output_norm, {C}, false);
  if (!tied_output) m.output = add(tensor_names::output, {C, V}, true);
  m.w.assign(off, 0.0f);
  m.g.assign(off, 0.0f);
  return m;
}

void init_weights(Model& m, uint64_t seed, float std_) {
  if (!(std_ > 0.0f) || !std::isfinite(std_)) fail("init std must be a positive number, not {}", std_);
  Rng rng(seed);
  const float resid_std = std_ / std::sqrt(2.0f * (float)m.cfg.n_layer);
  std::vector<bool> is_resid(m.tensors.size(), false);
  for (auto& t : m.tensors) {
    float* p = m.w.data() + t.offset;
    bool resid = t.name.ends_with(tensor_names::attn_output) || t.name.ends_with(tensor_names::ffn_down);
    if (t.shape.size() == 1) {
      // Norm gains start at 1, biases at 0.
      float v = t.name.ends_with("norm.weight") ? 1.0f : 0.0f;
      for (size_t i = 0; i < t.count; i++) p[i] = v;
    } else {
      float s = resid ? resid_std : std_;
      for (size_t i = 0; i < t.count; i++) p[i] = (float)(rng.normal() * s);
    }
  }
}

namespace {

void to_f32(const GGUFTensorInfo& ti, float* dst) {
  const int64_t ne0 = ti.shape[0];
  const int64_t rows = (int64_t)ti.n_elements / ne0;
  switch (ti.type) {
    case DType::F32:
      std::memcpy(dst, ti.data, ti.n_elements * 4);
      return;
    case DType::F16: {
      const uint16_t* s = (const uint16_t*)ti.data;
      for (uint64_t i = 0; i < ti.n_elements; i++) dst[i] = fp16_to_fp32(s[i]);
      return;
    }
    case DType::BF16: {
      const uint16_t* s = (const uint16_t*)ti.data;
      for (uint64_t i = 0; i < ti.n_elements; i++) dst[i] = bf16_to_fp32(s[i]);
      return;
    }
    default: {
#ifdef FLOPS_TRAIN_HAVE_QUANT
      size_t rb = dtype_row_bytes(ti.type, ne0);
      for (int64_t r = 0; r < rows; r++) dequantize_row(ti.type, ti.data + r * rb, dst + r * ne0, ne0);
      return;
#else
      (void)rows;
      fail("tensor '{}' is {}: this build cannot dequantize it for training", ti.name, dtype_name(ti.type));
#endif
    }
  }
}

}  // namespace

Model load_gguf_model(const GGUFFile& g) {
  ModelConfig cfg = config_from_gguf(g);
  if (cfg.arch != Arch::Llama && cfg.arch != Arch::Qwen2)
    fail("fine-tuning supports llama and qwen2 models, not '{}'", cfg.arch_name);
  const GGUFTensorInfo* emb = g.find_tensor(tensor_names::token_embd);
  if (!emb) fail("model has no tensor '{}'", tensor_names::token_embd);
  if (emb->shape.size() != 2) fail("tensor '{}' is not 2-dimensional", tensor_names::token_embd);
  if (cfg.n_vocab == 0) cfg.n_vocab = (int)emb->shape[1];
  bool tied = g.find_tensor(tensor_names::output) == nullptr;
  Model m = make_model(cfg, tied);
  for (auto& t : m.tensors) {
    const GGUFTensorInfo* ti = g.find_tensor(t.name);
    if (!ti) fail("model has no tensor '{}'", t.name);
    bool same = ti->shape.size() == t.shape.size();
    for (size_t d = 0; same && d < t.shape.size(); d++) same = ti->shape[d] == t.shape[d];
    if (!same || ti->n_elements != t.count)
      fail("tensor '{}' has shape {} but the config needs {}", t.name, fmt::join(ti->shape, "x"), fmt::join(t.shape, "x"));
    to_f32(*ti, m.w.data() + t.offset);
  }
  return m;
}

Model load_gguf_model(const std::string& path) {
  GGUFFile g = gguf_open(path);
  return load_gguf_model(g);
}

void add_model_to_gguf(const Model& m, GGUFWriter& w) {
  config_to_gguf(m.cfg, w);
  w.set_u32("general.file_type", 0);  // all F32
  for (auto& t : m.tensors) w.add_tensor(t.name, DType::F32, t.shape, m.w.data() + t.offset, t.count * 4);
}

void copy_tokenizer_metadata(const GGUFFile& src, GGUFWriter& w) {
  for (auto& key : src.kv_order) {
    if (!key.starts_with("tokenizer.")) continue;
    const GGUFValue& v = src.kv.at(key);
    switch (v.type) {
      case GGUFType::STRING: w.set_string(key, std::string(v.str)); break;
      case GGUFType::BOOL: w.set_bool(key, v.u != 0); break;
      case GGUFType::F32: case GGUFType::F64: w.set_f32(key, (float)v.f); break;
      case GGUFType::U64: case GGUFType::I64: w.set_u64(key, v.u); break;
      case GGUFType::I8: case GGUFType::I16: case GGUFType::I32: w.set_i32(key, (int32_t)v.i); break;
      case GGUFType::U8: case GGUFType::U16: case GGUFType::U32: w.set_u32(key, (uint32_t)v.u); break;
      case GGUFType::ARRAY:
        if (v.arr_type == GGUFType::STRING) {
          std::vector<std::string> s(v.arr_strings.begin(), v.arr_strings.end());
          w.set_string_array(key, s);
        } else if (v.arr_type == GGUFType::F32 || v.arr_type == GGUFType::F64) {
          w.set_f32_array(key, src.get_float_array(key));
        } else {
          w.set_i32_array(key, src.get_int_array(key));
        }
        break;
    }
  }
}

}  // namespace flops::train
