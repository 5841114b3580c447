#pragma once
// The embedding model of an index: loaded once, identified by the SHA-256 of its file, used for
// chunks at index time and for queries at search time (the same model, or a clear error).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"

namespace flops::search {

struct Embedder {
  std::unique_ptr<Model> model;
  std::string path, name, sha256;
  std::string pooling = "mean";  // model_pooling(model): the GGUF's pooling_type, mean for a decoder
  int dim = 0;
  int max_tokens = 0;  // tokens embedded per text (the model's training context unless smaller)

  // max_tokens 0 = the model's training context.
  static std::unique_ptr<Embedder> load(const std::string& path, int max_tokens = 0);
  int count_tokens(std::string_view text) const;
  // n x dim floats, row-major, each row L2-normalised.
  std::vector<float> embed(const std::vector<std::string>& texts) const;
};

}  // namespace flops::search
