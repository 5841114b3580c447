#pragma once
// Random-weight models written with the project's own GGUF writer: tests and
// benchmarks make their own models, since none can be downloaded.
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "model/config.h"
#include "model/gguf.h"
#include "model/model.h"

namespace flops {

struct SyntheticOptions {
  DType matrix_type = DType::F32;  // type of the 2-D weights (norms and biases stay F32)
  bool tied_output = false;
  uint64_t seed = 1;
  float init_std = 0.02f;
  bool optional_biases = false;  // also write the biases a family may have (llama's optional ones)
  bool rope_freqs = false;       // llama: write a rope_freqs.weight (divisors 1..8, Llama 3.1-like)
};

// A byte-level BPE vocabulary (gpt2 model type): the 256 byte tokens, then
// padding tokens up to n_vocab (which must be >= 258: BOS and EOS are added).
void add_byte_tokenizer(GGUFWriter& w, int n_vocab);
// Fills a writer with config metadata, a byte tokenizer and random weights: every tensor the
// family's ArchSpec has (a tied output unless the family requires one).
GGUFWriter synthetic_model(const ModelConfig& c, const SyntheticOptions& o = {});
// The same model loaded straight from memory (the model owns the serialized image).
std::unique_ptr<Model> load_synthetic_model(const ModelConfig& c, const SyntheticOptions& o = {},
                                            const std::string& name = "synthetic");

}  // namespace flops
