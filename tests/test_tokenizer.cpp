// Tokenizers on tiny hand-made vocabularies (built through GGUFWriter, read back through the GGUF
// reader), the regex engine, Unicode tables, UTF-8 checks and the pre-tokenizers without vocabularies.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "core/mmap_file.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "model/tokenizer_internal.h"
#include "test_util.h"

using namespace flops;
using Ids = std::vector<int32_t>;

namespace {

const std::string kU2581 = "\xE2\x96\x81";

// Parses a writer's bytes back; the buffer must outlive the GGUFFile.
struct Parsed {
  std::vector<uint8_t> bytes;
  GGUFFile g;
};
Parsed parse(const GGUFWriter& w) {
  Parsed p;
  p.bytes = w.serialize();
  p.g = gguf_parse(p.bytes.data(), p.bytes.size());
  return p;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// SentencePiece-style vocabulary: <unk> <s> </s>, 256 byte tokens, then the given pieces with scores.
struct SpmVocab {
  std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
  std::vector<float> scores{0, 0, 0};
  std::vector<int32_t> types{2, 3, 3};
  bool byte_fallback = true;
  SpmVocab() {}
  int32_t add(const std::string& piece, float score, int32_t type = 1) {
    tokens.push_back(piece);
    scores.push_back(score);
    types.push_back(type);
    return (int32_t)tokens.size() - 1;
  }
  GGUFWriter writer(bool with_unk = true) const {
    GGUFWriter w;
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_f32_array("tokenizer.ggml.scores", scores);
    w.set_i32_array("tokenizer.ggml.token_type", types);
    w.set_u32("tokenizer.ggml.bos_token_id", 1);
    w.set_u32("tokenizer.ggml.eos_token_id", 2);
    if (with_unk) w.set_u32("tokenizer.ggml.unknown_token_id", 0);
    return w;
  }
};
SpmVocab spm_base(bool bytes = true) {
  SpmVocab v;
  if (bytes) {
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      v.add(buf, 0, 6);
    }
  }
  return v;
}
constexpr int32_t kByte0 = 3;  // id of <0x00> in spm_base()

// Byte-level vocabulary: the 256 byte images first (id = byte), then merged tokens.
struct BpeVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  BpeVocab() {
    for (int b = 0; b < 256; ++b) {
      std::string s;
      utf8_append(s, byte_to_unicode((uint8_t)b));
      tokens.push_back(s);
      types.push_back(1);
    }
  }
  // Adds merge "a b" (in byte-level spelling) and the token a+b; returns its id.
  int32_t merge(const std::string& a, const std::string& b) {
    merges.push_back(a + " " + b);
    tokens.push_back(a + b);
    types.push_back(1);
    return (int32_t)tokens.size() - 1;
  }
  int32_t add(const std::string& s, int32_t type) {
    tokens.push_back(s);
    types.push_back(type);
    return (int32_t)tokens.size() - 1;
  }
  GGUFWriter writer(const std::string& pre = "gpt2") const {
    GGUFWriter w;
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", pre);
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_i32_array("tokenizer.ggml.token_type", types);
    w.set_string_array("tokenizer.ggml.merges", merges);
    return w;
  }
};

}  // namespace

// ---------------------------------------------------------------- SentencePiece BPE

TEST(TokenizerSpm, MergesFollowScoresAndPrefixSpace) {
  for (bool a_first : {true, false}) {
    SpmVocab v = spm_base();
    int32_t sp = v.add(kU2581, -10);
    int32_t a = v.add("a", -10), b = v.add("b", -10);
    int32_t sa = v.add(kU2581 + "a", a_first ? -1.0f : -3.0f);
    int32_t ab = v.add("ab", -2.0f);
    auto p = parse(v.writer());
    Tokenizer t = Tokenizer::from_gguf(p.g);
    EXPECT_EQ(t.model_name(), "llama");
    EXPECT_TRUE(t.add_bos_default());  // llama default when the key is absent
    // "ab" becomes "▁ab": the best-scored pair merges first and blocks the other.
    if (a_first) EXPECT_EQ(t.encode("ab", false), (Ids{sa, b}));
    else EXPECT_EQ(t.encode("ab", false), (Ids{sp, ab}));
    EXPECT_EQ(t.encode("ab", true)[0], 1);
    EXPECT_EQ(t.encode("ab"), t.encode("ab", true));
    EXPECT_EQ(t.decode(t.encode("ab")), "ab");
    EXPECT_EQ(t.decode(t.encode(" ab  a")), " ab  a");
    (void)a;
  }
}

