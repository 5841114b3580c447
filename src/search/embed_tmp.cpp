#include "search/embed_tmp.h"

#include <cmath>

#include "model/forward.h"

namespace flops::search::tmp {

std::vector<std::vector<float>> embed_texts_mean(const Model& m, const std::vector<std::string>& texts, int max_tokens) {
  const int d = m.cfg.n_embd;
  int limit = max_tokens > 0 ? max_tokens : (m.cfg.n_ctx_train > 0 ? m.cfg.n_ctx_train : 512);
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (const std::string& t : texts) {
    std::vector<int32_t> toks = m.tok.encode(t, m.tok.add_bos_default());
    if (toks.empty()) toks.push_back(m.tok.bos() >= 0 ? m.tok.bos() : 0);
    if ((int)toks.size() > limit) toks.resize(limit);
    KVCache kv = make_kv_cache(m.cfg, (int)toks.size());
    std::vector<float> hidden, logits;
    Batch b = make_batch(toks, true);
    b.logits = false;
    b.hidden = &hidden;
    forward(m, kv, b, logits);
    size_t first = (toks.size() > 1 && toks[0] == m.tok.bos()) ? 1 : 0;
    std::vector<float> e(d, 0.0f);
    for (size_t r = first; r < toks.size(); r++)
      for (int j = 0; j < d; j++) e[j] += hidden[r * d + j];
    double norm = 0;
    for (float v : e) norm += (double)v * v;
    float inv = norm > 0 ? (float)(1.0 / std::sqrt(norm)) : 0.0f;
    for (float& v : e) v *= inv;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace flops::search::tmp
