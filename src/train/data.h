#pragma once
// Training data: text files tokenized once into a cached binary token stream,
// with a validation split held out as whole files or as the trailing chapters of
// each file, and batches drawn deterministically from (seed, step, row).
//
// Cache file layout (little-endian):
//   "FLOPSTOK" | u32 version (1) | u32 bytes per token (2 or 4) | u64 tokenizer hash |
//   u64 source hash | u32 vocab size | u32 0 | u64 train tokens | u64 val tokens |
//   train tokens | val tokens
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace flops::train {

struct TokenData {
  std::vector<int32_t> train, val;
  uint64_t tokenizer_hash = 0;
  uint64_t source_hash = 0;
  int n_vocab = 0;
};

struct DataSpec {
  std::vector<std::string> files;      // training text (the tail of each may be held out)
  std::vector<std::string> val_files;  // held out whole
  // When there are no val_files: the last val_fraction of every file, cut at the first chapter
  // heading ("CHAPTER", "Chapter", "BOOK", "ACT", "Book") after that point, else at a blank line.
  double val_fraction = 0.05;
};

// Where the validation text of one file starts (size() when nothing can be held out).
size_t validation_cut(std::string_view text, double val_fraction);

// The text of a training file: plain text as is; for ".tsv" files the last column of every line
// (e.g. book, chapter, verse, text -> the text), one line each.
std::string read_training_text(const std::string& path);

using EncodeFn = std::function<std::vector<int32_t>(std::string_view)>;

// Loads `cache_path` if it exists and matches the tokenizer and the sources; otherwise tokenizes
// (documents separated by `separator` when >= 0) and writes the cache atomically.
TokenData load_or_build_tokens(const DataSpec& spec, const EncodeFn& encode, uint64_t tokenizer_hash, int n_vocab,
                               int32_t separator, const std::string& cache_path);

void write_token_cache(const std::string& path, const TokenData& d);
TokenData read_token_cache(const std::string& path);  // throws naming the problem

// Fills rows [row_begin, row_begin + rows) of the global batch for `step`: row r is the
// window starting at hash(seed, step, r) mod (n - T), inputs x and next-token targets y.
void get_batch(const std::vector<int32_t>& tokens, uint64_t seed, int64_t step, int row_begin, int rows, int T,
               int32_t* x, int32_t* y);

// The validation windows: consecutive non-overlapping windows of T (+1 target) from the start,
// at most max_windows of them.
int n_val_windows(const std::vector<int32_t>& val, int T, int max_windows);
void get_val_window(const std::vector<int32_t>& val, int index, int T, int32_t* x, int32_t* y);

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull);

}  // namespace flops::train