TEST(TokenizerSpm, TiesMergeLeftmostFirst) {
  SpmVocab v = spm_base();
  v.add(kU2581, -10);
  int32_t a = v.add("a", -10);
  int32_t aa = v.add("aa", -1);
  GGUFWriter w = v.writer();
  w.set_bool("tokenizer.ggml.add_space_prefix", false);
  auto p2 = parse(w);
  Tokenizer t = Tokenizer::from_gguf(p2.g);
  EXPECT_FALSE(t.add_space_prefix());
  EXPECT_EQ(t.encode("aaa", false), (Ids{aa, a}));
  EXPECT_EQ(t.encode("aaaa", false), (Ids{aa, aa}));
  EXPECT_EQ(t.decode(t.encode("aaa", false)), "aaa");
}

TEST(TokenizerSpm, ByteFallbackAndUnknown) {
  SpmVocab v = spm_base();
  int32_t sp = v.add(kU2581, -10);
  int32_t x = v.add("x", -10);
  auto p = parse(v.writer());
  Tokenizer t = Tokenizer::from_gguf(p.g);
  // "é" = C3 A9 is not a token: its bytes are emitted.
  EXPECT_EQ(t.encode("x\xC3\xA9", false), (Ids{sp, x, kByte0 + 0xC3, kByte0 + 0xA9}));
  EXPECT_EQ(t.encode("\n", false), (Ids{sp, kByte0 + 0x0A}));
  EXPECT_EQ(t.token_to_piece(kByte0 + 0xC3), "\xC3");
  EXPECT_EQ(t.decode(t.encode("x\xC3\xA9\n x", true)), "x\xC3\xA9\n x");
  EXPECT_EQ(t.token_to_piece(1), "");  // control
  EXPECT_TRUE(t.is_control(1));
  EXPECT_TRUE(t.is_control(2));
  EXPECT_FALSE(t.is_control(x));

  // Without byte tokens: one <unk> per unknown character; without <unk> either: an error.
  SpmVocab nb = spm_base(false);
  int32_t sp2 = nb.add(kU2581, -10);
  int32_t x2 = nb.add("x", -10);
  auto p2 = parse(nb.writer());
  Tokenizer t2 = Tokenizer::from_gguf(p2.g);
  EXPECT_EQ(t2.encode("x\xC3\xA9x", false), (Ids{sp2, x2, 0, x2}));
  auto p3 = parse(nb.writer(false));
  Tokenizer t3 = Tokenizer::from_gguf(p3.g);
  EXPECT_NE(error_of([&] { t3.encode("\xC3\xA9", false); }).find("no token"), std::string::npos);
}

TEST(TokenizerSpm, EmptyBosAndInvalidUtf8) {
  SpmVocab v = spm_base();
  v.add(kU2581, -10);
  auto p = parse(v.writer());
  Tokenizer t = Tokenizer::from_gguf(p.g);
  EXPECT_EQ(t.encode("", false), Ids{});
  EXPECT_EQ(t.encode("", true), Ids{1});
  EXPECT_EQ(t.bos(), 1);
  EXPECT_EQ(t.eos(), 2);
  EXPECT_EQ(error_of([&] { t.encode("ab\xFF", false); }), "input text is not valid UTF-8 (byte offset 2)");
  EXPECT_EQ(error_of([&] { t.encode("\xC3", false); }), "input text is not valid UTF-8 (byte offset 0)");
  EXPECT_EQ(error_of([&] { t.decode({999999}); }), "token id 999999 is outside the vocabulary of 260 tokens");
}

TEST(TokenizerSpm, AddBosTokenFalseIsHonoured) {
  SpmVocab v = spm_base();
  v.add(kU2581, -10);
  GGUFWriter w = v.writer();
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  auto p = parse(w);
  Tokenizer t = Tokenizer::from_gguf(p.g);
  EXPECT_FALSE(t.add_bos_default());
  EXPECT_EQ(t.encode(" ", true), (Ids{259, 259}));
}

// ---------------------------------------------------------------- byte-level BPE

