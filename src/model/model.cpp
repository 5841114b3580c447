#include "model/model.h"

#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

#include <unordered_set>

#include "core/error.h"
#include "core/f32_coded.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/repack.h"
#include "model/arch.h"

namespace flops {

namespace {

// Looks tensors up by name and remembers which it handed out, so that what is left over at the
// end (a tensor this family does not use) can be refused.
struct Loader {
  Model& m;
  std::unordered_set<std::string> used;

  const GGUFTensorInfo* find(const std::string& name, Need need) {
    if (need == Need::No) return nullptr;
    const GGUFTensorInfo* t = m.gguf.find_tensor(name);
    if (!t && need == Need::Required) fail("{}: missing tensor '{}' for architecture {}", m.path, name, m.cfg.arch_name);
    if (t) used.insert(name);
    return t;
  }

  Weight matrix(const std::string& name, int64_t cols, int64_t rows, Need need = Need::Required) {
    const GGUFTensorInfo* t = find(name, need);
    if (!t) return {};
    int64_t r = t->shape.size() > 1 ? t->shape[1] : 1;
    if (t->shape.size() > 2 || t->shape[0] != cols || r != rows)
      fail("{}: tensor '{}' has shape [{}], expected [{}, {}]", m.path, name, fmt::join(t->shape, ", "), cols, rows);
    return Weight{t->type, t->data, cols, rows};
  }

