#pragma once
// TEMPORARY: mean pooling over Batch::hidden, until the engine's src/model/embed.h (branch
// arch) lands; then this file is deleted and embedder.cpp calls flops::embed_texts.
#include <string>
#include <vector>

#include "model/model.h"

namespace flops::search::tmp {

// One L2-normalised embedding per text: the mean of the final hidden states of its tokens
// (BOS excluded when the text has other tokens), at most max_tokens tokens (0 = the model's
// training context).
std::vector<std::vector<float>> embed_texts_mean(const Model& m, const std::vector<std::string>& texts, int max_tokens);

}  // namespace flops::search::tmp