TEST(TokenizerBpe, MergeRanksDecideOrder) {
  for (bool ab_first : {true, false}) {
    BpeVocab v;
    int32_t ab = -1, bc = -1;
    if (ab_first) ab = v.merge("a", "b"), bc = v.merge("b", "c");
    else bc = v.merge("b", "c"), ab = v.merge("a", "b");
    auto p = parse(v.writer());
    Tokenizer t = Tokenizer::from_gguf(p.g);
    EXPECT_EQ(t.model_name(), "gpt2");
    EXPECT_EQ(t.pre_name(), "gpt-2");  // the name llama.cpp knows
    EXPECT_FALSE(t.add_bos_default());
    if (ab_first) EXPECT_EQ(t.encode("abc", false), (Ids{ab, 'c'}));
    else EXPECT_EQ(t.encode("abc", false), (Ids{'a', bc}));
  }
}

TEST(TokenizerBpe, PreTokenizerSplitsBeforeMerging) {
  BpeVocab v;
  const std::string G = "\xC4\xA0";  // "Ġ", the image of the space byte
  int32_t Gt = v.merge(G, "t");
  int32_t he = v.merge("h", "e");
  int32_t Gthe = v.merge(G + "t", "he");
  int32_t ee = v.merge("e", "e");
  auto p = parse(v.writer());
  Tokenizer t = Tokenizer::from_gguf(p.g);
  EXPECT_EQ(t.encode(" the", false), (Ids{Gthe}));
  EXPECT_EQ(t.encode("the the", false), (Ids{'t', he, Gthe}));
  // "e,e": the comma is its own pre-token, so "ee" cannot form across it.
  EXPECT_EQ(t.encode("ee,ee", false), (Ids{ee, ',', ee}));
  (void)Gt;
  for (std::string s : std::vector<std::string>{"", "x", "Hello, world!\n\n  \t tabs", "caf\xC3\xA9 \xF0\x9F\xA6\x99 \xE4\xB8\xAD\xE6\x96\x87 123456",
                        std::string("nul\0byte", 8)}) {
    auto ids = t.encode(s, false);
    EXPECT_EQ(t.decode(ids), s);
    for (int32_t id : ids) EXPECT_LT(id, t.n_vocab());
  }
  EXPECT_EQ(t.encode("\xF0\x9F\xA6\x99", false), (Ids{0xF0, 0x9F, 0xA6, 0x99}));
  EXPECT_EQ(error_of([&] { t.encode("\xED\xA0\x80", false); }), "input text is not valid UTF-8 (byte offset 0)");
}

TEST(TokenizerBpe, UserDefinedAndControlTokens) {
  BpeVocab v;
  int32_t user = v.add("<|User|>", 4);
  int32_t eot = v.add("<|endoftext|>", 3);
  GGUFWriter w = v.writer();
  w.set_u32("tokenizer.ggml.eos_token_id", (uint32_t)eot);
  w.set_u32("tokenizer.ggml.bos_token_id", (uint32_t)eot);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  auto p = parse(w);
  Tokenizer t = Tokenizer::from_gguf(p.g);
  EXPECT_EQ(t.encode("a<|User|>b", false), (Ids{'a', user, 'b'}));
  EXPECT_EQ(t.decode({'a', user, 'b'}), "a<|User|>b");
  // Control tokens are text unless parse_special is asked for.
  EXPECT_EQ(t.encode("<|endoftext|>", false).size(), 13u);
  EXPECT_EQ(t.encode("x<|endoftext|>", false, true), (Ids{'x', eot}));
  EXPECT_EQ(t.encode("x", true), (Ids{eot, 'x'}));
  EXPECT_EQ(t.decode({eot, 'x', eot}), "x");
  EXPECT_TRUE(t.is_control(eot));
  EXPECT_EQ(t.token_text(eot), "<|endoftext|>");
}

TEST(TokenizerBpe, IgnoreMergesKeepsWholeWords) {
  // llama-bpe: a pre-token that is itself a token is emitted whole even when no merge path reaches it.
  BpeVocab v;
  int32_t abc = v.add("abc", 1);
  auto p = parse(v.writer("llama-bpe"));
  Tokenizer t = Tokenizer::from_gguf(p.g);
  EXPECT_EQ(t.encode("abc", false), (Ids{abc}));
  auto p2 = parse(v.writer("gpt2"));
  Tokenizer t2 = Tokenizer::from_gguf(p2.g);
  EXPECT_EQ(t2.encode("abc", false), (Ids{'a', 'b', 'c'}));
}