  const float* vec(const std::string& name, int64_t n, Need need = Need::Required) {
    const GGUFTensorInfo* t = find(name, need);
    if (!t) return nullptr;
    if (t->n_elements != (uint64_t)n) fail("{}: tensor '{}' has {} elements, expected {}", m.path, name, t->n_elements, n);
    auto v = std::make_unique<std::vector<float>>(n);
    dequantize_row(t->type, t->data, v->data(), n);
    const float* p = v->data();
    m.owned.push_back(std::move(v));
    return p;
  }
};

Need need_if(bool b) { return b ? Need::Required : Need::No; }

}  // namespace

int64_t Model::n_params() const {
  int64_t n = 0;
  for (auto& t : gguf.tensors) n += (int64_t)t.n_elements;
  return n;
}

void embedding_row(const Weight& w, int64_t row, float* out) {
  if (w.rows8) return dequantize_row8(w.type, w.data, w.rows, row, w.cols, out);
  if (w.f32_coded) return f32_coded_row(w.data, w.rows, row, w.cols, out);
  const uint8_t* p = (const uint8_t*)w.data + dtype_row_bytes(w.type, w.cols) * row;
  dequantize_row(w.type, p, out, w.cols);
}

void weight_matmul(const Weight& w, const float* x, int64_t R, float* y) {
  if (w.rows8)
    matmul_rows8(w.type, w.data, w.rows, w.cols, x, R, y);
  else if (w.f32_coded)
    matmul_f32_coded(w.data, w.rows, w.cols, x, R, y);
  else
    matmul(w.type, w.data, w.rows, w.cols, x, R, y);
}

void weight_matmul_many(const WeightProduct* ps, int n, const float* x, int64_t R) {
  if (n > 8) fail("weight_matmul_many: {} products, at most 8", n);
  Rows8Product packed[8];
  int np = 0;
  for (int i = 0; i < n; i++) {
    if (ps[i].w->rows8) packed[np++] = {ps[i].w->type, ps[i].w->data, ps[i].w->rows, ps[i].y};
    else weight_matmul(*ps[i].w, x, R, ps[i].y);
  }
  if (np > 0) matmul_rows8_many(packed, np, ps[0].w->cols, x, R);
}

uint64_t repack_for_decode(Model& m) {
  std::vector<Weight*> ws = {&m.output};
  if (!m.tied_output()) ws.push_back(&m.tok_embd);
  for (auto& l : m.layers)
    for (Weight* w : {&l.wq, &l.wk, &l.wv, &l.wqkv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) ws.push_back(w);
  const bool tied = m.tied_output() && m.output.data;
  // What moves into the arena: packed copies, and (from a mapped file) the other matrices as
  // they are, for the huge pages. An embedding matrix that is not also the output has only the
  // rows of the tokens seen read from it: it stays in the file unless it is packed.
  auto packs = [&](const Weight* w) { return rows8_packable(w->type, w->rows, w->cols); };
  auto moves = [&](const Weight* w) {
    if (!w->data || w->rows8 || w->f32_coded || m.arena.data) return false;
    return packs(w) || (m.gguf.file_mapped && w != &m.tok_embd);
  };
  // F32 matrices that the coded form makes smaller, where the CPU has its kernel.
  std::vector<F32CodedPlan> plans(ws.size());
  for (size_t i = 0; i < ws.size(); i++) {
    const Weight* w = ws[i];
    if (moves(w) && w->type == DType::F32 && f32_coded_available())
      plans[i] = f32_coded_plan((const float*)w->data, w->rows, w->cols);
  }
  auto bytes_of = [](const Weight* w) { return dtype_row_bytes(w->type, w->cols) * (size_t)w->rows; };
  auto aligned = [](size_t n) { return (n + 63) / 64 * 64; };
  auto stored_bytes = [&](size_t i) { return plans[i].worth ? plans[i].bytes : bytes_of(ws[i]); };
  size_t total = 0;
  for (size_t i = 0; i < ws.size(); i++)
    if (moves(ws[i])) total += aligned(stored_bytes(i));
  if (total == 0) return 0;
  HugePages arena(total);
  uint64_t packed = 0;
  size_t at = 0;
  for (size_t i = 0; i < ws.size(); i++) {
    Weight* w = ws[i];
    if (!moves(w)) continue;
    const size_t n = bytes_of(w);
    uint8_t* dst = arena.data + at;
    at += aligned(stored_bytes(i));
    if (packs(w)) {
      pack_rows8(w->type, w->data, w->rows, w->cols, dst);
      w->rows8 = true;
      packed += n;
    } else if (plans[i].worth) {
      f32_coded_pack((const float*)w->data, w->rows, w->cols, plans[i], dst);
      w->f32_coded = true;
      packed += n;
    } else {
      std::memcpy(dst, w->data, n);
    }
    if (m.gguf.file_mapped) {
      // The whole pages inside the tensor go back to the page cache (re-read from the file if
      // anything still reads them): one copy of the weights in memory, not two.
      const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
      const uintptr_t b = ((uintptr_t)w->data + page - 1) / page * page, e = ((uintptr_t)w->data + n) / page * page;
      if (e > b) madvise((void*)b, e - b, MADV_DONTNEED);
    }
    w->file = w->data;
    w->data = dst;
  }
  m.arena = std::move(arena);
  if (tied) m.tok_embd = m.output;
  return packed;
}

std::unique_ptr<Model> load_model(GGUFFile g, const std::string& name, const ModelLoadOptions& o) {
  auto mp = std::make_unique<Model>();
  Model& m = *mp;
  m.path = name;
  m.gguf = std::move(g);
  m.file_size = m.gguf.size;
  m.cfg = config_from_gguf(m.gguf);
  ModelConfig& c = m.cfg;
  if (o.tokenizer) {
    m.tok = Tokenizer::from_gguf(m.gguf);
    if (c.n_vocab == 0) c.n_vocab = m.tok.n_vocab();
    if (m.tok.n_vocab() != c.n_vocab) fail("{}: tokenizer has {} tokens but the model {}", name, m.tok.n_vocab(), c.n_vocab);
  }
  const ArchSpec& s = arch_spec(c.arch);
  m.spec = &s;
  namespace tn = tensor_names;
  Loader L{m, {}};
  const int64_t d = c.n_embd, qd = c.q_dim(), kv = c.kv_dim(), ff = c.n_ff;
  if (c.n_vocab <= 0) {  // no token list: the embedding matrix says
    const GGUFTensorInfo* t = m.gguf.find_tensor(tn::token_embd);
    if (!t || t->shape.size() != 2) fail("{}: cannot tell the vocabulary size (no tokens and no '{}')", name, tn::token_embd);
    c.n_vocab = (int)t->shape[1];
  }
  const int64_t V = c.n_vocab;
  const Need bias_qkv = s.qkv_bias, bias_o = s.out_bias, bias_ffn = s.ffn_bias, bias_norm = s.norm_bias;

  m.tok_embd = L.matrix(tn::token_embd, d, V);
  if (s.learned_pos) m.pos_embd = L.matrix(tn::pos_embd, d, c.n_ctx_train);
  if (s.token_types) {
    const GGUFTensorInfo* t = m.gguf.find_tensor(tn::type_embd);
    const int64_t n_types = t && t->shape.size() == 2 ? t->shape[1] : 1;
    m.type_embd = L.matrix(tn::type_embd, d, n_types);
  }
  if (s.embd_norm) {
    m.embd_norm = L.vec(tn::embd_norm, d);
    m.embd_norm_b = L.vec(tn::embd_norm_bias, d, bias_norm);
  }
  if (s.rope_freqs) m.rope_freqs = L.vec(tn::rope_freqs, c.n_rot / 2, Need::Optional);
  if (s.final_norm) {
    m.out_norm = L.vec(tn::output_norm, d);
    m.out_norm_b = L.vec(tn::output_norm_bias, d, bias_norm);
  }
  if (s.lm_head) {
    m.output = L.matrix(tn::output, d, V, s.output);
    if (!m.output) m.output = m.tok_embd;  // tied embeddings
  }
  for (int l = 0; l < c.n_layer; l++) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights lw;
    lw.attn_norm = L.vec(p + s.attn_norm_name + ".weight", d);
    lw.attn_norm_b = L.vec(p + s.attn_norm_name + ".bias", d, bias_norm);
    if (s.fused_qkv) {
      lw.wqkv = L.matrix(p + tn::attn_qkv, d, qd + 2 * kv);
      lw.bqkv = L.vec(p + tn::attn_qkv_bias, qd + 2 * kv, bias_qkv);
    } else {
      lw.wq = L.matrix(p + tn::attn_q, d, qd);
      lw.wk = L.matrix(p + tn::attn_k, d, kv);
      lw.wv = L.matrix(p + tn::attn_v, d, kv);
      lw.bq = L.vec(p + tn::attn_q_bias, qd, bias_qkv);
      lw.bk = L.vec(p + tn::attn_k_bias, kv, bias_qkv);
      lw.bv = L.vec(p + tn::attn_v_bias, kv, bias_qkv);
    }
    lw.wo = L.matrix(p + tn::attn_output, qd, d);
    lw.bo = L.vec(p + tn::attn_output_bias, d, bias_o);
    lw.post_attn_norm = L.vec(p + tn::post_attn_norm, d, need_if(s.sandwich_norms));
    lw.ffn_norm = L.vec(p + s.ffn_norm_name + ".weight", d);
    lw.ffn_norm_b = L.vec(p + s.ffn_norm_name + ".bias", d, bias_norm);
    const bool gated = s.ffn != FfnKind::GELU;
    const int64_t up_rows = s.fused_gate_up ? 2 * ff : ff;
    lw.w_up = L.matrix(p + tn::ffn_up, d, up_rows);
    lw.b_up = L.vec(p + tn::ffn_up_bias, up_rows, bias_ffn);
    if (gated && !s.fused_gate_up) {
      lw.w_gate = L.matrix(p + tn::ffn_gate, d, ff);
      lw.b_gate = L.vec(p + tn::ffn_gate_bias, ff, bias_ffn);
    }
    lw.w_down = L.matrix(p + tn::ffn_down, ff, d);
    lw.b_down = L.vec(p + tn::ffn_down_bias, d, bias_ffn);
    lw.post_ffn_norm = L.vec(p + tn::post_ffn_norm, d, need_if(s.sandwich_norms));
    m.layers.push_back(lw);
  }
  for (auto& t : m.gguf.tensors)
    if (!L.used.count(t.name))
      fail("{}: tensor '{}' is not used by architecture {} (unknown, or a feature flops does not implement)", name,
           t.name, c.arch_name);
  if (o.repack) repack_for_decode(m);
  return mp;
}

std::unique_ptr<Model> load_model(const std::string& path, const ModelLoadOptions& o) { return load_model(gguf_open(path), path, o); }

std::unique_ptr<Model> load_for_inference(const std::string& path) {
  ModelLoadOptions lo;
  lo.repack = true;
  return load_model(path, lo);
}

}  // namespace flops
