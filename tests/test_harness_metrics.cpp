// Scores, aggregates and standard errors of the evaluation harness against hand-computed values,
// and the filter pipeline against Python's re.findall semantics the harness relies on.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "harness/metrics.h"

using namespace flops;
using namespace flops::harness;

namespace {
// A filter step that is only its function's name.
FilterStep step_of(const char* function) {
  FilterStep s;
  s.function = function;
  return s;
}
}  // namespace

TEST(HarnessMetrics, MultipleChoiceAccAndNorm) {
  // acc takes the largest log-likelihood; acc_norm divides by the choice's length in characters.
  McScore s = score_multiple_choice({-10, -12}, {"a", "bbbbbb"}, {1});
  EXPECT_EQ(s.pred, 0u);
  EXPECT_EQ(s.acc, 0);
  EXPECT_EQ(s.pred_norm, 1u);
  EXPECT_EQ(s.acc_norm, 1);
  EXPECT_EQ(utf8_length("caf\xC3\xA9"), 4u);  // characters, as Python's len(str), not 5 bytes
  // By characters -4/2 < -5/3 picks choice 1; by bytes -4/4 > -5/3 would pick choice 0.
  McScore u = score_multiple_choice({-4.0, -5.0}, {"\xC3\xA9\xC3\xA9", "abc"}, {1});
  EXPECT_EQ(u.pred_norm, 1u);
  McScore tie = score_multiple_choice({-3, -3}, {"x", "y"}, {1});
  EXPECT_EQ(tie.pred, 0u);  // numpy's argmax: the first of equal maxima
  McScore multi = score_multiple_choice({-1, -2, -3}, {"a", "b", "c"}, {2, 0});
  EXPECT_EQ(multi.acc, 1);  // any gold index counts
}

TEST(HarnessMetrics, ExactMatchOptionsAndF1) {
  MetricSpec m;
  EXPECT_FALSE(exact_match("Yes.", "yes", m));
  EXPECT_FALSE(exact_match(" yes", "yes", m));  // HF exact_match does not strip
  m.ignore_case = true;
  EXPECT_FALSE(exact_match("Yes.", "yes", m));
  m.ignore_punctuation = true;
  EXPECT_TRUE(exact_match("Yes.", "yes", m));
  MetricSpec r;
  r.regexes_to_ignore = {",", "\\$"};
  EXPECT_TRUE(exact_match("$1,000", "1000", r));
  MetricSpec n;
  n.ignore_numbers = true;
  EXPECT_TRUE(exact_match("route 66", "route ", n));
  EXPECT_NEAR(token_f1("The cat sat.", "a cat sat down"), 0.8, 1e-12);
  EXPECT_EQ(token_f1("", ""), 1.0);
  EXPECT_EQ(token_f1("dog", "cat"), 0.0);
  EXPECT_NEAR(binary_f1({1, 1, 0, 0, 1}, {1, 0, 0, 1, 1}), 4.0 / 6.0, 1e-12);
  EXPECT_EQ(binary_f1({0, 0}, {0, 0}), 0.0);  // sklearn's zero_division default
}

TEST(HarnessMetrics, StandardErrors) {
  Aggregate a = mean_with_stderr({1, 0, 1, 1});
  EXPECT_DOUBLE_EQ(a.value, 0.75);
  ASSERT_TRUE(a.stderr_);
  EXPECT_NEAR(*a.stderr_, 0.25, 1e-12);  // sample sd 0.5 (n - 1) over sqrt(4)
  EXPECT_FALSE(mean_with_stderr({1}).stderr_);
  Aggregate w = weighted_mean_with_stderr({1, 0}, {3, 1});
  EXPECT_DOUBLE_EQ(w.value, 0.75);
  EXPECT_NEAR(*w.stderr_, 0.375, 1e-12);  // sqrt(2 * (9 * 0.0625 + 0.5625)) / 4
  // Equal weights give the unweighted estimate exactly.
  Aggregate e = weighted_mean_with_stderr({1, 0, 1, 1}, {2, 2, 2, 2});
  EXPECT_NEAR(*e.stderr_, 0.25, 1e-12);
  EXPECT_NEAR(pooled_stderr({0.1, 0.2}, {10, 20}), std::sqrt(16.1 / 28 / 30), 1e-12);
  // The bootstrap standard error of a mean approaches sqrt((n-1)/n) times the analytic one.
  std::mt19937 rng(7);
  std::vector<double> x(200);
  for (auto& v : x) v = rng() % 3 == 0 ? 1.0 : 0.0;
  double analytic = *mean_with_stderr(x).stderr_;
  double boot = bootstrap_stderr(x.size(), 20000, 1234, [&](const std::vector<size_t>& idx) {
    double s = 0;
    for (size_t i : idx) s += x[i];
    return s / idx.size();
  });
  EXPECT_NEAR(boot / (analytic * std::sqrt(199.0 / 200.0)), 1.0, 0.03);
}

TEST(HarnessMetrics, FiltersAsPythonFindall) {
  auto run = [](const std::string& pattern, const std::string& text, int group = 0) {
    FilterPipeline p;
    FilterStep s;
    s.function = "regex";
    s.regex_pattern = pattern;
    s.group_select = group;
    p.steps = {s, step_of("take_first")};
    return apply_filters(p, text);
  };
  EXPECT_EQ(run("(\\d+)", "a 12 b 34"), "12");
  EXPECT_EQ(run("(\\d+)", "a 12 b 34", -1), "34");  // negative indexes count from the end
  EXPECT_EQ(run("(\\d+)", "no digits"), "[invalid]");
  EXPECT_EQ(run("\\d+", "x 7 y"), "7");              // no group: the whole match
  EXPECT_EQ(run("(a)|(b)", "zzb"), "b");             // several groups: the first non-empty
  EXPECT_EQ(run("(?i)<answer>\\s*([ab])", "so\n<ANSWER> B"), "B");
  EXPECT_EQ(run("(?P<n>\\d)", "x9"), "9");
  EXPECT_EQ(run("The answer is (.*)", "The answer is  42  "), "42");  // the match is stripped
  FilterPipeline lower;
  lower.steps = {step_of("lowercase"), step_of("remove_whitespace")};
  EXPECT_EQ(apply_filters(lower, "  YES"), "yes");
  try {
    run("(unclosed", "x");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the regular expression '(unclosed' is not valid"), std::string::npos) << e.what();
  }
}