TEST(TokenizerBpe, ErrorsNameTheProblem) {
  BpeVocab v;
  auto p = parse(v.writer("no-such-pre"));
  EXPECT_EQ(error_of([&] { Tokenizer::from_gguf(p.g); }), "unknown pre-tokenizer 'no-such-pre' (tokenizer.ggml.pre)");
  GGUFWriter w = v.writer();
  w.set_string("tokenizer.ggml.model", "t5");
  auto p2 = parse(w);
  EXPECT_NE(error_of([&] { Tokenizer::from_gguf(p2.g); }).find("'t5'"), std::string::npos);
  GGUFWriter w3;
  w3.set_string("general.name", "x");
  auto p3 = parse(w3);
  EXPECT_NE(error_of([&] { Tokenizer::from_gguf(p3.g); }).find("tokenizer.ggml.model"), std::string::npos);
  GGUFWriter w4 = v.writer();
  w4.set_u32("tokenizer.ggml.eos_token_id", 5000);
  auto p4 = parse(w4);
  EXPECT_NE(error_of([&] { Tokenizer::from_gguf(p4.g); }).find("eos_token_id"), std::string::npos);
  // UINT32_MAX means "none".
  GGUFWriter w5 = v.writer();
  w5.set_u32("tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
  auto p5 = parse(w5);
  EXPECT_EQ(Tokenizer::from_gguf(p5.g).pad(), -1);
}

// ---------------------------------------------------------------- writing back

TEST(TokenizerGguf, RoundTripThroughWriter) {
  BpeVocab bv;
  bv.merge("a", "b");
  bv.add("<|eot|>", 3);
  GGUFWriter bw = bv.writer("qwen2");
  bw.set_u32("tokenizer.ggml.eos_token_id", 257);
  SpmVocab sv = spm_base();
  sv.add(kU2581, -10);
  sv.add("ab", -1);
  std::vector<GGUFWriter> writers{bw, sv.writer()};
  for (const GGUFWriter& w : writers) {
    auto p = parse(w);
    Tokenizer a = Tokenizer::from_gguf(p.g);
    GGUFWriter out;
    tokenizer_to_gguf(a, out);
    auto q = parse(out);
    Tokenizer b = Tokenizer::from_gguf(q.g);
    EXPECT_EQ(a.model_name(), b.model_name());
    EXPECT_EQ(a.pre_name(), b.pre_name());
    EXPECT_EQ(q.g.get_string("tokenizer.ggml.pre"), a.model_name() == "gpt2" ? "qwen2" : "default");
    EXPECT_EQ(a.tokens(), b.tokens());
    EXPECT_EQ(a.scores(), b.scores());
    EXPECT_EQ(a.token_types(), b.token_types());
    EXPECT_EQ(a.merges(), b.merges());
    EXPECT_EQ(a.bos(), b.bos());
    EXPECT_EQ(a.eos(), b.eos());
    EXPECT_EQ(a.unk(), b.unk());
    EXPECT_EQ(a.add_bos_default(), b.add_bos_default());
    for (std::string s : {"ab ab", "x\xC3\xA9\n", "  abab"}) EXPECT_EQ(a.encode(s), b.encode(s)) << s;
  }
}

// ---------------------------------------------------------------- stories260K (llama.cpp's answer)

TEST(TokenizerModels, Stories260K) {
  std::string dir = test::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "shared data (../shared/data) not present";
  GGUFFile g = gguf_open(dir + "/models/stories260K.gguf");
  Tokenizer t = Tokenizer::from_gguf(g);
  EXPECT_EQ(t.n_vocab(), 512);
  EXPECT_EQ(t.encode("Once upon a time", true), (Ids{1, 403, 407, 261, 378}));
  EXPECT_EQ(t.encode("Once upon a time"), (Ids{1, 403, 407, 261, 378}));
  EXPECT_EQ(t.decode({1, 403, 407, 261, 378}), "Once upon a time");
}

// ---------------------------------------------------------------- pre-tokenizers without vocabularies

namespace {
std::vector<std::string> split(const std::string& pre, const std::string& text) {
  PreTokenizer p = PreTokenizer::by_name(pre);
  std::vector<std::string_view> v;
  p.split(text, v);
  return {v.begin(), v.end()};
}
using Strs = std::vector<std::string>;
}  // namespace

TEST(PreTokenizer, KnownSplits) {
  EXPECT_EQ(split("gpt2", "Hello, y'all!  How"), (Strs{"Hello", ",", " y", "'", "all", "!", " ", " How"}));
  EXPECT_EQ(split("gpt2", "a  \n"), (Strs{"a", "  \n"}));
  EXPECT_EQ(split("gpt2", "I'M 3333"), (Strs{"I", "'", "M", " 3333"}));
  EXPECT_EQ(split("llama-bpe", "I'M 3333333"), (Strs{"I", "'M", " ", "333", "333", "3"}));
  EXPECT_EQ(split("llama-bpe", "x\n\n  y"), (Strs{"x", "\n\n", " ", " y"}));
  EXPECT_EQ(split("llama-bpe", "...\n\nok"), (Strs{"...\n\n", "ok"}));
  // llama.cpp's "default": punctuation isolated before GPT-2's split, digits in threes.
  EXPECT_EQ(split("default", "f(x) = 12345;"), (Strs{"f", "(", "x", ")", " ", "=", " ", "123", "45", ";"}));
  EXPECT_EQ(split("gpt-2", "f(x) = 12345;"), (Strs{"f", "(", "x", ")", " =", " 12345", ";"}));
  EXPECT_EQ(split("default", "12345"), (Strs{"123", "45"}));
  EXPECT_EQ(split("qwen2", "ab12"), (Strs{"ab", "1", "2"}));
  EXPECT_EQ(split("falcon", "x=1234567"), (Strs{"x", "=", "123", "456", "7"}));
  EXPECT_EQ(split("starcoder", "v12 x"), (Strs{"v", "1", "2", " x"}));
  EXPECT_EQ(split("deepseek-coder", "ab\ncd 12"), (Strs{"ab", "\n", "cd", " ", "1", "2"}));
  EXPECT_EQ(split("deepseek-llm", "\xE4\xB8\xAD\xE6\x96\x87" "abc  "), (Strs{"\xE4\xB8\xAD\xE6\x96\x87", "abc", "  "}));
  Strs all;
  for (auto s : split("gpt2", "")) all.push_back(s);
  EXPECT_TRUE(all.empty());
}

// The llama-bpe and qwen2 vocabularies are too large for the shared data, only their vectors are there.
// Each pre-token yields at least one token, so no test string may split into more pieces than it has ids;
// the digit runs are checked exactly (llama3 groups three digits, qwen2 one).
TEST(PreTokenizer, LlamaBpeAndQwen2AgainstVectorCounts) {
  std::string dir = test::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "shared data (../shared/data) not present";
  for (std::string name : {"llama-bpe", "qwen2"}) {
    std::string base = dir + "/tokenizer-vectors/ggml-vocab-" + name + ".gguf";
    if (!std::filesystem::exists(base + ".inp")) continue;
    std::vector<std::string> inputs = test::read_vocab_test_inputs(base + ".inp");
    std::vector<std::vector<int32_t>> outputs = test::read_vocab_test_outputs(base + ".out");
    ASSERT_GT(inputs.size(), 10u);
    for (size_t i = 0; i < inputs.size(); ++i) {
      ASSERT_LT(i, outputs.size());
      size_t n = outputs[i].size();
      auto pieces = split(name, inputs[i]);
      EXPECT_LE(pieces.size(), n) << name << " test string " << i + 1 << ": '" << inputs[i] << "'";
      std::string joined;
      for (auto& p : pieces) joined += p;
      EXPECT_EQ(joined, inputs[i]);
      if (!inputs[i].empty() && inputs[i].find_first_not_of('3') == std::string::npos) {
        size_t want = name == "qwen2" ? inputs[i].size() : (inputs[i].size() + 2) / 3;
        EXPECT_EQ(pieces.size(), want) << inputs[i];
        EXPECT_EQ(n, want) << inputs[i];
      }
    }
  }
}

// ---------------------------------------------------------------- building blocks

TEST(TokenizerRegex, Features) {
  std::vector<uint32_t> cps, off;
  auto m = [&](const char* pat, const std::string& s, size_t pos = 0) {
    utf8_decode(s, cps, off);
    return Regex(pat).match_at(cps.data(), pos, cps.size());
  };
  EXPECT_EQ(m(R"(\s+(?!\S))", "   x"), 2);
  EXPECT_EQ(m(R"(\s+(?!\S))", "   "), 3);
  EXPECT_EQ(m(R"(\s+(?!\S))", " x"), -1);
  EXPECT_EQ(m(R"((?i:'s|'ll))", "'LL"), 3);
  EXPECT_EQ(m(R"('s|'ll)", "'LL"), -1);
  EXPECT_EQ(m(R"(\p{N}{1,3})", "12345"), 3);
  EXPECT_EQ(m(R"(\s+$)", "  "), 2);
  EXPECT_EQ(m(R"(\s+$)", "  a"), -1);
  EXPECT_EQ(m(R"([^\s\p{L}\p{N}]+[\r\n]*)", "?!\n\nx"), 4);
  EXPECT_EQ(m(R"(a|ab)", "ab"), 1);  // leftmost alternative, not longest
  EXPECT_EQ(m("[\u4E00-\u9FA5]+", "\xE4\xB8\xAD\xE6\x96\x87z"), 2);
  EXPECT_EQ(m(R"(x(?=y))", "xy"), 1);
  EXPECT_EQ(m(R"(a(?:bc)?c)", "abcc"), 4);
  EXPECT_EQ(m(R"(a(?:bc)?c)", "ac"), 2);
  EXPECT_THROW(Regex("a++"), Error);
  EXPECT_THROW(Regex("(a"), Error);
  EXPECT_THROW(Regex(R"(\p{Lu})"), Error);
}

TEST(TokenizerUnicode, Categories) {
  using namespace ucat;
  EXPECT_EQ(category('a'), L);
  EXPECT_EQ(category('7'), N);
  EXPECT_EQ(category('!'), P);
  EXPECT_EQ(category('$'), S);
  EXPECT_EQ(category(' '), Z);
  EXPECT_EQ(category('\n'), C);
  EXPECT_EQ(category(0xE9), L);      // é
  EXPECT_EQ(category(0x4E2D), L);    // 中
  EXPECT_EQ(category(0x0301), M);    // combining acute
  EXPECT_EQ(category(0x17B6), M);    // Khmer vowel sign aa
  EXPECT_EQ(category(0x00BD), N);    // ½
  EXPECT_EQ(category(0x2019), P);    // ’
  EXPECT_EQ(category(0x1F999), S);   // 🦙
  EXPECT_EQ(category(0x3000), Z);
  EXPECT_EQ(category(0x0378), C);    // unassigned
  EXPECT_EQ(category(0x10FFFF), C);
  EXPECT_EQ(category(0x1D7CE), N);   // mathematical bold digit zero
  EXPECT_TRUE(is_space(0xA0));
  EXPECT_TRUE(is_space(0x2029));
  EXPECT_TRUE(is_space('\v'));
  EXPECT_FALSE(is_space(0x200B));  // zero width space is not White_Space
}

TEST(TokenizerUnicode, Utf8Validation) {
  auto bad = [](const std::string& s) { return utf8_invalid_offset(s); };
  constexpr size_t ok = std::string_view::npos;
  EXPECT_EQ(bad("plain"), ok);
  EXPECT_EQ(bad("\xC3\xA9\xE4\xB8\xAD\xF0\x9F\xA6\x99"), ok);
  EXPECT_EQ(bad("\xF4\x8F\xBF\xBF"), ok);          // U+10FFFF
  EXPECT_EQ(bad("a\xC0\x80"), 1u);                 // overlong
  EXPECT_EQ(bad("ab\xE0\x80\x80"), 2u);            // overlong
  EXPECT_EQ(bad("\xED\xA0\x80"), 0u);              // surrogate
  EXPECT_EQ(bad("\xF4\x90\x80\x80"), 0u);          // above U+10FFFF
  EXPECT_EQ(bad("x\xE4\xB8"), 1u);                 // truncated
  EXPECT_EQ(bad("\x80"), 0u);                      // stray continuation
  EXPECT_EQ(bad("\xE4\xB8" "z"), 0u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(unicode_to_byte(byte_to_unicode((uint8_t)b)), b);
  EXPECT_EQ(byte_to_unicode(' '), 0x120u);  // "Ġ"
  EXPECT_EQ(byte_to_unicode('\n'), 0x10Au);  // "Ċ"
}

// A long whitespace run before a non-letter made "\s+$" retry the run from every start (quadratic).
TEST(PreTokenizer, LongRunsStayLinear) {
  std::string s(200000, ' ');
  s += "1";
  auto t0 = std::chrono::steady_clock::now();
  auto pieces = split("deepseek-llm", s);
  double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(pieces, (Strs{std::string(200000, ' '), "1"}));
  EXPECT_LT(dt, 5.0) << "quadratic backtracking";
}

TEST(TokenizerBpe, DefaultConstructedFailsCleanly) {
  Tokenizer t;
  EXPECT_EQ(t.n_vocab(), 0);
  EXPECT_THROW(t.encode("x", false), Error);
  EXPECT_THROW(t.decode({0}), Error);
  EXPECT_EQ(t.decode({}), "");
}
