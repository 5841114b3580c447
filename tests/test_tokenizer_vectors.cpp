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
  auto inputs = test::read_vocab_test_inputs(base + ".inp");
  auto outputs = test::read_vocab_test_outputs(base + ".out");
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
    if (tok.kind() != Tokenizer::Kind::WPM) {
      EXPECT_EQ(tok.decode(got), inputs[i]) << name << " round trip of test string " << i + 1;
    }
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
TEST(TokenizerVectors, BertBge) { check_vocab("bert-bge"); }

// Random mixtures of scripts, spaces, digits and punctuation must come back byte for byte.
TEST(TokenizerVectors, RandomRoundTrips) {
  std::string dir = test::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "shared data (../shared/data) not present";
  const std::vector<std::string> parts{
      "the", "The", " cat", "  ", " ", "\n", "\n\n", "\t", "\r\n", "'s", "'LL", "123", "4", "3.14", "!!", "?", "(",
      ")", "==", "--", "\xC3\xA9", "\xC3\xBC", "\xE4\xB8\xAD\xE6\x96\x87", "\xF0\x9F\xA6\x99", "\xE1\x9E\x80\xE1\x9E\xB6",
      "\xCC\x81", "\xD0\xBF\xD1\x80\xD0\xB8", "\xEF\xBD\x9E", "\xE3\x80\x80", "\xC2\xA0", "<s>", "<|endoftext|>", "`", "$"};
  uint64_t rng = 12345;
  auto next = [&] {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
  };
  std::vector<std::string> texts;
  for (int i = 0; i < 150; ++i) {
    std::string s;
    int n = 1 + next() % 12;
    for (int k = 0; k < n; ++k) s += parts[next() % parts.size()];
    texts.push_back(s);
  }
  int vocabs = 0;
  for (const auto& e : fs::directory_iterator(dir + "/tokenizer-vectors")) {
    if (e.path().extension() != ".gguf") continue;
    ++vocabs;
    GGUFFile g = gguf_open(e.path().string());
    Tokenizer tok = Tokenizer::from_gguf(g);
    if (tok.kind() == Tokenizer::Kind::WPM) continue;  // WordPiece lowercases and drops accents: no round trip
    for (const auto& s : texts) {
      auto ids = tok.encode(s, false);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab());
      EXPECT_EQ(tok.decode(ids), s) << e.path().filename() << " " << ids_str(ids);
      auto with_bos = tok.encode(s, true);
      EXPECT_EQ(tok.decode(with_bos), s) << e.path().filename();
    }
  }
  EXPECT_GE(vocabs, 1);
}
