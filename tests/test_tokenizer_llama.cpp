// Differential test against llama.cpp's own tokenizer (../shared/reference/llama.cpp/bin/
// llama-tokenize): random strings (ASCII, whitespace runs, digits, accents, CJK, emoji, RTL,
// special-token look-alikes and the vocabulary's own control / user-defined strings) must give
// the same ids on every shared vocabulary, with special tokens parsed and not.
//
// llama-tokenize takes one text per run and each run reloads the vocabulary (up to ~2 s here),
// so with specials parsed many strings go in one run, separated by a control token: llama.cpp
// tokenizes the text between special tokens piece by piece, so the run's ids are each string's
// ids joined by the separator's id (checked: a run whose ids do not split into as many parts is
// redone string by string). Without parsing, strings go one per run, fewer of them.
// FLOPS_TOKDIFF_N (strings per vocabulary, default 64) and FLOPS_TOKDIFF_SEED widen the search.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace flops;

namespace {

std::string reference_bin() {
  std::string d = test::shared_data_dir();
  if (d.empty()) return "";
  fs::path p = fs::path(d).parent_path() / "reference" / "llama.cpp" / "bin" / "llama-tokenize";
  return fs::exists(p) ? p.string() : "";
}

std::string ids_str(const std::vector<int32_t>& v) {
  std::string s;
  for (int32_t x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return "[" + s + "]";
}

std::string quoted(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '\n') o += "\\n";
    else if (c == '\t') o += "\\t";
    else if (c == '\r') o += "\\r";
    else if (c == '"' || c == '\\') o += '\\', o += (char)c;
    else o += (char)c;
  }
  return o + "\"";
}

// llama-tokenize's ids for one text (read from a file, no escape processing).
std::vector<int32_t> llama_ids(const std::string& bin, const std::string& vocab, const std::string& text, bool bos,
                               bool parse_special) {
  static int counter = 0;
  std::string tmp = test::temp_dir() + "/tokdiff_" + std::to_string(counter++) + ".txt";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << text;
  }
  std::string cmd = "'" + bin + "' -m '" + vocab + "' -f '" + tmp + "' --ids --log-disable --no-escape" +
                    (bos ? "" : " --no-bos") + (parse_special ? "" : " --no-parse-special") + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  int rc = p ? pclose(p) : -1;
  fs::remove(tmp);
  EXPECT_EQ(rc, 0) << cmd;
  size_t b = out.rfind('['), e = out.rfind(']');
  std::vector<int32_t> ids;
  if (b == std::string::npos || e == std::string::npos || e < b) {
    ADD_FAILURE() << "no ids from " << cmd << ": " << out;
    return ids;
  }
  std::string inner = out.substr(b + 1, e - b - 1);
  for (size_t at = 0; at < inner.size();) {
    size_t c = inner.find(',', at);
    std::string num = inner.substr(at, c == std::string::npos ? std::string::npos : c - at);
    if (num.find_first_of("0123456789") != std::string::npos) ids.push_back((int32_t)std::stol(num));
    at = c == std::string::npos ? inner.size() : c + 1;
  }
  return ids;
}

std::vector<std::string> random_strings(const Tokenizer& tok, int n, uint64_t seed, const std::string& avoid) {
  std::vector<std::string> parts{
      "the", "The", " cat", "Hello", " world", "  ", " ", "   ", "\n", "\n\n", " \n ", "\t", "\r\n", "'s", "'LL",
      "n't", "123", "4", "2024", "3.14", "1,000", "!!", "?", "(", ")", "==", "--", "...", "@#$",
      "\xC3\xA9", "caf\xC3\xA9", "\xC3\xBC", "e\xCC\x81", "\xC3\x85ngstr\xC3\xB6m",                  // accents
      "\xE4\xB8\xAD\xE6\x96\x87", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "\xED\x95\x9C\xEA\xB5\xAD",  // CJK, Hangul
      "\xF0\x9F\xA6\x99", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xE2\x9D\xA4\xEF\xB8\x8F",           // emoji
      "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7", "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D",               // Arabic, Hebrew
      "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D",
      "\xE3\x80\x80", "\xC2\xA0", "\xE2\x80\x8B", "\xE2\x96\x81",                                  // odd spaces, ▁
      "<s", "</", "s>", "<|", "|>", "<|endoftext", "<|end|", "[CLS", "<unk", "<0x0A>", "<pad>x", "[", "]",
      "<|im_start|>", "<|eot_id|>", "##ing", "`", "$", "_", "\\n"};
  // The vocabulary's own special strings (control, user-defined, unknown), a few of them.
  std::vector<std::string> specials;
  for (int id = 0; id < tok.n_vocab(); ++id) {
    TokenType t = tok.token_type(id);
    if ((t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) && tok.token_text(id) != avoid &&
        !tok.token_text(id).empty())
      specials.push_back(tok.token_text(id));
  }
  std::mt19937_64 rng(seed);
  std::shuffle(specials.begin(), specials.end(), rng);
  if (specials.size() > 12) specials.resize(12);
  std::vector<std::string> out;
  while ((int)out.size() < n) {
    std::string s;
    int k = 1 + (int)(rng() % 10);
    for (int i = 0; i < k; ++i) {
      if (!specials.empty() && rng() % 6 == 0) s += specials[rng() % specials.size()];
      else s += parts[rng() % parts.size()];
    }
    if (!avoid.empty() && s.find(avoid) != std::string::npos) continue;
    out.push_back(s);
  }
  return out;
}

