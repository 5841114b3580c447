// AUROC, TPR at a fixed FPR, best-F1 threshold and the logistic fit, against hand-worked examples.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "detect/metrics.h"

using namespace flops;
using namespace flops::detect;

TEST(DetectMetrics, AurocCountsPairs) {
  // Human 0.1 0.2 0.3 0.4, AI 0.35 0.5 0.6: AI above human in 3 + 4 + 4 = 11 of 12 pairs.
  std::vector<double> s = {0.1, 0.2, 0.3, 0.4, 0.35, 0.5, 0.6};
  std::vector<int> y = {0, 0, 0, 0, 1, 1, 1};
  EXPECT_DOUBLE_EQ(auroc(s, y), 11.0 / 12);
  // Perfect and reversed.
  EXPECT_DOUBLE_EQ(auroc({1, 2, 3, 4}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(auroc({1, 2, 3, 4}, {1, 1, 0, 0}), 0.0);
}

TEST(DetectMetrics, AurocTiesCountHalf) {
  // Human 0.5 0.2, AI 0.5 0.8: pairs (0.5,0.5)=1/2, (0.5,0.2)=1, (0.8,0.5)=1, (0.8,0.2)=1 -> 3.5/4.
  EXPECT_DOUBLE_EQ(auroc({0.5, 0.2, 0.5, 0.8}, {0, 0, 1, 1}), 0.875);
  // All equal: chance.
  EXPECT_DOUBLE_EQ(auroc({1, 1, 1, 1, 1}, {0, 1, 0, 1, 1}), 0.5);
}

TEST(DetectMetrics, TprAtFpr) {
  // Ten humans 0.1..1.0; AI 1.5 1.2 0.95 0.05.
  std::vector<double> s;
  std::vector<int> y;
  for (int i = 1; i <= 10; i++) s.push_back(i / 10.0), y.push_back(0);
  for (double v : {1.5, 1.2, 0.95, 0.05}) s.push_back(v), y.push_back(1);
  OperatingPoint a = tpr_at_fpr(s, y, 0.0);  // no false positive allowed
  EXPECT_DOUBLE_EQ(a.threshold, 1.2);
  EXPECT_DOUBLE_EQ(a.tpr, 0.5);
  EXPECT_DOUBLE_EQ(a.fpr, 0.0);
  OperatingPoint b = tpr_at_fpr(s, y, 0.01);  // 1% of ten humans is still none
  EXPECT_DOUBLE_EQ(b.threshold, 1.2);
  OperatingPoint c = tpr_at_fpr(s, y, 0.1);  // one human (1.0) may be above
  EXPECT_DOUBLE_EQ(c.threshold, 0.95);
  EXPECT_DOUBLE_EQ(c.tpr, 0.75);
  EXPECT_DOUBLE_EQ(c.fpr, 0.1);
  // The top score is human: nothing can be flagged without a false positive.
  OperatingPoint d = tpr_at_fpr({0.9, 0.1, 0.2}, {0, 1, 1}, 0.001);
  EXPECT_DOUBLE_EQ(d.tpr, 0.0);
  EXPECT_GT(d.threshold, 0.9);
  // Ties between a human and an AI score move together.
  OperatingPoint e = tpr_at_fpr({0.5, 0.5, 0.1, 0.2}, {0, 1, 0, 1}, 0.0);
  EXPECT_DOUBLE_EQ(e.tpr, 0.0);
}

TEST(DetectMetrics, BestF1) {
  std::vector<double> s;
  std::vector<int> y;
  for (int i = 1; i <= 10; i++) s.push_back(i / 10.0), y.push_back(0);
  for (double v : {1.5, 1.2, 0.95, 0.05}) s.push_back(v), y.push_back(1);
  // At 0.95: TP 3, FP 1, FN 1 -> F1 = 6/8.
  F1Point f = best_f1(s, y);
  EXPECT_DOUBLE_EQ(f.threshold, 0.95);
  EXPECT_DOUBLE_EQ(f.f1, 0.75);
  EXPECT_DOUBLE_EQ(f.precision, 0.75);
  EXPECT_DOUBLE_EQ(f.recall, 0.75);
}

TEST(DetectMetrics, Errors) {
  EXPECT_THROW(auroc({1, 2}, {1, 1}), Error);        // one class only
  EXPECT_THROW(auroc({1, 2}, {0}), Error);           // sizes differ
  EXPECT_THROW(tpr_at_fpr({1, 2}, {0, 2}, 0.1), Error);  // bad label
  EXPECT_THROW(best_f1({1, NAN}, {0, 1}), Error);
}

TEST(DetectMetrics, LogisticRecoversGeneratingWeights) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nx(1.0, 2.0);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<double>> x;
  std::vector<int> y;
  for (int i = 0; i < 20000; i++) {
    double a = nx(rng), b = nx(rng);
    double p = 1 / (1 + std::exp(-(0.5 - 1.5 * a + 0.8 * b)));
    x.push_back({a, b});
    y.push_back(u(rng) < p);
  }
  auto w = fit_logistic(x, y, 0.0);
  EXPECT_NEAR(w[0], 0.5, 0.1);
  EXPECT_NEAR(w[1], -1.5, 0.1);
  EXPECT_NEAR(w[2], 0.8, 0.1);
  EXPECT_NEAR(logistic(w, {0, 0}), 1 / (1 + std::exp(-w[0])), 1e-12);
}
