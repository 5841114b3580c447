// The tokenizers against llama.cpp's vocabulary test vectors (ids from each model's own Hugging Face
// tokenizer): ../shared/data/tokenizer-vectors/ggml-vocab-NAME.gguf{,.inp,.out}.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "core/mmap_file.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace flops;

namespace {

// Test strings are separated by lines "__ggml_vocab_test__"; a string is the lines between two
// separators joined by "\n" (so it does not include the newline that precedes the separator).
std::vector<std::string> read_inputs(const std::string& path) {
  std::string all = read_text_file(path);
  std::vector<std::string> out;
  std::string cur;
  bool have = false;
  size_t at = 0;
  while (at < all.size()) {
    size_t nl = all.find('\n', at);
    std::string line = all.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? all.size() : nl + 1;
    if (line == "__ggml_vocab_test__") {
      out.push_back(cur);
      cur.clear();
      have = false;
    } else {
      if (have) cur += '\n';
      cur += line;
      have = true;
    }
  }
  return out;
}

std::vector<std::vector<int32_t>> read_outputs(const std::string& path) {
  std::string all = read_text_file(path);
  std::vector<std::vector<int32_t>> out;
  std::istringstream in(all);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int64_t x;
    while (ls >> x) ids.push_back((int32_t)x);
    out.push_back(ids);
  }
  return out;
}

std::string ids_str(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return "[" + s + "]";
}

void check_vocab(const std::string& name) {
  std::string dir = test::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "shared data (../shared/data) not present";
  std::string base = dir + "/tokenizer-vectors/ggml-vocab-" + name + ".gguf";
  if (!fs::exists(base)) GTEST_SKIP() << base << " not present";
  GGUFFile g = gguf_open(base);
  Tokenizer tok = Tokenizer::from_gguf(g);
  auto inputs = read_inputs(base + ".inp");
  auto outputs = read_outputs(base + ".out");
  ASSERT_EQ(inputs.size(), outputs.size()) << "test strings vs expected lines";
  ASSERT_GT(inputs.size(), 10u);
  int bad = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto got = tok.encode(inputs[i], false);
    if (got != outputs[i]) {
      ++bad;
      ADD_FAILURE() << name << " line " << i + 1 << " of .out, text '" << inputs[i] << "'\n  expected "
                    << ids_str(outputs[i]) << "\n  got      " << ids_str(got);
    }
    EXPECT_EQ(tok.decode(got), inputs[i]) << name << " round trip of test string " << i + 1;
  }
  EXPECT_EQ(bad, 0);
}

}  // namespace

TEST(TokenizerVectors, Gpt2) { check_vocab("gpt-2"); }
TEST(TokenizerVectors, Falcon) { check_vocab("falcon"); }
TEST(TokenizerVectors, Starcoder) { check_vocab("starcoder"); }
TEST(TokenizerVectors, DeepseekLlm) { check_vocab("deepseek-llm"); }
TEST(TokenizerVectors, DeepseekCoder) { check_vocab("deepseek-coder"); }
TEST(TokenizerVectors, Refact) { check_vocab("refact"); }
TEST(TokenizerVectors, LlamaSpm) { check_vocab("llama-spm"); }