int env_int(const char* name, int def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : def;
}

void diff_vocab(const std::string& path) {
  std::string bin = reference_bin();
  if (bin.empty()) GTEST_SKIP() << "llama.cpp reference binaries (../shared/reference/llama.cpp/bin) not present";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not present";
  GGUFFile g = gguf_open(path);
  Tokenizer tok = Tokenizer::from_gguf(g);
  const std::string name = fs::path(path).filename().string();
  // Separator: a control token (EOS, else BOS, else any control token).
  int32_t sep = -1;
  for (int32_t cand : {tok.eos(), tok.bos()})
    if (sep < 0 && cand >= 0 && tok.token_type(cand) == TokenType::Control) sep = cand;
  for (int id = 0; sep < 0 && id < tok.n_vocab(); ++id)
    if (tok.token_type(id) == TokenType::Control && !tok.token_text(id).empty()) sep = id;
  ASSERT_GE(sep, 0) << name << " has no control token to separate strings with";
  const std::string sep_text = tok.token_text(sep);
  const int n = env_int("FLOPS_TOKDIFF_N", 64);
  const uint64_t seed = (uint64_t)env_int("FLOPS_TOKDIFF_SEED", 2024) ^ std::hash<std::string>()(name);
  auto texts = random_strings(tok, n, seed, sep_text);

  int agree = 0, total = 0;
  auto check = [&](const std::string& s, const std::vector<int32_t>& want, bool bos, bool parse) {
    ++total;
    auto got = tok.encode(s, bos, parse);
    if (got == want) ++agree;
    else
      ADD_FAILURE() << name << (parse ? " parse-special" : " no-parse-special") << (bos ? " +bos" : "") << " text "
                    << quoted(s) << "\n  llama.cpp " << ids_str(want) << "\n  flops     " << ids_str(got);
  };
  // Specials parsed: all strings in one run, split at the separator.
  std::string joined;
  for (size_t i = 0; i < texts.size(); ++i) joined += (i ? sep_text : "") + texts[i];
  auto all = llama_ids(bin, path, joined, false, true);
  std::vector<std::vector<int32_t>> pieces(1);
  for (int32_t id : all) {
    if (id == sep) pieces.emplace_back();
    else pieces.back().push_back(id);
  }
  if (pieces.size() == texts.size()) {
    for (size_t i = 0; i < texts.size(); ++i) check(texts[i], pieces[i], false, true);
  } else {
    for (const auto& s : texts) check(s, llama_ids(bin, path, s, false, true), false, true);
  }
  // Specials as text, and with the model's BOS/EOS: one run per string.
  const int solo = env_int("FLOPS_TOKDIFF_SOLO", 6);
  for (int i = 0; i < solo && i < (int)texts.size(); ++i) check(texts[i], llama_ids(bin, path, texts[i], false, false), false, false);
  for (int i = 0; i < 2 && i < (int)texts.size(); ++i) check(texts[i], llama_ids(bin, path, texts[i], true, true), true, true);
  std::printf("%s: %d/%d strings tokenized as llama.cpp does\n", name.c_str(), agree, total);
}

std::string vec(const std::string& name) {
  std::string d = test::shared_data_dir();
  return d.empty() ? "" : d + "/tokenizer-vectors/ggml-vocab-" + name + ".gguf";
}
std::string ref(const std::string& name) {
  std::string d = test::shared_data_dir();
  return d.empty() ? "" : d + "/llama-reference/" + name;
}

}  // namespace

