// Embeddings: pooling of the final hidden states against single forward passes, batching,
// bert's own pooling, llama.cpp's bert embeddings (by token ids), the .npy writer, and
// `flops embed` from the command line.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "core/error.h"
#include "core/npy.h"
#include "model/arch.h"
#include "model/embed.h"
#include "model/forward.h"
#include "model/synthetic.h"
#include "test_util.h"

using namespace flops;

namespace {

ModelConfig tiny(Arch a) {
  ModelConfig c;
  c.arch = a;
  c.arch_name = arch_spec(a).name;
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = a == Arch::Bert ? 4 : 2;
  c.n_ff = 64;
  c.n_ctx_train = 64;
  c.n_rot = a == Arch::Bert ? 0 : 8;
  if (a == Arch::Bert) c.causal = false, c.pooling_type = 2;
  return c;
}

std::unique_ptr<Model> build(Arch a) {
  SyntheticOptions o;
  o.init_std = 0.2f;
  return load_synthetic_model(tiny(a), o, "tiny");
}

std::vector<int32_t> toks(int n, int salt) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; i++) t.push_back((i * 31 + salt * 17 + 3) % 256);
  return t;
}

// The final hidden rows of one sequence run alone.
std::vector<float> hidden_of(const Model& m, const std::vector<int32_t>& ids) {
  KVCache kv = make_kv_cache(m.cfg, (int)ids.size());
  std::vector<float> l, h;
  Batch b = make_batch(ids);
  b.logits = false;
  b.hidden = &h;
  forward(m, kv, b, l);
  return h;
}

double cosine(const std::vector<double>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); i++) ab += a[i] * b[i], aa += a[i] * a[i], bb += (double)b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST(Embed, PoolingOfHiddenStatesBatchedEqualsOneAtATime) {
  for (Arch a : {Arch::Llama, Arch::Bert}) {
    auto m = build(a);
    const int64_t d = m->cfg.n_embd;
    // 50 texts of 5..60 tokens: more than one batch of forward_multi.
    std::vector<std::vector<int32_t>> ids;
    for (int i = 0; i < 50; i++) ids.push_back(toks(5 + (i * 11) % 56, i));
    for (Pooling p : {Pooling::Mean, Pooling::Cls, Pooling::Last}) {
      auto raw = embed_tokens(*m, ids, p, false);
      auto unit = embed_tokens(*m, ids, p, true);
      ASSERT_EQ(raw.size(), ids.size());
      for (size_t i = 0; i < ids.size(); i++) {
        std::vector<float> h = hidden_of(*m, ids[i]);
        const int64_t T = (int64_t)ids[i].size();
        std::vector<double> want(d, 0.0);
        for (int64_t k = 0; k < d; k++) {
          if (p == Pooling::Mean)
            for (int64_t t = 0; t < T; t++) want[k] += h[t * d + k] / (double)T;
          else
            want[k] = h[(p == Pooling::Cls ? 0 : T - 1) * d + k];
        }
        double norm = 0, unit_norm = 0;
        for (int64_t k = 0; k < d; k++) {
          ASSERT_NEAR(raw[i][k], want[k], 1e-5) << arch_spec(a).name << " " << pooling_name(p) << " text " << i;
          norm += want[k] * want[k];
          unit_norm += (double)unit[i][k] * unit[i][k];
        }
        EXPECT_NEAR(unit_norm, 1.0, 1e-5);
        EXPECT_NEAR(unit[i][3], want[3] / std::sqrt(norm), 1e-5);
      }
    }
  }
}

TEST(Embed, PoolingComesFromMetadataOrIsChosen) {
  EXPECT_EQ(model_pooling(*build(Arch::Bert)), Pooling::Cls);   // bert.pooling_type = 2
  EXPECT_EQ(model_pooling(*build(Arch::Llama)), Pooling::Mean);  // decoders: no key, mean
  EXPECT_EQ(parse_pooling("last"), Pooling::Last);
  try {
    parse_pooling("max");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown pooling 'max'"), std::string::npos);
  }
  auto m = build(Arch::Llama);
  EXPECT_THROW(embed_tokens(*m, {toks(3, 0)}, Pooling::None), Error);
  EXPECT_THROW(embed_tokens(*m, {{}}, Pooling::Mean), Error);
  try {
    embed_tokens(*m, {toks(3, 0), toks(65, 1)}, Pooling::Mean);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("text 1 has 65 tokens"), std::string::npos) << e.what();
  }
  // Texts: the model's tokenizer with its BOS; max_tokens truncates.
  auto a = embed_texts(*m, {"hello world"}, Pooling::Mean, false);
  std::vector<int32_t> ids = m->tok.encode("hello world", true);
  auto b = embed_tokens(*m, {ids}, Pooling::Mean, false);
  EXPECT_EQ(a, b);
  auto c = embed_texts(*m, {"hello world"}, Pooling::Last, false, 3);
  auto e = embed_tokens(*m, {{ids.begin(), ids.begin() + 3}}, Pooling::Last, false);
  EXPECT_EQ(c, e);
}

