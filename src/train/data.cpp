#include "train/data.h"

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/mmap_file.h"
#include "train/rng.h"

namespace flops::train {

uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
  const uint8_t* p = (const uint8_t*)data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

size_t validation_cut(std::string_view text, double val_fraction) {
  if (val_fraction <= 0) return text.size();
  if (val_fraction >= 1) return 0;
  size_t start = (size_t)((double)text.size() * (1.0 - val_fraction));
  // A chapter heading at the start of a line after the split point.
  static const char* heads[] = {"CHAPTER", "Chapter", "BOOK", "Book", "ACT"};
  size_t best = std::string_view::npos;
  for (const char* h : heads) {
    size_t pos = start;
    while ((pos = text.find(h, pos)) != std::string_view::npos) {
      if (pos == 0 || text[pos - 1] == '\n') break;
      pos++;
    }
    if (pos < best) best = pos;
  }
  if (best != std::string_view::npos) return best;
  size_t para = text.find("\n\n", start);
  if (para != std::string_view::npos) return para + 2;
  size_t line = text.find('\n', start);
  if (line != std::string_view::npos) return line + 1;
  return start;
}

std::string read_training_text(const std::string& path) {
  std::string raw = read_text_file(path);
  if (!path.ends_with(".tsv")) return raw;
  std::string out;
  out.reserve(raw.size());
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t end = raw.find('\n', pos);
    if (end == std::string::npos) end = raw.size();
    std::string_view line(raw.data() + pos, end - pos);
    size_t tab = line.rfind('\t');
    if (tab != std::string_view::npos) line.remove_prefix(tab + 1);
    out.append(line);
    out.push_back('\n');
    pos = end + 1;
  }
  return out;
}

namespace {

constexpr char kMagic[8] = {'F', 'L', 'O', 'P', 'S', 'T', 'O', 'K'};

template <typename T>
void put(std::vector<uint8_t>& b, T v) {
  const uint8_t* p = (const uint8_t*)&v;
  b.insert(b.end(), p, p + sizeof(T));
}

void put_tokens(std::vector<uint8_t>& b, const std::vector<int32_t>& t, uint32_t width) {
  for (int32_t x : t) {
    if (width == 2)
      put<uint16_t>(b, (uint16_t)x);
    else
      put<uint32_t>(b, (uint32_t)x);
  }
}

}  // namespace

void write_token_cache(const std::string& path, const TokenData& d) {
  const uint32_t width = d.n_vocab <= 65536 ? 2 : 4;
  std::vector<uint8_t> b;
  b.insert(b.end(), kMagic, kMagic + 8);
  put<uint32_t>(b, 1);
  put<uint32_t>(b, width);
  put<uint64_t>(b, d.tokenizer_hash);
  put<uint64_t>(b, d.source_hash);
  put<uint32_t>(b, (uint32_t)d.n_vocab);
  put<uint32_t>(b, 0);
  put<uint64_t>(b, d.train.size());
  put<uint64_t>(b, d.val.size());
  put_tokens(b, d.train, width);
  put_tokens(b, d.val, width);
  write_file_atomic(path, b.data(), b.size());
}

TokenData read_token_cache(const std::string& path) {
  MappedFile f(path);
  const size_t header = 8 + 4 + 4 + 8 + 8 + 4 + 4 + 8 + 8;
  if (f.size < header || std::memcmp(f.data, kMagic, 8) != 0) fail("{}: not a flops token cache", path);
  auto get = [&](size_t off, auto v) {
    std::memcpy(&v, f.data + off, sizeof(v));
    return v;
  };
  uint32_t version = get(8, uint32_t{});
  uint32_t width = get(12, uint32_t{});
  if (version != 1) fail("{}: token cache version {} is not supported", path, version);
  if (width != 2 && width != 4) fail("{}: token width {} is not 2 or 4", path, width);
  TokenData d;
  d.tokenizer_hash = get(16, uint64_t{});
  d.source_hash = get(24, uint64_t{});
  d.n_vocab = (int)get(32, uint32_t{});
  uint64_t n_train = get(40, uint64_t{}), n_val = get(48, uint64_t{});
  if (n_train > (f.size - header) / width || n_val > (f.size - header) / width - n_train ||
      header + (n_train + n_val) * width != f.size)
    fail("{}: token cache is truncated or has a wrong size", path);
  auto read = [&](std::vector<int32_t>& out, size_t off, uint64_t n) {
    out.resize(n);
    for (uint64_t i = 0; i < n; i++) {
      uint32_t v = width == 2 ? get(off + i * 2, uint16_t{}) : get(off + i * 4, uint32_t{});
      if (v >= (uint32_t)d.n_vocab) fail("{}: token {} at index {} is outside the vocabulary of {}", path, v, i, d.n_vocab);
      out[i] = (int32_t)v;
    }
  };
  read(d.train, header, n_train);
  read(d.val, header + n_train * width, n_val);
  return d;
}

