#pragma once
// Scores of one answer and their aggregation over a task, as lm-evaluation-harness computes them.
//
// multiple_choice, from the log-likelihood ll_i of each choice i (the continuation
// target_delimiter + choice_i after the prompt):
//   acc      = [argmax_i ll_i is a gold index]
//   acc_norm = [argmax_i ll_i / len(choice_i) is a gold index], len in characters (Unicode code
//              points) of the choice without the delimiter: the harness's len(str), equal to its
//              byte length for ASCII text
//   f1       = binary F1 over the task of (gold, prediction), positive class 1 (sklearn's default,
//              which the harness calls); tasks with more than two choices are refused
// loglikelihood: perplexity = exp(-mean ll) over the task; acc = [the target is the greedy
//   continuation, token by token]
// generate_until, after the filter pipeline:
//   exact_match = [prediction == reference] after regexes_to_ignore, ignore_case,
//                 ignore_punctuation (ASCII punctuation), ignore_numbers, as Hugging Face's
//                 exact_match that the harness calls (no whitespace stripping); with several
//                 references, any match counts
//   f1          = token-overlap F1 (SQuAD: lower case, punctuation and a/an/the removed,
//                 whitespace tokens), mean over the task. The harness has no generative F1.
//
// Standard errors: for means, the sample standard deviation (n - 1) / sqrt(n) (the harness's
// mean_stderr); for f1 and perplexity, the standard deviation of the metric over bootstrap
// resamples of the task (the harness's bootstrap_stderr; fixed seed). A weighted mean
// (doc_weight) has SE = sqrt(n/(n-1) * sum w_i^2 (x_i - xbar_w)^2) / sum w_i, the usual
// ratio-estimator form. A group's stderr pools its tasks' as the harness's pooled_sample_stderr:
// sqrt(sum (n_i - 1) s_i^2 n_i / (sum n_i - k) / sum n_i), s_i each task's stderr.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "harness/task.h"

namespace flops::harness {

// Characters (code points) of UTF-8 text.
size_t utf8_length(const std::string& s);

size_t argmax(const std::vector<double>& v);

struct McScore {
  size_t pred = 0, pred_norm = 0;
  double acc = 0, acc_norm = 0;
};
McScore score_multiple_choice(const std::vector<double>& lls, const std::vector<std::string>& choices,
                              const std::vector<int>& golds);

// HF exact_match on one pair, with the metric's options.
bool exact_match(const std::string& prediction, const std::string& reference, const MetricSpec& m);

// SQuAD-style token F1 of one prediction against one reference.
double token_f1(const std::string& prediction, const std::string& reference);

// Binary F1 (positive label 1) of paired labels.
double binary_f1(const std::vector<int>& golds, const std::vector<int>& preds);

struct Aggregate {
  double value = 0;
  std::optional<double> stderr_;  // none with fewer than two items
};

Aggregate mean_with_stderr(const std::vector<double>& x);
Aggregate weighted_mean_with_stderr(const std::vector<double>& x, const std::vector<double>& w);

// Bootstrap standard error of `f` over resamples (with replacement) of n items; the index
// vector passed to f is the resample.
double bootstrap_stderr(size_t n, int iters, uint64_t seed, const std::function<double(const std::vector<size_t>&)>& f);

// The harness's pooled_sample_stderr of a group.
double pooled_stderr(const std::vector<double>& stderrs, const std::vector<double>& sizes);

// A filter pipeline on one generated answer.
std::string apply_filters(const FilterPipeline& p, const std::string& answer);

}  // namespace flops::harness
