#include "search/embedder.h"

#include <filesystem>

#include "core/error.h"
#include "model/embed.h"
#include "search/hash.h"

namespace flops::search {

std::unique_ptr<Embedder> Embedder::load(const std::string& path, int max_tokens) {
  if (!std::filesystem::exists(path)) fail("embedding model not found: '{}'", path);
  auto e = std::make_unique<Embedder>();
  e->model = load_for_inference(path);
  e->path = std::filesystem::absolute(path).lexically_normal().string();
  e->name = std::filesystem::path(path).filename().string();
  e->sha256 = sha256_file(path);
  e->dim = e->model->cfg.n_embd;
  e->pooling = pooling_name(model_pooling(*e->model));
  int ctx = e->model->cfg.n_ctx_train > 0 ? e->model->cfg.n_ctx_train : 512;
  if (max_tokens < 0) fail("--embed-tokens must be >= 0, got {}", max_tokens);
  e->max_tokens = max_tokens > 0 ? std::min(max_tokens, ctx) : ctx;
  return e;
}

int Embedder::count_tokens(std::string_view text) const { return (int)model->tok.encode(text, false).size(); }

std::vector<float> Embedder::embed(const std::vector<std::string>& texts) const {
  // The engine's pooling (flops embed, /v1/embeddings): the model's own pooling_type, mean for a
  // decoder without one; every text truncated to max_tokens.
  auto rows = embed_texts(*model, texts, model_pooling(*model), true, max_tokens);
  std::vector<float> out;
  out.reserve(rows.size() * (size_t)dim);
  for (auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

}  // namespace flops::search
