#include "model/lora_adapter.h"

#include <cmath>
#include <cstdlib>

#include <cblas.h>

#include "core/error.h"
#include "core/flop_counter.h"
#include "core/quant.h"
#include "model/gguf.h"
#include "model/model.h"

namespace flops {

namespace {

constexpr std::string_view kSuffixA = ".lora_a", kSuffixB = ".lora_b";

std::vector<float> to_f32(const GGUFTensorInfo& t, const std::string& path) {
  if (t.shape.size() != 2) fail("{}: LoRA tensor '{}' is not 2-dimensional", path, t.name);
  std::vector<float> out(t.n_elements);
  const int64_t cols = t.shape[0], rows = t.shape[1];
  const size_t rb = dtype_row_bytes(t.type, cols);
  for (int64_t r = 0; r < rows; r++) dequantize_row(t.type, t.data + r * rb, out.data() + r * cols, cols);
  return out;
}

}  // namespace

size_t LoraAdapter::bytes() const {
  size_t n = 0;
  for (auto& [name, t] : tensors) n += (t.a.size() + t.b.size()) * sizeof(float);
  return n;
}

LoraAdapter load_lora_adapter(const std::string& path) {
  GGUFFile g = gguf_open(path);
  LoraAdapter a;
  a.path = path;
  const std::string type = g.get_string("general.type", "");
  if (type != "adapter") fail("{}: not a LoRA adapter (general.type is '{}', expected 'adapter')", path, type);
  const std::string atype = g.get_string("adapter.type", "");
  if (atype != "lora") fail("{}: adapter.type is '{}', expected 'lora'", path, atype);
  a.arch = g.get_string("general.architecture", "");
  a.alpha = (float)g.get_float("adapter.lora.alpha", 0.0);
  std::map<std::string, const GGUFTensorInfo*> as, bs;
  for (const GGUFTensorInfo& t : g.tensors) {
    std::string_view n = t.name;
    if (n.ends_with(kSuffixA))
      as[std::string(n.substr(0, n.size() - kSuffixA.size()))] = &t;
    else if (n.ends_with(kSuffixB))
      bs[std::string(n.substr(0, n.size() - kSuffixB.size()))] = &t;
    else if (!n.ends_with("_norm.weight"))  // llama.cpp skips norm vectors too
      fail("{}: tensor '{}' is neither a .lora_a nor a .lora_b", path, t.name);
  }
  for (auto& [name, ta] : as) {
    auto it = bs.find(name);
    if (it == bs.end()) fail("{}: '{}' has a lora_a but no lora_b", path, name);
    const GGUFTensorInfo& tb = *it->second;
    LoraTensor t;
    t.a = to_f32(*ta, path);
    t.b = to_f32(tb, path);
    t.cols = ta->shape[0];
    t.rank = (int)ta->shape[1];
    t.rows = tb.shape[1];
    if (tb.shape[0] != t.rank)
      fail("{}: '{}': lora_a has rank {} but lora_b {} (lora_a must be [cols, rank], lora_b [rank, rows])", path, name,
           t.rank, tb.shape[0]);
    if (t.rank <= 0) fail("{}: '{}' has rank 0", path, name);
    a.tensors[name] = std::move(t);
  }
  for (auto& [name, tb] : bs)
    if (!as.count(name)) fail("{}: '{}' has a lora_b but no lora_a", path, name);
  if (a.tensors.empty()) fail("{}: the adapter has no LoRA tensors", path);
  return a;
}

void check_lora_fits(const LoraAdapter& a, const Model& base) {
  if (!a.arch.empty() && a.arch != base.cfg.arch_name)
    fail("LoRA adapter '{}' is for architecture '{}', the model is '{}'", a.path, a.arch, base.cfg.arch_name);
  for (auto& [name, t] : a.tensors) {
    const GGUFTensorInfo* w = base.gguf.find_tensor(name);
    if (!w) fail("LoRA adapter '{}' changes '{}', which the model does not have (another base model?)", a.path, name);
    if (w->shape.size() != 2 || w->shape[0] != t.cols || w->shape[1] != t.rows)
      fail("LoRA adapter '{}': '{}' is {}x{} in the adapter but [{}] in the model (another base model?)", a.path, name,
           t.cols, t.rows, fmt::join(w->shape, ", "));
  }
}

void save_lora_adapter(const LoraAdapter& a, const std::string& path, const std::string& name,
                       const std::function<void(GGUFWriter&)>& extra) {
  GGUFWriter w;
  w.set_string("general.architecture", a.arch);
  w.set_string("general.type", "adapter");
  w.set_string("general.name", name);
  w.set_string("adapter.type", "lora");
  w.set_f32("adapter.lora.alpha", a.alpha);
  if (extra) extra(w);
  for (auto& [base, t] : a.tensors) {
    w.add_tensor(base + std::string(kSuffixA), DType::F32, {t.cols, t.rank}, t.a.data(), t.a.size() * 4);
    w.add_tensor(base + std::string(kSuffixB), DType::F32, {t.rank, t.rows}, t.b.data(), t.b.size() * 4);
  }
  w.write(path);
}

LoraChoice parse_lora_choice(const std::string& arg) {
  LoraChoice c{arg, 1.0f};
  const size_t colon = arg.rfind(':');
  if (colon != std::string::npos && colon + 1 < arg.size()) {
    const std::string num = arg.substr(colon + 1);
    char* end = nullptr;
    const float s = std::strtof(num.c_str(), &end);
    if (end && *end == '\0') {
      if (!std::isfinite(s)) fail("--lora '{}': the scale must be a finite number", arg);
      c.path = arg.substr(0, colon);
      c.scale = s;
    }
  }
  if (c.path.empty()) fail("--lora needs a file name (FILE or FILE:SCALE)");
  return c;
}

size_t LoraSet::bytes() const {
  size_t n = 0;
  for (auto& a : adapters) n += a->bytes();
  return n;
}

double LoraSet::flops_per_token() const {
  double f = 0;
  for (auto& [w, ups] : by_weight)
    for (auto& u : ups) f += 2.0 * u.rank * (double)(u.rows + u.cols);
  return f;
}

std::shared_ptr<const LoraSet> make_lora_set(const Model& m,
                                             const std::vector<std::pair<std::shared_ptr<const LoraAdapter>, float>>& adapters,
                                             const std::string& name) {
  auto set = std::make_shared<LoraSet>();
  set->name = name;
  for (auto& [ad, scale] : adapters) {
    check_lora_fits(*ad, m);
    set->adapters.push_back(ad);
    for (auto& [tname, t] : ad->tensors) {
      if (tname == tensor_names::token_embd || tname == tensor_names::output)
        fail("LoRA adapter '{}': updates of '{}' are not supported (only the layers' matrices)", ad->path, tname);
      const GGUFTensorInfo* w = m.gguf.find_tensor(tname);
      set->by_weight[w->data].push_back(LoraSet::Update{t.a.data(), t.b.data(), t.rank, ad->factor(t, scale), t.rows, t.cols});
    }
  }
  return set;
}

std::shared_ptr<const LoraSet> load_lora_set(const Model& m, const std::vector<std::string>& choices) {
  if (choices.empty()) return nullptr;
  std::vector<std::pair<std::shared_ptr<const LoraAdapter>, float>> ads;
  std::string name;
  for (const std::string& c : choices) {
    LoraChoice ch = parse_lora_choice(c);
    ads.emplace_back(std::make_shared<const LoraAdapter>(load_lora_adapter(ch.path)), ch.scale);
    name += (name.empty() ? "" : "+") + ch.path;
  }
  return make_lora_set(m, ads, name);
}

void lora_apply(const std::vector<LoraSet::Update>& updates, int64_t rows, int64_t cols, const float* x, int64_t R, float* y) {
  std::vector<float> u;
  for (const LoraSet::Update& up : updates) {
    u.resize((size_t)R * up.rank);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, up.rank, (int)cols, 1.0f, x, (int)cols, up.a, (int)cols,
                0.0f, u.data(), up.rank);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)rows, up.rank, up.factor, u.data(), up.rank, up.b,
                up.rank, 1.0f, y, (int)rows);
    counter::add_matmul(2ull * (uint64_t)R * up.rank * (uint64_t)(rows + cols));
  }
}

}  // namespace flops
