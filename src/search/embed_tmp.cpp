#include "search/embed_tmp.h"

#include <algorithm>
#include <cmath>

#include "model/forward.h"

namespace flops::search::tmp {

std::vector<std::vector<float>> embed_texts_mean(const Model& m, const std::vector<std::string>& texts, int max_tokens) {
  const int d = m.cfg.n_embd;
  int limit = max_tokens > 0 ? max_tokens : (m.cfg.n_ctx_train > 0 ? m.cfg.n_ctx_train : 512);
  std::vector<std::vector<int32_t>> toks(texts.size());
  for (size_t i = 0; i < texts.size(); i++) {
    toks[i] = m.tok.encode(texts[i], m.tok.add_bos_default());
    if (toks[i].empty()) toks[i].push_back(m.tok.bos() >= 0 ? m.tok.bos() : 0);
    if ((int)toks[i].size() > limit) toks[i].resize(limit);
  }
  std::vector<std::vector<float>> out(texts.size());
  // Several texts per pass (about 2k tokens): the matrix products then run on wide batches.
  size_t i = 0;
  while (i < texts.size()) {
    size_t j = i, tokens = 0;
    while (j < texts.size() && (j == i || tokens + toks[j].size() <= 2048)) tokens += toks[j++].size();
    std::vector<KVCache> kvs;
    kvs.reserve(j - i);
    std::vector<std::vector<float>> hidden(j - i), logits;
    std::vector<SeqInput> seqs;
    for (size_t k = i; k < j; k++) {
      kvs.push_back(make_kv_cache(m.cfg, (int)toks[k].size()));
      SeqInput s;
      s.kv = &kvs.back();
      s.tokens = toks[k];
      s.all_logits = true;
      s.logits = false;
      s.hidden = &hidden[k - i];
      seqs.push_back(std::move(s));
    }
    forward_multi(m, seqs, logits);
    for (size_t k = i; k < j; k++) {
      const auto& h = hidden[k - i];
      const auto& t = toks[k];
      size_t first = (t.size() > 1 && t[0] == m.tok.bos()) ? 1 : 0;
      std::vector<float> e(d, 0.0f);
      for (size_t r = first; r < t.size(); r++)
        for (int c = 0; c < d; c++) e[c] += h[r * d + c];
      double norm = 0;
      for (float v : e) norm += (double)v * v;
      float inv = norm > 0 ? (float)(1.0 / std::sqrt(norm)) : 0.0f;
      for (float& v : e) v *= inv;
      out[k] = std::move(e);
    }
    i = j;
  }
  return out;
}

}  // namespace flops::search::tmp
