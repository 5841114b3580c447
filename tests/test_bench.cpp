// flops bench: llama-bench's tests, statistics, table and JSON field names.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>

#include "core/error.h"
#include "eval/bench.h"
#include "model/synthetic.h"
#include "test_util.h"

using namespace flops;

namespace {

ModelConfig tiny_config() {
  ModelConfig c;
  c.n_vocab = 300;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 64;
  c.n_ctx_train = 256;
  c.n_rot = 8;
  return c;
}

std::string run_cli(const std::string& args, int& code) {
  std::string cmd = std::string(FLOPS_BINARY_DIR) + "/flops " + args + " 2>" + test::temp_dir() + "/bench_err.txt";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

}  // namespace

TEST(Bench, TestNamesFollowLlamaBench) {
  EXPECT_EQ((BenchTest{512, 0}).name(), "pp512");
  EXPECT_EQ((BenchTest{0, 128}).name(), "tg128");
  EXPECT_EQ((BenchTest{2048, 128}).name(), "pp2048+tg128");
}

TEST(Bench, RatesAreTokensOverTimeAndStatsMatchSamples) {
  auto m = load_synthetic_model(tiny_config());
  BenchResult r = run_bench_test(*m, {16, 8}, 1, 4, 5);
  ASSERT_EQ(r.samples_ns.size(), 4u);
  ASSERT_EQ(r.samples_ts.size(), 4u);
  double mean_ts = 0, mean_ns = 0;
  for (size_t i = 0; i < 4; i++) {
    EXPECT_GT(r.samples_ns[i], 0);
    EXPECT_NEAR(r.samples_ts[i], 24e9 / (double)r.samples_ns[i], 1e-6 * r.samples_ts[i]);
    mean_ts += r.samples_ts[i] / 4;
    mean_ns += (double)r.samples_ns[i] / 4;
  }
  EXPECT_NEAR(r.avg_ts, mean_ts, 1e-9 * mean_ts);
  EXPECT_NEAR(r.avg_ns, mean_ns, 1e-9 * mean_ns);
  double ss = 0;
  for (double t : r.samples_ts) ss += (t - mean_ts) * (t - mean_ts);
  EXPECT_NEAR(r.stddev_ts, std::sqrt(ss / 3), 1e-9 * mean_ts);  // sample standard deviation
  EXPECT_EQ(r.n_threads, 1);
  EXPECT_EQ(r.n_batch, 5);
}

TEST(Bench, DecodeRateAtDepthIsGenOverTheTimeDifference) {
  BenchResult pp, pg;
  pp.test = {2048, 0};
  pp.avg_ns = 2e9;
  pg.test = {2048, 128};
  pg.avg_ns = 3e9;
  EXPECT_DOUBLE_EQ(decode_rate_at_depth(pp, pg), 128.0);
  pg.avg_ns = 1e9;  // noise larger than the generation time
  EXPECT_TRUE(std::isnan(decode_rate_at_depth(pp, pg)));
}

TEST(Bench, JsonCarriesLlamaBenchFieldNames) {
  auto m = load_synthetic_model(tiny_config());
  BenchResult r = run_bench_test(*m, {0, 4}, 1, 2);
  auto j = bench_json(*m, r);
  for (const char* k : {"build_commit", "cpu_info", "model_filename", "model_type", "model_size", "model_n_params",
                        "n_batch", "n_ubatch", "n_threads", "type_k", "type_v", "n_prompt", "n_gen", "test_time",
                        "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "samples_ns", "samples_ts"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["n_prompt"], 0);
  EXPECT_EQ(j["n_gen"], 4);
  EXPECT_EQ(j["n_threads"], 1);
  EXPECT_EQ(j["model_n_params"], m->n_params());
  EXPECT_EQ(j["samples_ts"].size(), 2u);
}

TEST(Bench, ModelColumnNamesTheFileType) {
  ModelConfig c = tiny_config();
  SyntheticOptions o;
  o.matrix_type = DType::Q8_0;
  GGUFWriter w = synthetic_model(c, o);
  auto guessed = load_model(gguf_parse_owned(w.serialize()), "m");
  EXPECT_NE(bench_model_type(*guessed).find("Q8_0 (guessed)"), std::string::npos) << bench_model_type(*guessed);
  w.set_u32("general.file_type", 15);
  auto named = load_model(gguf_parse_owned(w.serialize()), "m");
  EXPECT_NE(bench_model_type(*named).find("Q4_K - Medium"), std::string::npos) << bench_model_type(*named);
}

TEST(Bench, DecodeBytesCountOneEmbeddingRowUnlessTied) {
  ModelConfig c = tiny_config();
  auto m = load_synthetic_model(c);
  const double d = c.n_embd, ff = c.n_ff, kv = c.kv_dim(), V = c.n_vocab;
  const double per_layer = d * d * 2 + d * kv * 2 + 3 * d * ff;
  EXPECT_DOUBLE_EQ(decode_weight_bytes(*m), 4 * (c.n_layer * per_layer + V * d + d));
  SyntheticOptions o;
  o.tied_output = true;
  auto tied = load_synthetic_model(c, o);
  EXPECT_DOUBLE_EQ(decode_weight_bytes(*tied), 4 * (c.n_layer * per_layer + V * d));
}

TEST(Bench, BadArgumentsAreRefused) {
  auto m = load_synthetic_model(tiny_config());
  EXPECT_THROW(run_bench_test(*m, {0, 0}, 1, 1), Error);
  EXPECT_THROW(run_bench_test(*m, {4, 0}, 1, 0), Error);
  EXPECT_THROW(run_bench_test(*m, {4, 0}, 0, 1), Error);
}

TEST(Bench, CommandPrintsTheTableAndJson) {
  std::string path = test::temp_dir() + "/bench_tiny.gguf";
  synthetic_model(tiny_config()).write(path);
  int code = 0;
  std::string md = run_cli("bench -m " + path + " -p 8 -n 4 -t 1,2 -r 2", code);
  ASSERT_EQ(code, 0) << md;
  EXPECT_NE(md.find("| model"), std::string::npos) << md;
  EXPECT_NE(md.find("t/s |"), std::string::npos) << md;
  int rows = 0;
  for (size_t p = 0; (p = md.find("| CPU ", p)) != std::string::npos; p++) rows++;
  EXPECT_EQ(rows, 4) << md;  // pp8 and tg4 at 1 and 2 threads
  EXPECT_NE(md.find("pp8"), std::string::npos);
  EXPECT_NE(md.find("tg4"), std::string::npos);

  std::string js = run_cli("bench -m " + path + " -p 8 -n 0 --pg 8,2 -t 1 -r 2 --json", code);
  ASSERT_EQ(code, 0) << js;
  auto j = nlohmann::json::parse(js);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["n_prompt"], 8);
  EXPECT_EQ(j[0]["n_gen"], 0);
  EXPECT_EQ(j[1]["n_prompt"], 8);
  EXPECT_EQ(j[1]["n_gen"], 2);
  EXPECT_GT(j[1]["avg_ts"].get<double>(), 0.0);

  std::string bad = run_cli("bench -m " + path + " -p 0 -n 0", code);
  EXPECT_EQ(code, 1);
  std::ifstream e(test::temp_dir() + "/bench_err.txt");
  std::string err((std::istreambuf_iterator<char>(e)), {});
  EXPECT_NE(err.find("nothing to measure"), std::string::npos) << err;
}
