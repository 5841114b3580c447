#pragma once
// Byte-level BPE training (GPT-2 style): text is cut into pre-tokens by the
// engine's "gpt2" pre-tokenizer, every pre-token starts as its bytes, and the
// most frequent adjacent pair is merged until the vocabulary reaches its size.
// Tokens use the GPT-2 byte-to-unicode mapping, so the result is an ordinary
// tokenizer.ggml "gpt2" vocabulary that the engine and llama.cpp can load.
#include <cstdint>
#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace flops::train {

struct BpeOptions {
  int vocab_size = 4096;   // including the 256 byte tokens and <|endoftext|>
  int64_t min_frequency = 2;  // stop merging when the best pair is rarer than this
  std::string pre = "gpt2";
};

struct BpeStats {
  int64_t pretokens = 0;       // pre-tokens in the text
  int64_t unique_words = 0;
  int merges = 0;
};

// Deterministic: ties between equally frequent pairs go to the smallest (left id, right id).
Tokenizer::Vocab train_bpe(const std::vector<std::string>& texts, const BpeOptions& o, BpeStats* stats = nullptr);

// The GPT-2 byte-to-unicode mapping: the token text of byte b.
const std::string& byte_token(uint8_t b);

}  // namespace flops::train
