#pragma once
// Splitting a document's text into passages of at most `max_tokens` tokens.
//
// The text is cut into units at the chosen boundary: paragraphs (blank lines), sentences
// (inside paragraphs), or words. A unit longer than a chunk is cut at the next finer boundary
// (paragraph -> sentences -> words). Units are packed greedily in order; with sentence
// boundaries a chunk that is at least half full also ends where a paragraph ends. Each chunk
// after the first starts with the last whole units of the previous one that fit in `overlap`
// tokens, so a passage cut at a chunk edge is still found whole in one of the two (the overlap
// never repeats the whole previous chunk, so every chunk brings new text, and it does not reach
// back across the start of a paragraph).
//
// Tokens are counted by the caller's function: the embedding model's tokenizer when the index
// has one (chunks then fit the model's context), else words.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace flops::search {

enum class Boundary { Paragraph, Sentence, Word };

struct ChunkConfig {
  int max_tokens = 200;
  int overlap = 32;
  Boundary boundary = Boundary::Sentence;
};

struct Span {
  uint32_t start = 0, end = 0;  // bytes of the text
  int tokens = 0;
};

using TokenCounter = std::function<int(std::string_view)>;

Boundary parse_boundary(const std::string& name);  // paragraph, sentence, word
std::string boundary_name(Boundary b);
// Fails naming the bad value (max_tokens >= 8, 0 <= overlap < max_tokens / 2 ... ).
void check_chunk_config(const ChunkConfig& c);

// Paragraphs (separated by one or more blank lines), trimmed spans.
std::vector<Span> split_paragraphs(std::string_view text);
// Sentences of a span of text: ends at . ! ? (and closing quotes/brackets) before whitespace,
// except after a single letter or a common abbreviation (e.g., i.e., Mr., Dr., Fig., ...).
std::vector<Span> split_sentences(std::string_view text, Span within);

std::vector<Span> chunk_text(std::string_view text, const ChunkConfig& c, const TokenCounter& count);

// Whitespace-separated words: the counter used when an index has no model.
int count_words(std::string_view s);

}  // namespace flops::search
