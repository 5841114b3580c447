#pragma once
// Throughput of a model the way llama-bench measures it, so that the two tools' figures for
// the same GGUF file mean the same thing.
//
// A test is n_prompt prompt tokens, then n_gen generated tokens, from an empty cache:
//   pp<n>        n_prompt tokens (random ids, the first one BOS when the model adds BOS) in
//                forward passes of at most n_batch tokens, logits of the last token only;
//   tg<n>        n_gen forward passes of one token each (random ids; no sampling);
//   pp<a>+tg<b>  both, timed together (llama-bench's -pg).
// One untimed warm-up run precedes the repetitions (pp: the whole prompt; tg: one token).
// Each repetition's rate is (n_prompt + n_gen) / seconds; avg_ts and stddev_ts are the mean
// and the sample standard deviation of those rates (as llama-bench computes them).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"

namespace flops {

struct BenchTest {
  int n_prompt = 0;
  int n_gen = 0;
  std::string name() const;  // "pp512", "tg128", "pp512+tg128"
};

struct BenchResult {
  BenchTest test;
  int n_threads = 0;
  int n_batch = 0;
  std::string test_time;            // ISO 8601 UTC, when the test started
  std::vector<int64_t> samples_ns;  // one per repetition
  std::vector<double> samples_ts;
  double avg_ns = 0, stddev_ns = 0, avg_ts = 0, stddev_ts = 0;
};

// Runs one test `repetitions` times with `threads` threads (set for the whole process).
// `on_rep(done, total)` is called after each repetition.
BenchResult run_bench_test(const Model& m, const BenchTest& t, int threads, int repetitions, int n_batch = 2048,
                           const std::function<void(int, int)>& on_rep = nullptr);

// Decoding rate at a context depth from a pp<depth> and a pp<depth>+tg<n> result: n_gen over
// the difference of their mean times. Both tools are measured this way (the llama-bench here
// has no depth option), so the figure compares like with like.
double decode_rate_at_depth(const BenchResult& pp, const BenchResult& pg);

// What llama-bench prints for the model: "llama 134.1M Q4_0" (architecture, parameters, the
// file type named as llama.cpp names it), its tensor bytes and parameter count.
std::string bench_model_type(const Model& m);
uint64_t bench_model_size(const Model& m);
// Weight bytes one decoded token reads: every matrix it multiplies, plus one embedding row.
double decode_weight_bytes(const Model& m);

// llama-bench's markdown table, and the JSON fields it writes per result (n_prompt, n_gen,
// n_threads, avg_ts, stddev_ts, ...), with the same names.
std::string bench_markdown_header();
std::string bench_markdown_row(const Model& m, const BenchResult& r);
nlohmann::ordered_json bench_json(const Model& m, const BenchResult& r);

}  // namespace flops
