#pragma once
// Text embeddings: one vector per text, pooled from the final hidden states (after the final
// norm, as llama.cpp pools them) of an encoder (bert) or a decoder model.
//   mean: the average over the text's tokens; cls: the first token's (bert's [CLS], a decoder's
//   BOS); last: the last token's (decoder embedding models). L2-normalised by default, as
//   llama-embedding's --embd-normalize 2.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"

namespace flops {

enum class Pooling { None, Mean, Cls, Last };

// <arch>.pooling_type (llama.cpp's numbering: 1 mean, 2 cls, 3 last); absent or 0: Mean (decoders
// have no pooling of their own, and mean pooling is what llama.cpp's embedding tools fall back to).
Pooling model_pooling(const Model& m);
Pooling parse_pooling(const std::string& name);  // "mean", "cls", "last"; throws naming the value
const char* pooling_name(Pooling p);

// One embedding per text (n_embd floats), batched through forward_multi; L2-normalised when
// normalize. Texts are tokenized with the model's own special tokens (BOS / [CLS] ... [SEP]).
// max_tokens > 0 truncates longer texts to that many tokens; 0 refuses a text longer than the
// model's context. progress(done, total) after each batch.
std::vector<std::vector<float>> embed_texts(const Model& m, const std::vector<std::string>& texts, Pooling p,
                                            bool normalize = true, int max_tokens = 0,
                                            const std::function<void(int64_t, int64_t)>& progress = {});
// The same from token ids (tokenized elsewhere, or for a model whose tokenizer flops cannot build).
std::vector<std::vector<float>> embed_tokens(const Model& m, const std::vector<std::vector<int32_t>>& ids, Pooling p,
                                             bool normalize = true,
                                             const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace flops
