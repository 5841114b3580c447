#pragma once
// Text handling for detection: input validation, sentence boundaries (ICU's
// sentence BreakIterator) and the byte span of each token in the text.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "model/tokenizer.h"

namespace flops::detect {

struct Span {
  size_t begin = 0, end = 0;  // byte offsets, [begin, end)
};

// Throws flops::Error for empty or whitespace-only text, NUL bytes (binary data) and invalid UTF-8.
void validate_text(std::string_view text);

// Sentences covering the whole text contiguously (each includes its trailing whitespace),
// from ICU's sentence rules. A single line break inside a paragraph is treated as a
// space first, so hard-wrapped prose is not cut at every line; a blank line always ends
// a sentence. Whitespace-only pieces are merged into the previous sentence.
std::vector<Span> split_sentences(std::string_view text);

// The span without leading/trailing whitespace.
Span trim(std::string_view text, Span s);

// Byte span of each token of tokens (as produced by tok.encode(text, ...)) in text.
// Control tokens (BOS) get an empty span at their position. The space an SPM tokenizer
// adds in front of the text is accounted for.
std::vector<Span> token_spans(const Tokenizer& tok, std::string_view text, const std::vector<int32_t>& tokens);

}  // namespace flops::detect
