#pragma once
// TEMPORARY: the embeddings API agreed in INTERFACES.md (owner: arch, src/model/embed.h). Until
// it is merged this stand-in pools Batch::hidden. Delete this file and its .cpp then, and
// include model/embed.h.
#include <string>
#include <vector>

#include "model/model.h"

namespace flops {

enum class Pooling { None, Mean, Cls, Last };
Pooling model_pooling(const Model& m);
std::vector<std::vector<float>> embed_texts(const Model& m, const std::vector<std::string>& texts, Pooling p,
                                            bool normalize = true, int max_tokens = 0);

}  // namespace flops
