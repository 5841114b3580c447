#include "model/embed.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/forward.h"

namespace flops {

Pooling model_pooling(const Model& m) {
  switch (m.cfg.pooling_type) {
    case 1: return Pooling::Mean;
    case 2: return Pooling::Cls;
    case 3: return Pooling::Last;
    default: return Pooling::Mean;
  }
}

Pooling parse_pooling(const std::string& name) {
  if (name == "mean") return Pooling::Mean;
  if (name == "cls") return Pooling::Cls;
  if (name == "last") return Pooling::Last;
  fail("unknown pooling '{}' (choose mean, cls or last)", name);
}

const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::None: return "none";
    case Pooling::Mean: return "mean";
    case Pooling::Cls: return "cls";
    case Pooling::Last: return "last";
  }
  return "?";
}

namespace {

// Tokens per forward_multi call: enough rows for the matrix products to run as GEMMs, few
// enough that the activations stay small.
constexpr int64_t kBatchTokens = 1024;

void pool(const std::vector<float>& hidden, int64_t rows, int64_t d, Pooling p, bool normalize, std::vector<float>& out) {
  out.assign(d, 0.0f);
  if (p == Pooling::Mean) {
    std::vector<double> acc(d, 0.0);
    for (int64_t r = 0; r < rows; r++)
      for (int64_t i = 0; i < d; i++) acc[i] += hidden[r * d + i];
    for (int64_t i = 0; i < d; i++) out[i] = (float)(acc[i] / (double)rows);
  } else {
    const int64_t r = p == Pooling::Cls ? 0 : rows - 1;
    std::copy(hidden.begin() + r * d, hidden.begin() + (r + 1) * d, out.begin());
  }
  if (!normalize) return;
  double ss = 0;
  for (float v : out) ss += (double)v * v;
  if (ss > 0)
    for (float& v : out) v = (float)(v / std::sqrt(ss));
}

}  // namespace

std::vector<std::vector<float>> embed_tokens(const Model& m, const std::vector<std::vector<int32_t>>& ids, Pooling p,
                                             bool normalize, const std::function<void(int64_t, int64_t)>& progress) {
  if (p == Pooling::None) fail("pooling 'none' gives one vector per token, not per text: choose mean, cls or last");
  const int64_t d = m.cfg.n_embd, n = (int64_t)ids.size();
  for (int64_t i = 0; i < n; i++) {
    if (ids[i].empty()) fail("text {} has no tokens to embed", i);
    if (m.cfg.n_ctx_train > 0 && (int64_t)ids[i].size() > m.cfg.n_ctx_train)
      fail("text {} has {} tokens, more than the model's {} positions (truncate it)", i, ids[i].size(), m.cfg.n_ctx_train);
  }
  std::vector<std::vector<float>> out(n);
  // Last pooling needs only the last row; mean and cls read every row (cls: the first).
  const bool all_rows = p != Pooling::Last;
  for (int64_t b0 = 0; b0 < n;) {
    int64_t b1 = b0, tokens = 0;
    while (b1 < n && (b1 == b0 || tokens + (int64_t)ids[b1].size() <= kBatchTokens)) tokens += (int64_t)ids[b1++].size();
    std::vector<KVCache> caches;
    caches.reserve(b1 - b0);
    std::vector<std::vector<float>> hidden(b1 - b0), logits;
    std::vector<SeqInput> in;
    for (int64_t i = b0; i < b1; i++) {
      caches.push_back(make_kv_cache(m.cfg, (int)ids[i].size()));
      SeqInput s{&caches.back(), ids[i], all_rows};
      s.logits = false;
      s.hidden = &hidden[i - b0];
      in.push_back(std::move(s));
    }
    forward_multi(m, in, logits);
    for (int64_t i = b0; i < b1; i++) {
      const int64_t rows = all_rows ? (int64_t)ids[i].size() : 1;
      pool(hidden[i - b0], rows, d, p, normalize, out[i]);
    }
    b0 = b1;
    if (progress) progress(b0, n);
  }
  return out;
}

std::vector<std::vector<float>> embed_texts(const Model& m, const std::vector<std::string>& texts, Pooling p,
                                            bool normalize, int max_tokens,
                                            const std::function<void(int64_t, int64_t)>& progress) {
  if (max_tokens < 0) fail("max_tokens must be >= 0, got {}", max_tokens);
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(texts.size());
  for (const std::string& t : texts) {
    ids.push_back(m.tok.encode(t, true));
    if (max_tokens > 0 && (int64_t)ids.back().size() > max_tokens) ids.back().resize(max_tokens);
  }
  return embed_tokens(m, ids, p, normalize, progress);
}

}  // namespace flops
