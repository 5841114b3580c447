#pragma once
// In-context classification by conventional and structured prompting
// (Hao et al. 2022, "Structured Prompting: Scaling In-Context Learning to 1,000 Examples").
//
// Structured prompting packs the demonstrations into groups that fit the context, encodes
// each group on its own (its own KV-cache segment, attending only to itself), with position
// ids right-aligned so that every group ends at the same position P. The test input follows
// at P+1, P+2, ... and attends to every group and to itself; its own keys get attention
// scale M (the number of groups): weight M e^s / Z on a test key, e^s / Z on a demonstration
// key. The label tokens scored after the test input are part of the test segment and get the
// same scale: they are the test example's own continuation, which in a single context would
// compete with one context's worth of demonstrations, not M.
// Group encodings are computed once and reused for every test input.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/kv_cache.h"
#include "model/model.h"
#include "prompt/dataset.h"
#include "prompt/template.h"

namespace flops::prompt {

// ---- building blocks ----

struct Packing {
  std::vector<std::vector<int>> groups;  // demo indices in each group, in order
  std::vector<int> skipped;              // demos too long for any group
};
// Fills groups in the given order, closing a group when the next demo would make it exceed
// max_tokens (each group also holds `overhead` tokens: BOS and prefix).
Packing pack_greedy(const std::vector<int>& lengths, int max_tokens, int overhead);
// n demos into n_groups contiguous groups whose sizes differ by at most one.
Packing split_groups(int n, int n_groups);

// Position ids end_pos - len + 1 ... end_pos.
std::vector<int32_t> right_aligned_positions(int len, int end_pos);

// Demonstrations encoded once, reused for every test input.
struct DemoCache {
  KVCache kv;
  bool structured = false;
  int end_pos = -1;      // P: position of the last token of every group
  int test_segment = 0;  // segment of test tokens
  float test_scale = 1;  // attention scale of the test segment
  int n_slots = 0;       // cache slots holding demonstrations (test tokens come after)
  std::vector<int> group_segments;
  std::vector<int> group_lengths;
};

// Each group in its own segment seeing only itself, positions right-aligned to end at
// P = (longest group) - 1, test segment with scale test_scale. extra_slots = room for test tokens.
DemoCache encode_structured(const Model& m, const std::vector<std::vector<int32_t>>& groups, float test_scale,
                            int extra_slots);
// One ordinary causal context at positions 0..n-1, test tokens continue it.
DemoCache encode_conventional(const Model& m, const std::vector<int32_t>& prompt, int extra_slots);

// Appends test tokens after the demonstrations (and after test tokens already appended).
void append_test(const Model& m, DemoCache& dc, const std::vector<int32_t>& tokens, std::vector<float>& logits,
                 bool all_logits);
// Drops every test token, keeping the demonstrations.
void reset_test(DemoCache& dc);

// log p(continuation | demonstrations, context) for each continuation (sum over its tokens).
// Leaves the cache as reset_test does.
std::vector<double> score_choices(const Model& m, DemoCache& dc, const std::vector<int32_t>& context,
                                  const std::vector<std::vector<int32_t>>& continuations);

// ---- a classification task ----

struct Task {
  std::vector<std::string> label_names;
  std::vector<int32_t> prefix;                          // BOS (if the model uses one) + prefix text
  std::vector<std::vector<int32_t>> demos;              // each rendered demonstration
  std::vector<std::vector<int32_t>> contexts;           // each test input up to the label
  std::vector<std::vector<std::vector<int32_t>>> conts; // [test][label] label tokens after the context
  std::vector<std::vector<int>> cont_bytes;             // [test][label] bytes of the label continuation
  std::vector<int> gold;                                // class of each test input
};

// Tokenizes as lm-evaluation-harness does for multiple choice: the label's tokens are those
// of encode(context + label) after the first len(encode(context)) tokens, and spaces ending
// the context move to the label. Every demo is tokenized on its own, so a demonstration has
// the same tokens in whichever group it lands.
Task make_task(const Tokenizer& tok, const std::vector<Example>& demos, const std::vector<Example>& tests,
               const Template& t, const LabelMap& labels, const std::string& prefix);

enum class Method { Structured, Conventional };
Method parse_method(const std::string& s);
const char* method_name(Method m);

struct IclConfig {
  Method method = Method::Structured;
  int n_demos = -1;        // demonstrations drawn (shuffled) from the pool; -1 = all
  int group_tokens = 0;    // L: tokens per group (structured); 0 = the context minus the longest test
  int n_groups = 0;        // M: split into this many groups instead of packing to L
  int n_ctx = 0;           // the model's context; 0 = n_ctx_train
  float test_scale = 0;    // 0 = number of groups (the method); other values for experiments
  uint64_t seed = 1;
};

struct Cost {
  uint64_t flops_encode = 0, flops_test = 0;  // counted model FLOPs (matmul + attention)
  double seconds_encode = 0, seconds_test = 0;
  uint64_t kv_bytes = 0;        // KV cache allocated (demonstrations + room for one test)
  uint64_t peak_rss_bytes = 0;  // process peak resident memory (getrusage)
};

struct IclResult {
  Method method = Method::Structured;
  int n_demos_requested = 0, n_demos_used = 0, n_skipped = 0;
  int n_groups = 0, max_group_tokens = 0, demo_tokens = 0, end_pos = -1;
  float test_scale = 1;
  int n_ctx = 0;
  std::vector<int> gold, pred, pred_norm;
  std::vector<std::vector<double>> logprob;  // [test][label]
  double accuracy = 0, accuracy_norm = 0, macro_f1 = 0, macro_f1_norm = 0;
  Cost cost;
};

IclResult run_icl(const Model& m, const Task& task, const IclConfig& cfg,
                  const std::function<void(int, int)>& progress = {});

// Macro-F1 averages over the classes that occur in gold or predictions.
double accuracy(const std::vector<int>& gold, const std::vector<int>& pred);
double macro_f1(const std::vector<int>& gold, const std::vector<int>& pred);

}  // namespace flops::prompt
