#include "train/lora.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/arch.h"
#include "model/gguf.h"
#include "model/model.h"
#include "train/rng.h"
#include "train/trainer.h"

namespace flops::train {

namespace {

// NetLayer's matrix order.
constexpr const char* kTargets[NetLayer::kMatrices] = {"q", "k", "v", "o", "gate", "up", "down"};

const char* target_tensor(int i) {
  namespace tn = tensor_names;
  const char* names[NetLayer::kMatrices] = {tn::attn_q, tn::attn_k, tn::attn_v, tn::attn_output,
                                            tn::ffn_gate, tn::ffn_up, tn::ffn_down};
  return names[i];
}

NetMatrix frozen(const Weight& w) {
  // The training pass reads row-major matrices (repack_for_decode is for serving only).
  if (w.rows8 || w.f32_coded) fail("LoRA training needs the base model's matrices row-major, not repacked for decoding");
  NetMatrix M;
  M.type = w.type;
  M.w = w.data;
  M.rows = w.rows;
  M.cols = w.cols;
  return M;
}

// The base as a net with nothing trainable: the llama/qwen2 shape of the training pass
// (pre RMSNorm, rope, separate q/k/v with optional biases, SwiGLU, no extras).
Net frozen_net(const flops::Model& base) {
  const ModelConfig& c = base.cfg;
  const ArchSpec& a = *base.spec;
  const bool plain = a.norm == NormKind::RMS && a.norm_place == NormPlace::Pre && a.rope != RopeStyle::None &&
                     !a.fused_qkv && !a.fused_gate_up && a.ffn == FfnKind::SwiGLU && !a.sandwich_norms &&
                     !a.learned_pos && !a.token_types && !a.embd_norm && !a.embd_scale && a.final_norm && a.lm_head;
  const bool plain_cfg = c.q_dim() == c.n_embd && c.rope_freq_scale == 1.0f && c.attn_softcap == 0 &&
                         c.final_softcap == 0 && c.n_swa == 0 && c.causal && c.attn_scale == 0 && !base.rope_freqs;
  if (!plain || !plain_cfg)
    fail("LoRA training supports llama/qwen2-shaped models (pre RMSNorm, rope, SwiGLU, no soft-caps, sliding window or "
         "rope scaling); '{}' ({}) is not", base.path, c.arch_name);
  Net n;
  n.cfg = c;
  n.neox_rope = a.rope == RopeStyle::Neox;
  n.has_qkv_bias = !base.layers.empty() && base.layers[0].bq;
  n.tok_emb = frozen(base.tok_embd);
  n.output = frozen(base.output);
  n.out_norm.w = base.out_norm;
  for (const LayerWeights& L : base.layers) {
    if (L.wqkv || L.attn_norm_b || L.ffn_norm_b || L.bo || L.b_gate || L.b_up || L.b_down || !L.w_gate ||
        (bool)L.bq != n.has_qkv_bias || (bool)L.bk != n.has_qkv_bias || (bool)L.bv != n.has_qkv_bias)
      fail("LoRA training: layer tensors of '{}' are not the llama/qwen2 layout", base.path);
    NetLayer l;
    l.attn_norm.w = L.attn_norm;
    l.ffn_norm.w = L.ffn_norm;
    l.bq.w = L.bq;
    l.bk.w = L.bk;
    l.bv.w = L.bv;
    l.wq = frozen(L.wq);
    l.wk = frozen(L.wk);
    l.wv = frozen(L.wv);
    l.wo = frozen(L.wo);
    l.gate = frozen(L.w_gate);
    l.up = frozen(L.w_up);
    l.down = frozen(L.w_down);
    n.layers.push_back(l);
  }
  return n;
}

}  // namespace

std::vector<std::string> parse_lora_targets(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string t = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!t.empty()) {
      if (std::find(std::begin(kTargets), std::end(kTargets), t) == std::end(kTargets))
        fail("--lora-targets: unknown matrix '{}' (choose from q,k,v,o,gate,up,down)", t);
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) fail("--lora-targets: no matrix given (choose from q,k,v,o,gate,up,down)");
  return out;
}

