// The flops command line, run as a user would: JSON outputs and one-line errors.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "model/synthetic.h"
#include "test_util.h"

using namespace flops;

namespace {

struct CliRun {
  int code = 0;
  std::string out, err;
};

CliRun run(const std::string& args, const std::string& stdin_file = "") {
  std::string dir = test::temp_dir();
  std::string err_path = dir + "/stderr.txt";
  std::string cmd = std::string(FLOPS_BINARY_DIR) + "/flops " + args + " 2>" + err_path;
  if (!stdin_file.empty()) cmd += " <" + stdin_file;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_path);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

std::string tiny_model() {
  std::string path = test::temp_dir() + "/tiny.gguf";
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = 64;
  c.n_rot = 8;
  synthetic_model(c).write(path);
  return path;
}

std::string write_file(const std::string& name, const std::string& bytes) {
  std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

void expect_one_line_error(const CliRun& r, const std::string& phrase) {
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find(phrase), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "error is not one line: " << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

}  // namespace

TEST(Cli, InfoAndTokenizeJson) {
  std::string m = tiny_model();
  CliRun r = run("info " + m + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["n_layer"], 2);
  r = run("tokenize -m " + m + " -p \"hi\" --json --no-bos");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"], nlohmann::json::parse("[104, 105]"));
}

TEST(Cli, GenerateIsDeterministicForASeed) {
  std::string m = tiny_model();
  std::string args = "generate -m " + m + " -p \"abc\" -n 12 --temp 1.0 --top-k 0 --top-p 1 --min-p 0 -s 5 --json";
  CliRun a = run(args), b = run(args);
  ASSERT_EQ(a.code, 0) << a.err;
  auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(ja["tokens"], jb["tokens"]);
  EXPECT_EQ(ja["generated_tokens"], 12);
  EXPECT_TRUE(ja.contains("receipt"));
  CliRun c = run("generate -m " + m + " -p \"abc\" -n 12 --temp 1.0 --top-k 0 --top-p 1 --min-p 0 -s 6 --json");
  EXPECT_NE(nlohmann::json::parse(c.out)["tokens"], ja["tokens"]);
}

TEST(Cli, PerplexityJsonHasPpl) {
  std::string m = tiny_model();
  std::string text;
  for (int i = 0; i < 40; i++) text += "the quick brown fox jumps over the lazy dog. ";
  std::string f = write_file("text.txt", text);
  CliRun r = run("perplexity -m " + m + " -f " + f + " -c 32 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  EXPECT_EQ(j["method"], "chunks");
  r = run("perplexity -m " + m + " -f " + f + " -c 32 --stride 16 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["method"], "sliding");
  EXPECT_EQ(j["tokens_scored"].get<int64_t>(), j["tokens"].get<int64_t>() - 1);

  // Without -c the window is 512 capped at the model's 64 trained positions; asking for more
  // works (RoPE extrapolates) but says so on stderr.
  r = run("perplexity -m " + m + " -f " + f + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ctx"].get<int>(), 64);
  EXPECT_EQ(r.err, "");
  r = run("perplexity -m " + m + " -f " + f + " -c 128 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ctx"].get<int>(), 128);
  EXPECT_NE(r.err.find("warning: --ctx-size 128 exceeds the 64 positions the model was trained on"), std::string::npos)
      << r.err;
  r = run("score " + f + " -m " + m + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["window"].get<int>(), 64);
}

TEST(Cli, BadInputGivesOneLineErrors) {
  std::string m = tiny_model();
  expect_one_line_error(run("info /nonexistent/model.gguf"), "cannot open");
  std::ifstream in(m, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  expect_one_line_error(run("info " + write_file("trunc.gguf", bytes.substr(0, bytes.size() / 2))), "truncated");
  expect_one_line_error(run("info " + write_file("notgguf.gguf", "hello world, not a model")), "not a GGUF file");
  expect_one_line_error(run("perplexity -m " + m + " -f " + write_file("empty.txt", "")), "empty");
  expect_one_line_error(run("perplexity -m " + m + " -f " + write_file("bad.txt", "abc\xff\xfe def")), "not valid UTF-8");
  expect_one_line_error(run("perplexity -m " + m + " -f /nonexistent.txt"), "not found");
  expect_one_line_error(run("generate -m " + m + " -c 8 -p \"this prompt is longer than eight tokens\""), "context too long");
  expect_one_line_error(run("generate -m " + m + " -p x --temp -1"), "--temp");
  expect_one_line_error(run("perplexity -m " + m + " -f " + write_file("short.txt", "short") + " -c 64"), "fewer than one chunk");
  // The synthetic model's tokenizer is byte-level: "ab" is two tokens.
  expect_one_line_error(run("train --init " + m + " --data " + write_file("t.txt", "some text to train on") +
                            " --loss-on ab --eval-only -o " + test::temp_dir() + "/train_out"),
                        "--loss-on 'ab' is 2 tokens");
}

// -ctk/-ctv as llama.cpp names them: F16 by default, F32 on request, the size reported.
TEST(Cli, CacheTypeFlags) {
  std::string m = tiny_model();
  const std::string gen = "generate -m " + m + " -p \"abc\" -n 6 --temp 0 --json";
  CliRun a = run(gen), b = run(gen + " -ctk f32 --cache-type-v f32");
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  auto ja = nlohmann::json::parse(a.out)["kv_cache"], jb = nlohmann::json::parse(b.out)["kv_cache"];
  EXPECT_EQ(ja["type_k"], "f16");
  EXPECT_EQ(ja["type_v"], "f16");
  EXPECT_EQ(jb["type_k"], "f32");
  // 2 layers x context x kv_dim 16 x (K + V) x 2 or 4 bytes; the context is prompt + 6 tokens.
  const int64_t ctx = nlohmann::json::parse(a.out)["prompt_tokens"].get<int64_t>() + 6;
  EXPECT_EQ(ja["bytes"].get<int64_t>(), 2 * ctx * 16 * 2 * 2);
  EXPECT_EQ(jb["bytes"].get<int64_t>(), 2 * ja["bytes"].get<int64_t>());
  std::string text;
  for (int i = 0; i < 10; i++) text += "the quick brown fox jumps over the lazy dog. ";
  CliRun p = run("perplexity -m " + m + " -f " + write_file("ctk.txt", text) + " -c 32 -ctv f32 --json");
  ASSERT_EQ(p.code, 0) << p.err;
  auto jp = nlohmann::json::parse(p.out)["kv_cache"];
  EXPECT_EQ(jp["type_k"], "f16");
  EXPECT_EQ(jp["type_v"], "f32");
  EXPECT_EQ(jp["bytes"].get<int64_t>(), 2 * 32 * 16 * (2 + 4));
  CliRun bench = run("bench -m " + m + " -p 8 -n 4 -r 1 -ctk f32 -o json");
  ASSERT_EQ(bench.code, 0) << bench.err;
  auto jr = nlohmann::json::parse(bench.out);
  EXPECT_EQ(jr[0]["type_k"], "f32");
  EXPECT_EQ(jr[0]["type_v"], "f16");
  expect_one_line_error(run(gen + " -ctk q4_0"), "--cache-type-k must be f32 or f16, got 'q4_0'");
  expect_one_line_error(run("bench -m " + m + " -ctv bf16"), "--cache-type-v must be f32 or f16, got 'bf16'");
  expect_one_line_error(run("serve -m " + m + " --port 0 -ctk f8"), "--cache-type-k must be f32 or f16, got 'f8'");
}

TEST(Cli, TrainConfigSetsTyingAndInitStd) {
  // A config's "tied": false must give the separate output matrix (vocab x dim more parameters),
  // and the flag still overrides the config.
  std::string m = tiny_model();
  std::string data = write_file("cfg_train.txt", std::string(2000, 'a') + "bcd efg hij klm nop");
  auto params = [&](const std::string& cfg, const std::string& extra, const std::string& out) {
    std::string c = write_file(out + ".json", cfg);
    CliRun r = run("train -c " + c + " --tokenizer " + m + " --data " + data + " --val-data " + data +
                   " --steps 1 --batch 1 -t 1 --quiet --json -o " + test::temp_dir() + "/" + out + " " + extra);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? nlohmann::json::parse(r.out)["parameters"].get<int64_t>() : -1;
  };
  const std::string arch = R"("dim": 16, "layers": 1, "heads": 2, "ffn": 32, "ctx": 16)";
  int64_t tied = params("{" + arch + "}", "", "cfg_tied");
  int64_t untied = params("{" + arch + R"(, "tied": false})", "", "cfg_untied");
  int64_t flag = params("{" + arch + R"(, "tied": true})", "--untied", "cfg_flag");
  EXPECT_EQ(untied - tied, 300 * 16);
  EXPECT_EQ(flag, untied);
  // The written model says what training it took.
  CliRun info = run("info -m " + test::temp_dir() + "/cfg_untied/model.gguf --json");
  ASSERT_EQ(info.code, 0) << info.err;
  auto t = nlohmann::json::parse(info.out)["training"];
  EXPECT_EQ(t["step"].get<int64_t>(), 1);
  EXPECT_EQ(t["tokens"].get<int64_t>(), 16);
  EXPECT_GT(t["flops"].get<double>(), 0.0);
  expect_one_line_error(run("train -c " + write_file("cfg_bad.json", "{" + arch + R"(, "tied": "no"})") +
                            " --tokenizer " + m + " --data " + data + " -o " + test::temp_dir() + "/cfg_bad"),
                        "'tied' must be true or false");
  expect_one_line_error(run("train -c " + write_file("cfg_std.json", "{" + arch + R"(, "init_std": -1})") +
                            " --tokenizer " + m + " --data " + data + " -o " + test::temp_dir() + "/cfg_std"),
                        "init std must be a positive number");
}

TEST(Cli, RealModelTokenizeAndGreedy) {
  std::string d = test::shared_data_dir();
  if (d.empty()) GTEST_SKIP() << "../shared/data not present";
  std::string m = d + "/models/stories260K.gguf";
  CliRun r = run("tokenize -m " + m + " -p \"Once upon a time\" --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"], nlohmann::json::parse("[1, 403, 407, 261, 378]"));
  r = run("generate -m " + m + " -p \"Once upon a time\" -n 32 --temp 0 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.", 0), 0u) << r.out;
}