TokenData load_or_build_tokens(const DataSpec& spec, const EncodeFn& encode, uint64_t tokenizer_hash, int n_vocab,
                               int32_t separator, const std::string& cache_path) {
  if (spec.files.empty()) fail("no training data files given");
  // The source hash covers the file names, contents and the split, so a changed file or
  // split option rebuilds the cache.
  std::vector<std::string> texts, val_texts;
  uint64_t h = fnv1a(&spec.val_fraction, sizeof(spec.val_fraction));
  for (auto& p : spec.files) {
    texts.push_back(read_training_text(p));
    h = fnv1a(p.data(), p.size(), h);
    h = fnv1a(texts.back().data(), texts.back().size(), h);
  }
  h = fnv1a("|val|", 5, h);
  for (auto& p : spec.val_files) {
    val_texts.push_back(read_training_text(p));
    h = fnv1a(p.data(), p.size(), h);
    h = fnv1a(val_texts.back().data(), val_texts.back().size(), h);
  }
  if (!cache_path.empty() && std::filesystem::exists(cache_path)) {
    try {
      TokenData d = read_token_cache(cache_path);
      if (d.tokenizer_hash == tokenizer_hash && d.source_hash == h && d.n_vocab == n_vocab) return d;
    } catch (const Error&) {
      // A damaged or foreign cache is rebuilt below.
    }
  }
  TokenData d;
  d.tokenizer_hash = tokenizer_hash;
  d.source_hash = h;
  d.n_vocab = n_vocab;
  auto append = [&](std::vector<int32_t>& out, std::string_view text) {
    if (text.empty()) return;
    std::vector<int32_t> t = encode(text);
    out.insert(out.end(), t.begin(), t.end());
    if (separator >= 0) out.push_back(separator);
  };
  for (auto& text : texts) {
    size_t cut = spec.val_files.empty() ? validation_cut(text, spec.val_fraction) : text.size();
    append(d.train, std::string_view(text).substr(0, cut));
    append(d.val, std::string_view(text).substr(cut));
  }
  for (auto& text : val_texts) append(d.val, text);
  for (int32_t t : d.train)
    if (t < 0 || t >= n_vocab) fail("tokenizer produced id {} outside its vocabulary of {}", t, n_vocab);
  if (!cache_path.empty()) write_token_cache(cache_path, d);
  return d;
}

void get_batch(const std::vector<int32_t>& tokens, uint64_t seed, int64_t step, int row_begin, int rows, int T,
               int32_t* x, int32_t* y) {
  if (tokens.size() < (size_t)T + 1)
    fail("training data has {} tokens, fewer than one sequence of {} + 1", tokens.size(), T);
  const uint64_t range = tokens.size() - (size_t)T;  // start in [0, n - T - 1]
  for (int r = 0; r < rows; r++) {
    uint64_t start = hash3(seed, (uint64_t)step, (uint64_t)(row_begin + r)) % range;
    for (int t = 0; t < T; t++) {
      x[(size_t)r * T + t] = tokens[start + t];
      y[(size_t)r * T + t] = tokens[start + t + 1];
    }
  }
}

int n_val_windows(const std::vector<int32_t>& val, int T, int max_windows) {
  if (val.size() < (size_t)T + 1) return 0;
  int64_t n = (int64_t)(val.size() - 1) / T;
  return (int)std::min<int64_t>(n, max_windows);
}

void get_val_window(const std::vector<int32_t>& val, int index, int T, int32_t* x, int32_t* y) {
  size_t start = (size_t)index * T;
  for (int t = 0; t < T; t++) {
    x[t] = val[start + t];
    y[t] = val[start + t + 1];
  }
}

}  // namespace flops::train