std::string lora_tensor_name(int layer, int target) { return "blk." + std::to_string(layer) + "." + target_tensor(target); }

Model make_lora_params(const flops::Model& base, const LoraSpec& spec, uint64_t seed) {
  if (spec.rank <= 0) fail("--lora-rank must be positive, got {}", spec.rank);
  if (!(spec.lr_ratio > 0) || !std::isfinite(spec.lr_ratio)) fail("--lora-lr-ratio must be a positive number, not {}", spec.lr_ratio);
  const Net n = frozen_net(base);  // checks the architecture
  Model p;
  p.cfg = base.cfg;
  p.tied_output = base.tied_output();
  size_t off = 0;
  for (int l = 0; l < base.cfg.n_layer; l++)
    for (int i = 0; i < NetLayer::kMatrices; i++) {
      if (std::find(spec.targets.begin(), spec.targets.end(), kTargets[i]) == spec.targets.end()) continue;
      const NetMatrix& M = n.layers[l].matrix(i);
      if (spec.rank > std::min(M.rows, M.cols))
        fail("--lora-rank {} exceeds the size of '{}' ({}x{})", spec.rank, lora_tensor_name(l, i), M.rows, M.cols);
      const std::string name = lora_tensor_name(l, i);
      const size_t na = (size_t)spec.rank * M.cols, nb = (size_t)M.rows * spec.rank;
      p.tensors.push_back(TensorRef{name + ".lora_a", off, na, {M.cols, spec.rank}, true});
      off += na;
      p.tensors.push_back(TensorRef{name + ".lora_b", off, nb, {spec.rank, M.rows}, true, spec.lr_ratio});
      off += nb;
    }
  if (p.tensors.empty()) fail("LoRA: no matrix to adapt");
  p.w.assign(off, 0.0f);
  p.g.assign(off, 0.0f);
  for (const TensorRef& t : p.tensors) {
    if (!t.name.ends_with(".lora_a")) continue;
    // Each tensor its own stream (hash of the seed and the name): adding a target leaves the others' draws alone.
    Rng r(hash3(seed, fnv1a(t.name.data(), t.name.size()), 0x10a));
    const double bound = 1.0 / std::sqrt((double)t.shape[0]);
    for (size_t i = 0; i < t.count; i++) p.w[t.offset + i] = (float)((2.0 * r.uniform() - 1.0) * bound);
  }
  return p;
}

Model lora_params_of(const flops::Model& base, const LoraAdapter& adapter) {
  check_lora_fits(adapter, base);
  Model p;
  p.cfg = base.cfg;
  p.tied_output = base.tied_output();
  size_t off = 0;
  size_t used = 0;
  for (int l = 0; l < base.cfg.n_layer; l++)
    for (int i = 0; i < NetLayer::kMatrices; i++) {
      const std::string name = lora_tensor_name(l, i);
      auto it = adapter.tensors.find(name);
      if (it == adapter.tensors.end()) continue;
      const LoraTensor& t = it->second;
      p.tensors.push_back(TensorRef{name + ".lora_a", off, t.a.size(), {t.cols, t.rank}, true});
      off += t.a.size();
      p.tensors.push_back(TensorRef{name + ".lora_b", off, t.b.size(), {t.rank, t.rows}, true});
      off += t.b.size();
      used++;
    }
  if (used != adapter.tensors.size())
    fail("LoRA adapter '{}' changes tensors the training pass does not adapt (only q,k,v,o,gate,up,down)", adapter.path);
  p.w.resize(off);
  p.g.assign(off, 0.0f);
  for (const TensorRef& t : p.tensors) {
    const bool is_a = t.name.ends_with(".lora_a");
    const LoraTensor& lt = adapter.tensors.at(t.name.substr(0, t.name.size() - 7));
    std::copy_n((is_a ? lt.a : lt.b).data(), t.count, p.w.data() + t.offset);
  }
  return p;
}

