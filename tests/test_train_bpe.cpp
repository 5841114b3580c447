// Byte-level BPE training: known merges on a hand-worked example, and the engine's
// tokenizer built from the result encodes and decodes text exactly.
#include <gtest/gtest.h>

#include "core/error.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "train/bpe.h"

using namespace flops;
using namespace flops::train;

TEST(TrainBpe, HandWorkedMerges) {
  // Pre-tokens: "ab", " ab" x2, " abc". Pair counts: (a,b) 4, (Ġ,a) 3, (b,c) 1 -> merge "a b";
  // then (Ġ,ab) 3, (ab,c) 1 -> merge "Ġ ab".
  BpeOptions o;
  o.vocab_size = 256 + 2 + 1;
  Tokenizer::Vocab v = train_bpe({"ab ab ab abc"}, o);
  ASSERT_EQ(v.merges.size(), 2u);
  EXPECT_EQ(v.merges[0], "a b");
  EXPECT_EQ(v.merges[1], "\xC4\xA0 ab");  // "Ġ ab"
  EXPECT_EQ(v.tokens.size(), 259u);
  EXPECT_EQ(v.tokens[256], "ab");
  EXPECT_EQ(v.tokens.back(), "<|endoftext|>");
  EXPECT_EQ(v.eos, 258);
  EXPECT_EQ(v.types.back(), TokenType::Control);
}

TEST(TrainBpe, ByteTokensFollowTheGpt2Mapping) {
  EXPECT_EQ(byte_token('A'), "A");
  EXPECT_EQ(byte_token(' '), "\xC4\xA0");   // U+0120 'Ġ'
  EXPECT_EQ(byte_token('\n'), "\xC4\x8A");  // U+010A 'Ċ'
  EXPECT_EQ(byte_token(0xAD), "\xC5\x83");  // soft hyphen is not printable: U+0143
  EXPECT_EQ(byte_token(0xFF), "\xC3\xBF");  // printable Latin-1 maps to itself
}

TEST(TrainBpe, MinFrequencyStopsMerging) {
  BpeOptions o;
  o.vocab_size = 1000;
  o.min_frequency = 3;
  Tokenizer::Vocab v = train_bpe({"ab ab ab abc"}, o);
  EXPECT_EQ(v.merges.size(), 2u);  // (ab,c) occurs once
}

TEST(TrainBpe, EngineTokenizerRoundTripsAndCompresses) {
  std::string text;
  const char* lines[] = {"It is a truth universally acknowledged, that a single man in possession of a good fortune,",
                         "must be in want of a wife. However little known the feelings or views of such a man may be",
                         "on his first entering a neighbourhood, this truth is so well fixed in the minds of the",
                         "surrounding families, that he is considered the rightful property of some one or other of"};
  for (int r = 0; r < 20; r++)
    for (const char* l : lines) text += std::string(l) + "\n";
  BpeOptions o;
  o.vocab_size = 400;
  Tokenizer::Vocab v = train_bpe({text}, o);
  Tokenizer::Vocab v2 = train_bpe({text}, o);
  EXPECT_EQ(v.merges, v2.merges) << "training is not deterministic";
  EXPECT_EQ(v.tokens.size(), 400u);

  GGUFWriter w;
  tokenizer_to_gguf(Tokenizer::from_vocab(v), w);
  auto bytes = w.serialize();
  GGUFFile g = gguf_parse(bytes.data(), bytes.size());
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "gpt2");
  Tokenizer tok = Tokenizer::from_gguf(g);
  EXPECT_EQ(tok.eos(), 399);

  auto ids = tok.encode(text, false);
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_LT(ids.size() * 3, text.size()) << "fewer than 3 bytes per token on its own training text";
  // Frequent words became single tokens.
  EXPECT_EQ(tok.encode(" truth", false).size(), 1u);
  // Unseen text, including bytes never seen in training, still round-trips through byte tokens.
  std::string other = "Zebra quartz — naïve café 🎉\ttabs";
  EXPECT_EQ(tok.decode(tok.encode(other, false)), other);
}

TEST(TrainBpe, RejectsBadInput) {
  BpeOptions o;
  o.vocab_size = 100;
  try {
    train_bpe({"abc"}, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos) << e.what();
  }
  o.vocab_size = 300;
  try {
    train_bpe({"ok \xff\xfe bad"}, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
}