TEST(TokenizerVsLlama, Gpt2) { diff_vocab(vec("gpt-2")); }
TEST(TokenizerVsLlama, LlamaSpm) { diff_vocab(vec("llama-spm")); }
TEST(TokenizerVsLlama, Falcon) { diff_vocab(vec("falcon")); }
TEST(TokenizerVsLlama, Starcoder) { diff_vocab(vec("starcoder")); }
TEST(TokenizerVsLlama, DeepseekLlm) { diff_vocab(vec("deepseek-llm")); }
TEST(TokenizerVsLlama, DeepseekCoder) { diff_vocab(vec("deepseek-coder")); }
TEST(TokenizerVsLlama, Refact) { diff_vocab(vec("refact")); }
TEST(TokenizerVsLlama, BertBge) { diff_vocab(vec("bert-bge")); }
// The llama-reference models: truncated GPT-2 BPE (all decoders share it) and the bert subset.
TEST(TokenizerVsLlama, ReferenceDecoders) { diff_vocab(ref("llama.f16.gguf")); }
TEST(TokenizerVsLlama, ReferenceQwen2NoBos) { diff_vocab(ref("qwen2.f16.gguf")); }
TEST(TokenizerVsLlama, ReferenceBert) { diff_vocab(ref("bert.f16.gguf")); }

// A phi-3-style vocabulary: LLaMA's SentencePiece with "</s>" user-defined and phi-3's added
// tokens, in a file named like phi-3, which makes llama.cpp strip the whitespace after its special
// tokens; the space prefix then goes on what follows them, with specials parsed or not.
TEST(TokenizerVsLlama, Phi3StyleUserDefined) {
  std::string src = vec("llama-spm");
  if (reference_bin().empty() || src.empty() || !fs::exists(src)) GTEST_SKIP() << "reference binaries or vocabularies absent";
  GGUFFile g = gguf_open(src);
  Tokenizer base = Tokenizer::from_gguf(g);
  Tokenizer::Vocab v;
  v.model = "llama";
  v.tokens = base.tokens();
  v.scores = base.scores();
  v.types = base.token_types();
  v.types[2] = TokenType::UserDefined;  // </s>
  for (const char* t : {"<|assistant|>", "<|end|>", "<|user|>", "<|system|>"}) {
    v.tokens.push_back(t);
    v.scores.push_back(0);
    v.types.push_back(TokenType::UserDefined);
  }
  v.tokens.push_back("<|endoftext|>");
  v.scores.push_back(0);
  v.types.push_back(TokenType::Control);
  v.bos = 1, v.eos = (int32_t)v.tokens.size() - 1, v.unk = 0;
  v.add_bos = true, v.add_bos_set = true;
  Tokenizer phi = Tokenizer::from_vocab(v);
  GGUFWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "Phi-3 mini (tokenizer only)");
  w.set_u32("llama.block_count", 1);
  w.set_u32("llama.context_length", 4096);
  w.set_u32("llama.embedding_length", 64);
  w.set_u32("llama.feed_forward_length", 128);
  w.set_u32("llama.attention.head_count", 2);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  tokenizer_to_gguf(phi, w);
  std::string path = test::temp_dir() + "/phi3-style-vocab.gguf";
  w.write(path);
  diff_vocab(path);
  // The rule by hand: "</s>" is matched without parse_special, the spaces after it are dropped and
  // the next word gets the "▁" prefix.
  GGUFFile pg = gguf_open(path);
  Tokenizer t = Tokenizer::from_gguf(pg);
  auto ids = t.encode("Hi</s>   there", false, false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[1], 2);
  EXPECT_EQ(t.token_text(ids[2]), "\xE2\x96\x81there");
  // "<|end|>" is stored user-defined, but llama.cpp makes end-of-turn texts control tokens: text
  // unless specials are parsed.
  for (bool parse : {false, true}) {
    const std::string s = "Hi<|end|> \n<|user|>  x</s>y";
    EXPECT_EQ(t.encode(s, false, parse), llama_ids(reference_bin(), path, s, false, parse)) << parse;
  }
  EXPECT_TRUE(t.is_eog(32001));
  EXPECT_EQ(t.token_type(32001), TokenType::Control);
  EXPECT_EQ(t.token_types()[32001], TokenType::UserDefined);
}