// llama.cpp's bert embeddings (pooling CLS and MEAN, L2-normalised) from the same token ids.
TEST(Embed, BertMatchesLlamaCpp) {
  const std::string dir = test::shared_data_dir();
  if (dir.empty()) GTEST_SKIP() << "shared data (../shared/data) not present";
  const std::string path = dir + "/llama-reference/bert.f32.gguf";
  ModelLoadOptions o;
  o.tokenizer = false;  // WordPiece is not in flops yet: run on the reference token ids
  auto m = load_model(path, o);
  std::ifstream f(dir + "/llama-reference/bert.f32.ref.json");
  nlohmann::json ref = nlohmann::json::parse(f);
  std::vector<std::vector<int32_t>> ids;
  for (auto& s : ref["sequences"]) ids.push_back(s["token_ids"].get<std::vector<int32_t>>());
  auto cls = embed_tokens(*m, ids, model_pooling(*m));
  auto mean = embed_tokens(*m, ids, Pooling::Mean);
  for (size_t i = 0; i < ids.size(); i++) {
    EXPECT_GE(cosine(ref["sequences"][i]["pooled"]["embedding"].get<std::vector<double>>(), cls[i]), 0.99999);
    EXPECT_GE(cosine(ref["sequences"][i]["mean"]["embedding"].get<std::vector<double>>(), mean[i]), 0.99999);
  }
}

TEST(Npy, KnownBytesAndRoundTrip) {
  const std::string p = test::temp_dir() + "/e.npy";
  const float v[6] = {1.0f, -2.5f, 3.0f, 0.0f, 1e-3f, 7.0f};
  write_npy_f32(p, 2, 3, v);
  std::ifstream f(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), {});
  ASSERT_GE(s.size(), 64u + 24u);
  EXPECT_EQ(s.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t hl = (unsigned char)s[8] | ((unsigned char)s[9] << 8);
  EXPECT_EQ((10 + hl) % 64, 0u);
  EXPECT_EQ(s[10 + hl - 1], '\n');
  EXPECT_EQ(s.substr(10, 60), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } ");
  EXPECT_EQ(s.size(), 10 + hl + 24);
  EXPECT_EQ(s.substr(10 + hl, 4), std::string("\x00\x00\x80\x3f", 4));  // 1.0f little-endian
  int64_t r = 0, c = 0;
  auto back = read_npy_f32(p, r, c);
  EXPECT_EQ(r, 2);
  EXPECT_EQ(c, 3);
  EXPECT_EQ(back, std::vector<float>(v, v + 6));
}

namespace {

struct CliRun {
  int code = 0;
  std::string out, err;
};

CliRun run(const std::string& args) {
  const std::string err_path = test::temp_dir() + "/embed_stderr.txt";
  const std::string cmd = std::string(FLOPS_BINARY_DIR) + "/flops " + args + " 2>" + err_path;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_path);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

std::string write(const std::string& name, const std::string& bytes) {
  const std::string p = test::temp_dir() + "/" + name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

}  // namespace

TEST(EmbedCli, TextJsonNpyAndErrors) {
  const std::string model = test::temp_dir() + "/embed_tiny.gguf";
  synthetic_model(tiny(Arch::Llama)).write(model);
  auto m = load_model(model);
  const std::string texts = write("texts.txt", "the cat\n\nsat on\r\nthe mat\n");
  CliRun r = run("embed -m " + model + " -f " + texts + " --json --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["pooling"], "mean");
  EXPECT_EQ(j["count"], 3);
  auto want = embed_texts(*m, {"the cat", "sat on", "the mat"}, Pooling::Mean);
  for (int i = 0; i < 3; i++) {
    auto got = j["data"][i]["embedding"].get<std::vector<float>>();
    ASSERT_EQ(got.size(), want[i].size());
    for (size_t k = 0; k < got.size(); k++) EXPECT_NEAR(got[k], want[i][k], 1e-6);
  }
  // The same texts from JSONL into a .npy file.
  const std::string jl = write("texts.jsonl", "{\"text\": \"the cat\"}\n\"sat on\"\n{\"text\": \"the mat\", \"id\": 3}\n");
  const std::string npy = test::temp_dir() + "/out.npy";
  std::filesystem::remove(npy);
  r = run("embed -m " + model + " --jsonl " + jl + " -o " + npy + " --pooling last --no-normalize");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote 3 embeddings of 32 floats (last pooling)"), std::string::npos) << r.out;
  int64_t rows = 0, cols = 0;
  auto flat = read_npy_f32(npy, rows, cols);
  ASSERT_EQ(rows, 3);
  ASSERT_EQ(cols, 32);
  auto last = embed_texts(*m, {"the cat", "sat on", "the mat"}, Pooling::Last, false);
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 32; k++) EXPECT_NEAR(flat[i * 32 + k], last[i][k], 1e-6);
  // Plain output: the vectors' first values and the similarity of the texts.
  r = run("embed -m " + model + " -f " + texts + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("embedding 2 (32 floats, mean pooling): "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cosine similarity:\n  1.000"), std::string::npos) << r.out;
  // Errors: one line, non-zero exit, no output file.
  const std::string bad = write("bad.jsonl", "\"ok\"\n{\"txt\": 1}\n");
  const std::string npy2 = test::temp_dir() + "/never.npy";
  r = run("embed -m " + model + " --jsonl " + bad + " -o " + npy2);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("line 2: expected a JSON string or an object with a \"text\" string"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(npy2));
  r = run("embed -m " + model + " -p hi --pooling max");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown pooling 'max'"), std::string::npos) << r.err;
  r = run("embed -m " + model + " -p hi -f " + texts);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("exactly one of"), std::string::npos) << r.err;
}
