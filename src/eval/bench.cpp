#include "eval/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <random>

#include <fmt/format.h>

#include "core/error.h"
#include "core/machine.h"
#include "core/threads.h"
#include "model/forward.h"
#include "model/kv_cache.h"

namespace flops {

std::string BenchTest::name() const {
  if (n_prompt > 0 && n_gen > 0) return fmt::format("pp{}+tg{}", n_prompt, n_gen);
  if (n_gen > 0) return fmt::format("tg{}", n_gen);
  return fmt::format("pp{}", n_prompt);
}

namespace {

using clk = std::chrono::steady_clock;

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Runs the prompt and the generation of one test on a cleared cache.
void run_once(const Model& m, KVCache& kv, const BenchTest& t, int n_batch, std::mt19937& rng) {
  const int V = m.cfg.n_vocab;
  std::vector<float> logits;
  kv.clear();
  const bool bos = m.tok.add_bos_default() && m.tok.bos() >= 0;
  for (int done = 0; done < t.n_prompt;) {
    const int n = std::min(n_batch, t.n_prompt - done);
    std::vector<int32_t> toks(n);
    for (int i = 0; i < n; i++) toks[i] = (int32_t)(rng() % (unsigned)V);
    if (done == 0 && bos) toks[0] = m.tok.bos();
    forward(m, kv, make_batch(std::move(toks), false), logits);
    done += n;
  }
  int32_t tok = bos ? m.tok.bos() : (int32_t)(rng() % (unsigned)V);
  for (int i = 0; i < t.n_gen; i++) {
    forward(m, kv, make_batch({tok}, false), logits);
    tok = (int32_t)(rng() % (unsigned)V);
  }
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / (double)v.size();
}
double sample_stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double mu = mean(v);
  double s = 0;
  for (double x : v) s += (x - mu) * (x - mu);
  return std::sqrt(s / (double)(v.size() - 1));
}

// llama.cpp's names of its file types (general.file_type), for the model column.
const char* ftype_name(int64_t ft) {
  static const std::map<int64_t, const char*> names = {
      {0, "all F32"},        {1, "F16"},           {2, "Q4_0"},          {3, "Q4_1"},
      {7, "Q8_0"},           {8, "Q5_0"},          {9, "Q5_1"},          {10, "Q2_K - Medium"},
      {11, "Q3_K - Small"},  {12, "Q3_K - Medium"}, {13, "Q3_K - Large"}, {14, "Q4_K - Small"},
      {15, "Q4_K - Medium"}, {16, "Q5_K - Small"}, {17, "Q5_K - Medium"}, {18, "Q6_K"},
      {21, "Q2_K - Small"},  {25, "IQ4_NL - 4.5 bpw"}, {30, "IQ4_XS - 4.25 bpw"}, {32, "BF16"}};
  auto it = names.find(ft);
  return it == names.end() ? nullptr : it->second;
}

std::string human_params(double n) {
  if (n >= 1e9) return fmt::format("{:.1f}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.1f}M", n / 1e6);
  return fmt::format("{:.1f}K", n / 1e3);
}

}  // namespace

BenchResult run_bench_test(const Model& m, const BenchTest& t, int threads, int repetitions, int n_batch,
                           const std::function<void(int, int)>& on_rep) {
  if (t.n_prompt < 0 || t.n_gen < 0 || t.n_prompt + t.n_gen == 0)
    fail("a benchmark test needs prompt or generated tokens, got pp{} tg{}", t.n_prompt, t.n_gen);
  if (repetitions < 1) fail("--repetitions must be at least 1, got {}", repetitions);
  if (n_batch < 1) fail("--batch-size must be at least 1, got {}", n_batch);
  if (threads < 1) fail("--threads must be at least 1, got {}", threads);
  set_threads(threads);
  BenchResult r;
  r.test = t;
  r.n_threads = threads;
  r.n_batch = n_batch;
  r.test_time = utc_now();
  KVCache kv = make_kv_cache(m, t.n_prompt + t.n_gen);
  std::mt19937 rng(1234);
  // Warm-up as llama-bench does it: the prompt once, or a single generated token.
  run_once(m, kv, t.n_prompt > 0 ? BenchTest{t.n_prompt, 0} : BenchTest{0, 1}, n_batch, rng);
  std::vector<double> ns, ts;
  for (int i = 0; i < repetitions; i++) {
    auto t0 = clk::now();
    run_once(m, kv, t, n_batch, rng);
    const int64_t d = std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now() - t0).count();
    r.samples_ns.push_back(d);
    ns.push_back((double)d);
    ts.push_back(1e9 * (t.n_prompt + t.n_gen) / std::max<double>(1.0, (double)d));
    if (on_rep) on_rep(i + 1, repetitions);
  }
  r.samples_ts = ts;
  r.avg_ns = mean(ns);
  r.stddev_ns = sample_stddev(ns);
  r.avg_ts = mean(ts);
  r.stddev_ts = sample_stddev(ts);
  return r;
}

