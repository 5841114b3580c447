#include "model/model.h"

#include "core/error.h"
#include "core/quant.h"

namespace flops {

namespace {

struct Loader {
  Model& m;

  const GGUFTensorInfo* find(const std::string& name, bool required) {
    const GGUFTensorInfo* t = m.gguf.find_tensor(name);
    if (!t && required) fail("{}: missing tensor '{}' for architecture {}", m.path, name, m.cfg.arch_name);
    return t;
  }

  Weight matrix(const std::string& name, int64_t cols, int64_t rows, bool required = true) {
    const GGUFTensorInfo* t = find(name, required);
    if (!t) return {};
    int64_t r = t->shape.size() > 1 ? t->shape[1] : 1;
    if (t->shape.size() > 2 || t->shape[0] != cols || r != rows)
      fail("{}: tensor '{}' has shape [{}], expected [{}, {}]", m.path, name, fmt::join(t->shape, ", "), cols, rows);
    return Weight{t->type, t->data, cols, rows};
  }

  const float* vec(const std::string& name, int64_t n, bool required = true) {
    const GGUFTensorInfo* t = find(name, required);
    if (!t) return nullptr;
    if (t->n_elements != (uint64_t)n) fail("{}: tensor '{}' has {} elements, expected {}", m.path, name, t->n_elements, n);
    auto v = std::make_unique<std::vector<float>>(n);
    dequantize_row(t->type, t->data, v->data(), n);
    const float* p = v->data();
    m.owned.push_back(std::move(v));
    return p;
  }
};

}  // namespace

int64_t Model::n_params() const {
  int64_t n = 0;
  for (auto& t : gguf.tensors) n += (int64_t)t.n_elements;
  return n;
}

void embedding_row(const Weight& w, int64_t row, float* out) {
  const uint8_t* p = (const uint8_t*)w.data + dtype_row_bytes(w.type, w.cols) * row;
  dequantize_row(w.type, p, out, w.cols);
}

std::unique_ptr<Model> load_model(GGUFFile g, const std::string& name) {
  auto mp = std::make_unique<Model>();
  Model& m = *mp;
  m.path = name;
  m.gguf = std::move(g);
  m.file_size = m.gguf.size;
  m.cfg = config_from_gguf(m.gguf);
  m.tok = Tokenizer::from_gguf(m.gguf);
  ModelConfig& c = m.cfg;
  if (c.n_vocab == 0) c.n_vocab = m.tok.n_vocab();
  if (m.tok.n_vocab() != c.n_vocab) fail("{}: tokenizer has {} tokens but the model {}", name, m.tok.n_vocab(), c.n_vocab);
  namespace tn = tensor_names;
  Loader L{m};
  const int64_t d = c.n_embd, kv = c.kv_dim(), ff = c.n_ff, V = c.n_vocab;
  m.tok_embd = L.matrix(tn::token_embd, d, V);
  if (c.arch == Arch::GPT2) m.pos_embd = L.matrix(tn::pos_embd, d, c.n_ctx_train);
  m.out_norm = L.vec(tn::output_norm, d);
  if (c.arch == Arch::GPT2) m.out_norm_b = L.vec(tn::output_norm_bias, d);
  m.output = L.matrix(tn::output, d, V, false);
  if (!m.output) m.output = m.tok_embd;  // tied embeddings
  for (int l = 0; l < c.n_layer; l++) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights lw;
    lw.attn_norm = L.vec(p + tn::attn_norm, d);
    lw.wo = L.matrix(p + tn::attn_output, d, d);
    lw.ffn_norm = L.vec(p + tn::ffn_norm, d);
    lw.w_up = L.matrix(p + tn::ffn_up, d, ff);
    lw.w_down = L.matrix(p + tn::ffn_down, ff, d);
    if (c.arch == Arch::GPT2) {
      lw.attn_norm_b = L.vec(p + tn::attn_norm_bias, d);
      lw.wqkv = L.matrix(p + tn::attn_qkv, d, d + 2 * kv);
      lw.bqkv = L.vec(p + tn::attn_qkv_bias, d + 2 * kv);
      lw.bo = L.vec(p + tn::attn_output_bias, d);
      lw.ffn_norm_b = L.vec(p + tn::ffn_norm_bias, d);
      lw.b_up = L.vec(p + tn::ffn_up_bias, ff);
      lw.b_down = L.vec(p + tn::ffn_down_bias, d);
    } else {
      lw.wq = L.matrix(p + tn::attn_q, d, d);
      lw.wk = L.matrix(p + tn::attn_k, d, kv);
      lw.wv = L.matrix(p + tn::attn_v, d, kv);
      lw.w_gate = L.matrix(p + tn::ffn_gate, d, ff);
      bool req_bias = c.arch == Arch::Qwen2;
      lw.bq = L.vec(p + tn::attn_q_bias, d, req_bias);
      lw.bk = L.vec(p + tn::attn_k_bias, kv, req_bias);
      lw.bv = L.vec(p + tn::attn_v_bias, kv, req_bias);
    }
    m.layers.push_back(lw);
  }
  return mp;
}

std::unique_ptr<Model> load_model(const std::string& path) { return load_model(gguf_open(path), path); }

}  // namespace flops
