// TEMPORARY stand-in for arch's embed.h (see the header).
#include "server/embed_fallback.h"

#include <cmath>

#include "core/error.h"
#include "model/forward.h"

namespace flops {

Pooling model_pooling(const Model&) { return Pooling::Mean; }

std::vector<std::vector<float>> embed_texts(const Model& m, const std::vector<std::string>& texts, Pooling p,
                                            bool normalize, int max_tokens) {
  const int d = m.cfg.n_embd;
  int limit = max_tokens > 0 ? max_tokens : (m.cfg.n_ctx_train > 0 ? m.cfg.n_ctx_train : 512);
  std::vector<std::vector<float>> out;
  for (const auto& t : texts) {
    std::vector<int32_t> ids = m.tok.encode(t, true);
    if (ids.empty()) fail("cannot embed an empty text with a model that adds no BOS token");
    if ((int)ids.size() > limit) ids.resize(limit);
    KVCache kv = make_kv_cache(m.cfg, (int)ids.size());
    Batch b = make_batch(ids, true);
    b.logits = false;
    std::vector<float> hidden, logits;
    b.hidden = &hidden;
    forward(m, kv, b, logits);
    std::vector<float> e(d, 0.0f);
    const size_t T = ids.size();
    if (p == Pooling::Cls) {
      std::copy(hidden.begin(), hidden.begin() + d, e.begin());
    } else if (p == Pooling::Last) {
      std::copy(hidden.end() - d, hidden.end(), e.begin());
    } else {
      for (size_t r = 0; r < T; r++)
        for (int i = 0; i < d; i++) e[i] += hidden[r * d + i] / (float)T;
    }
    if (normalize) {
      double n = 0;
      for (float x : e) n += (double)x * x;
      n = std::sqrt(n);
      if (n > 0)
        for (float& x : e) x = (float)(x / n);
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace flops