double decode_rate_at_depth(const BenchResult& pp, const BenchResult& pg) {
  const double dt = (pg.avg_ns - pp.avg_ns) * 1e-9;
  return dt > 0 ? pg.test.n_gen / dt : NAN;
}

std::string bench_model_type(const Model& m) {
  std::string type;
  const int64_t ft = m.gguf.get_int("general.file_type", -1);
  if (const char* n = ftype_name(ft)) {
    type = n;
  } else {
    // No file type in the metadata: name the type holding most matrix bytes, as a guess.
    std::map<std::string, uint64_t> bytes;
    for (auto& t : m.gguf.tensors)
      if (t.shape.size() >= 2) bytes[std::string(dtype_name(t.type))] += t.n_bytes;
    auto best = std::max_element(bytes.begin(), bytes.end(), [](auto& a, auto& b) { return a.second < b.second; });
    type = best == bytes.end() ? "?" : (best->first == "F32" ? "all F32" : best->first) + " (guessed)";
  }
  return fmt::format("{} {} {}", m.cfg.arch_name, human_params((double)m.n_params()), type);
}

uint64_t bench_model_size(const Model& m) {
  uint64_t s = 0;
  for (auto& t : m.gguf.tensors) s += t.n_bytes;
  return s;
}

double decode_weight_bytes(const Model& m) {
  double b = 0;
  const GGUFTensorInfo* embd = m.gguf.find_tensor("token_embd.weight");
  for (auto& t : m.gguf.tensors)
    if (t.shape.size() >= 2 && &t != embd) b += (double)t.n_bytes;
  if (embd) b += m.tied_output() ? (double)embd->n_bytes : (double)embd->n_bytes / (double)embd->shape[1];
  return b;
}

std::string bench_markdown_header() {
  return fmt::format("| {:<30} | {:>10} | {:>10} | {:<10} | {:>7} | {:>13} | {:>20} |\n", "model", "size", "params",
                     "backend", "threads", "test", "t/s") +
         fmt::format("| {:-<30} | {:->9}: | {:->9}: | {:-<10} | {:->6}: | {:->12}: | {:->19}: |\n", "", "", "", "", "",
                     "", "");
}

std::string bench_markdown_row(const Model& m, const BenchResult& r) {
  const double size = (double)bench_model_size(m), params = (double)m.n_params();
  std::string s = size >= 1024.0 * 1024 * 1024 ? fmt::format("{:.2f} GiB", size / (1024.0 * 1024 * 1024))
                                                : fmt::format("{:.2f} MiB", size / (1024.0 * 1024));
  std::string p = params >= 1e9 ? fmt::format("{:.2f} B", params / 1e9) : fmt::format("{:.2f} M", params / 1e6);
  return fmt::format("| {:<30} | {:>10} | {:>10} | {:<10} | {:>7} | {:>13} | {:>20} |\n", bench_model_type(m), s, p,
                     "CPU", r.n_threads, r.test.name(), fmt::format("{:.2f} ± {:.2f}", r.avg_ts, r.stddev_ts));
}

nlohmann::ordered_json bench_json(const Model& m, const BenchResult& r) {
  nlohmann::ordered_json j;
  j["build_commit"] = "flops";
  j["build_number"] = 0;
  j["cpu_info"] = cpu_model_name();
  j["gpu_info"] = "";
  j["backends"] = "CPU";
  j["model_filename"] = m.path;
  j["model_type"] = bench_model_type(m);
  j["model_size"] = bench_model_size(m);
  j["model_n_params"] = m.n_params();
  j["n_batch"] = r.n_batch;
  j["n_ubatch"] = r.n_batch;
  j["n_threads"] = r.n_threads;
  j["type_k"] = kv_cache_type_name(m.kv_types.k);
  j["type_v"] = kv_cache_type_name(m.kv_types.v);
  j["kv_cache_bytes"] = kv_cache_bytes(m.cfg, r.test.n_prompt + r.test.n_gen, m.kv_types);
  j["n_gpu_layers"] = 0;
  j["use_mmap"] = true;
  j["embeddings"] = false;
  j["n_prompt"] = r.test.n_prompt;
  j["n_gen"] = r.test.n_gen;
  j["test_time"] = r.test_time;
  j["avg_ns"] = (int64_t)std::llround(r.avg_ns);
  j["stddev_ns"] = (int64_t)std::llround(r.stddev_ns);
  j["avg_ts"] = r.avg_ts;
  j["stddev_ts"] = r.stddev_ts;
  j["samples_ns"] = r.samples_ns;
  j["samples_ts"] = r.samples_ts;
  return j;
}

}  // namespace flops
