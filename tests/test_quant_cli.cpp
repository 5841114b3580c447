// `flops quantize` and `flops info` as a user runs them, bad quantized input, and the
// quantized output loaded by llama.cpp's own binaries (skipped when they are absent).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "core/dtype.h"
#include "model/gguf.h"
#include "model/synthetic.h"
#include "test_util.h"

using namespace flops;

namespace {

struct CliRun {
  int code = 0;
  std::string out, err;
};

CliRun run_cmd(const std::string& cmdline) {
  const std::string err_path = test::temp_dir() + "/stderr.txt";
  CliRun r;
  FILE* p = popen((cmdline + " 2>" + err_path).c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_path);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}
CliRun run(const std::string& args) { return run_cmd(std::string(FLOPS_BINARY_DIR) + "/flops " + args); }

void expect_one_line_error(const CliRun& r, const std::string& phrase) {
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find(phrase), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "error is not one line: " << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

ModelConfig tiny() {
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 256;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 512;
  c.n_ctx_train = 64;
  c.n_rot = 64;
  return c;
}

std::string tiny_model(const std::string& name, DType t = DType::F32) {
  const std::string path = test::temp_dir() + "/" + name;
  SyntheticOptions o;
  o.matrix_type = t;
  synthetic_model(tiny(), o).write(path);
  return path;
}

// A copy of a file with the type id of one tensor replaced (the info entry is found by name).
std::string with_tensor_type(const std::string& src, const std::string& tensor, uint32_t type, const std::string& name) {
  std::ifstream in(src, std::ios::binary);
  std::string b((std::istreambuf_iterator<char>(in)), {});
  size_t at = b.find(tensor);
  EXPECT_NE(at, std::string::npos);
  at += tensor.size();
  uint32_t nd;
  std::memcpy(&nd, b.data() + at, 4);
  std::memcpy(b.data() + at + 4 + 8 * nd, &type, 4);
  const std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << b;
  return path;
}

}  // namespace

TEST(QuantCli, QuantizeJsonAndSummary) {
  const std::string in = tiny_model("cli_in.gguf"), out = test::temp_dir() + "/cli_q4km.gguf";
  CliRun r = run("quantize " + in + " " + out + " Q4_K_M --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "Q4_K_M");
  EXPECT_EQ(j["file_type"], 15);
  EXPECT_LT(j["bytes_out"].get<double>(), j["bytes_in"].get<double>() / 5);
  EXPECT_NEAR(j["bits_per_weight_in"].get<double>(), 32.0, 1e-9);
  EXPECT_LT(j["bits_per_weight_out"].get<double>(), 5.5);
  EXPECT_EQ(j["tensors"].size(), gguf_open(in).tensors.size());
  int q4 = 0, q6 = 0;
  for (auto& t : j["tensors"]) q4 += t["to"] == "Q4_K", q6 += t["to"] == "Q6_K";
  EXPECT_GT(q4, 0);
  EXPECT_GT(q6, 0);  // the output matrix and use_more_bits layers
  // The text summary: sizes, bits per weight, types.
  r = run("quantize " + in + " " + out + " q8_0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("bits/weight    32.000 -> 8."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("size           "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("F32 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-> F32 "), std::string::npos) << r.out;
  // info lists the types with their bits per weight.
  r = run("info " + out + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tensor_types"]["Q8_0"]["bits_per_weight"], 8.5);
  EXPECT_EQ(j["file_type"], 7);
  r = run("info " + out);
  EXPECT_NE(r.out.find("Q8_0"), std::string::npos);
  EXPECT_NE(r.out.find("8.5 bits/weight"), std::string::npos) << r.out;
}

TEST(QuantCli, BadTypesAndRequantize) {
  const std::string in = tiny_model("cli_bad_in.gguf"), out = test::temp_dir() + "/cli_bad_out.gguf";
  expect_one_line_error(run("quantize " + in + " " + out + " IQ2_XXS"), "IQ2_XXS is a ggml type flops cannot write");
  expect_one_line_error(run("quantize " + in + " " + out + " Q9_K"), "unknown quantization type 'Q9_K'");
  expect_one_line_error(run("quantize " + in + " " + in + " Q4_0"), "input and output are the same file");
  const std::string q = tiny_model("cli_q8.gguf", DType::Q8_0);
  expect_one_line_error(run("quantize " + q + " " + out + " Q4_K_M"), "is already Q8_0");
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(run("quantize " + q + " " + out + " Q4_K_M --allow-requantize --quiet").code, 0);
}

// Must-show 4: an unsupported type is refused naming the tensor and the type; a quantized
// tensor cut short is refused as truncated.
TEST(QuantCli, UnsupportedAndTruncatedTensors) {
  const std::string in = tiny_model("cli_t_in.gguf"), q = test::temp_dir() + "/cli_t_q4k.gguf";
  ASSERT_EQ(run("quantize " + in + " " + q + " Q4_K_M --quiet").code, 0);
  const std::string bad = with_tensor_type(q, "blk.1.ffn_up.weight", 16, "cli_iq2.gguf");
  expect_one_line_error(run("info " + bad), "tensor 'blk.1.ffn_up.weight' has unsupported type IQ2_XXS (ggml type 16");
  expect_one_line_error(run("perplexity -m " + bad + " -p hello"), "unsupported type IQ2_XXS");
  std::ifstream f(q, std::ios::binary);
  std::string b((std::istreambuf_iterator<char>(f)), {});
  const std::string cut = test::temp_dir() + "/cli_cut.gguf";
  std::ofstream(cut, std::ios::binary) << b.substr(0, b.size() - 1000);
  expect_one_line_error(run("info " + cut), "truncated GGUF file: tensor '");
  // quantize refuses both before writing anything.
  const std::string out = test::temp_dir() + "/cli_t_out.gguf";
  std::filesystem::remove(out);
  expect_one_line_error(run("quantize " + cut + " " + out + " Q4_0 --allow-requantize"), "truncated GGUF file: tensor '");
  expect_one_line_error(run("quantize " + bad + " " + out + " Q4_0 --allow-requantize"),
                        "tensor 'blk.1.ffn_up.weight' has unsupported type IQ2_XXS");
  EXPECT_FALSE(std::filesystem::exists(out));
  for (auto& e : std::filesystem::directory_iterator(test::temp_dir()))
    EXPECT_EQ(e.path().filename().string().find("cli_t_out.gguf."), std::string::npos) << e.path();
}

// Rows that no block of the type divides fall back to a type that fits, said on stderr (also
// with --json, whose tensors carry "fallback": true).
TEST(QuantCli, FallbackIsSaidOnStderr) {
  ModelConfig c = tiny();
  c.n_embd = 96;  // attention rows of 96: Q4_K (256) does not fit, Q5_0 (32) does
  c.n_rot = 24;
  const std::string in = test::temp_dir() + "/cli_fb_in.gguf", out = test::temp_dir() + "/cli_fb_out.gguf";
  synthetic_model(c, {}).write(in);
  CliRun r = run("quantize " + in + " " + out + " Q4_K_M --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("fallback: blk.0.attn_q.weight: rows of 96 are not a multiple of the Q4_K block of 256: Q5_0 "
                       "instead"),
            std::string::npos)
      << r.err;
  auto j = nlohmann::json::parse(r.out);
  int fb = 0;
  for (auto& t : j["tensors"]) fb += t["fallback"].get<bool>();
  EXPECT_GT(fb, 0);
  EXPECT_EQ(r.out.find("fallback:"), std::string::npos);
}

TEST(QuantCli, InfoOnTokenizerOnlyFile) {
  const std::string tok = std::string(FLOPS_SOURCE_DIR) + "/models/flops-tok4k.gguf";
  if (!std::filesystem::exists(tok)) GTEST_SKIP() << tok << " absent";
  CliRun r = run("info " + tok);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("tokenizer only"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gpt2 (pre: gpt-2), 4096 tokens, 3839 merges"), std::string::npos) << r.out;
  r = run("info " + tok + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kind"], "tokenizer");
  EXPECT_EQ(j["tokenizer"]["n_vocab"], 4096);
  EXPECT_EQ(j["tokenizer"]["merges"], 3839);
}

// Must-show 3 (loads in llama.cpp): flops's Q4_K_M of the reference F32 model runs in
// llama-cli, and llama-perplexity gives it the perplexity flops computes.
TEST(QuantCli, OutputLoadsInLlamaCpp) {
  const std::string data = test::shared_data_dir();
  const std::string bin = std::string(FLOPS_SOURCE_DIR) + "/../shared/reference/llama.cpp/bin";
  if (data.empty() || !std::filesystem::exists(bin + "/llama-perplexity"))
    GTEST_SKIP() << "../shared/data or the llama.cpp binaries absent";
  const std::string ref = data + "/llama-reference", out = test::temp_dir() + "/llama.flops.q4_k_m.gguf";
  ASSERT_EQ(run("quantize " + ref + "/llama.f32.gguf " + out + " Q4_K_M --quiet").code, 0);
  CliRun l = run_cmd("cd " + bin + " && ./llama-perplexity -m " + out + " -f " + ref +
                     "/tinyshakespeare_first20000.txt -c 128 -t 2");
  ASSERT_EQ(l.code, 0) << l.err;
  const std::string all = l.out + l.err;
  const size_t at = all.find("Final estimate: PPL = ");
  ASSERT_NE(at, std::string::npos) << all;
  const double llama_ppl = std::stod(all.substr(at + 22));
  CliRun f = run("perplexity -m " + out + " -f " + ref + "/tinyshakespeare_first20000.txt -c 128 --json --quiet");
  ASSERT_EQ(f.code, 0) << f.err;
  const double flops_ppl = nlohmann::json::parse(f.out)["ppl"];
  EXPECT_NEAR(flops_ppl / llama_ppl, 1.0, 1e-3) << flops_ppl << " vs " << llama_ppl;
}