Net lora_net(const flops::Model& base, Model& params, float alpha) {
  Net n = frozen_net(base);
  for (int l = 0; l < base.cfg.n_layer; l++)
    for (int i = 0; i < NetLayer::kMatrices; i++) {
      const std::string name = lora_tensor_name(l, i);
      const TensorRef* a = params.find(name + ".lora_a");
      const TensorRef* b = params.find(name + ".lora_b");
      if (!a && !b) continue;
      NetMatrix& M = n.layers[l].matrix(i);
      if (!a || !b || a->shape[0] != M.cols || b->shape[1] != M.rows || a->shape[1] != b->shape[0])
        fail("LoRA parameters for '{}' do not fit the base model", name);
      M.rank = (int)a->shape[1];
      M.scale = alpha != 0.0f ? alpha / (float)M.rank : 1.0f;
      M.a = params.w.data() + a->offset;
      M.b = params.w.data() + b->offset;
      M.grad_a = params.g.data() + a->offset;
      M.grad_b = params.g.data() + b->offset;
    }
  return n;
}

LoraAdapter lora_adapter_of(const Model& params, const std::string& arch, float alpha) {
  LoraAdapter ad;
  ad.arch = arch;
  ad.alpha = alpha;
  for (const TensorRef& t : params.tensors) {
    if (!t.name.ends_with(".lora_a")) continue;
    const std::string base = t.name.substr(0, t.name.size() - 7);
    const TensorRef* b = params.find(base + ".lora_b");
    if (!b) fail("LoRA parameters: '{}' has no lora_b", base);
    LoraTensor lt;
    lt.cols = t.shape[0];
    lt.rank = (int)t.shape[1];
    lt.rows = b->shape[1];
    lt.a.assign(params.w.begin() + t.offset, params.w.begin() + t.offset + t.count);
    lt.b.assign(params.w.begin() + b->offset, params.w.begin() + b->offset + b->count);
    ad.tensors[base] = std::move(lt);
  }
  return ad;
}

uint64_t base_identity(const flops::Model& base) {
  uint64_t h = fnv1a("lora-base", 9);
  for (const GGUFTensorInfo& t : base.gguf.tensors) {
    h = fnv1a(t.name.data(), t.name.size(), h);
    h = fnv1a(&t.type, sizeof(t.type), h);
    for (int64_t d : t.shape) h = fnv1a(&d, sizeof(d), h);
    h = fnv1a(t.data, std::min<uint64_t>(t.n_bytes, 256), h);
  }
  return h;
}

void merge_lora(const std::string& base_path, const std::vector<LoraChoice>& adapters, const std::string& out_path,
                const std::string& name) {
  if (adapters.empty()) fail("lora merge: no adapter given");
  auto base = load_model(base_path);
  GGUFFile g = gguf_open(base_path);
  Model m = load_gguf_model(g);
  for (const LoraChoice& ch : adapters) {
    LoraAdapter ad = load_lora_adapter(ch.path);
    check_lora_fits(ad, *base);
    for (auto& [tname, t] : ad.tensors) {
      const TensorRef* w = m.find(tname);
      if (!w) fail("lora merge: the model has no trainable tensor '{}'", tname);
      // W[rows][cols] += s * B[rows][rank] A[rank][cols]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t.rows, (int)t.cols, t.rank, ad.factor(t, ch.scale),
                  t.b.data(), t.rank, t.a.data(), (int)t.cols, 1.0f, m.w.data() + w->offset, (int)t.cols);
    }
  }
  save_model_gguf(m, &g, name.empty() ? g.get_string("general.name", "merged") : name, out_path);
}

}  // namespace flops::train
