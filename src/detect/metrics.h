#pragma once
// Detection metrics over scores where a HIGHER score means "more likely AI" and
// label 1 = AI (positive), 0 = human. Methods whose score is lower for AI text
// (Binoculars) negate their scores before calling these.
#include <vector>

namespace flops::detect {

// Area under the ROC curve = P(score of a random AI text > score of a random human
// text) + 0.5 P(equal) (Mann-Whitney U with ties counted one half). Needs both classes.
double auroc(const std::vector<double>& scores, const std::vector<int>& labels);

// The operating point "predict AI when score >= threshold" with the largest TPR whose
// FPR <= max_fpr. Thresholds are the observed scores; when no observed score keeps the
// FPR low enough, threshold is just above the highest score and TPR = FPR = 0.
struct OperatingPoint {
  double threshold = 0;
  double tpr = 0, fpr = 0;
};
OperatingPoint tpr_at_fpr(const std::vector<double>& scores, const std::vector<int>& labels, double max_fpr);

// The threshold (an observed score, "AI when score >= threshold") with the best F1 of the
// AI class; the highest such threshold on ties.
struct F1Point {
  double threshold = 0;
  double f1 = 0, precision = 0, recall = 0;
};
F1Point best_f1(const std::vector<double>& scores, const std::vector<int>& labels);

// Logistic regression P(y=1|x) = sigmoid(w0 + sum_k w[k+1] x_k) by Newton's method on
// standardized features with a small L2 penalty (so separable data still converges).
std::vector<double> fit_logistic(const std::vector<std::vector<double>>& x, const std::vector<int>& y,
                                 double l2 = 1e-3);
double logistic(const std::vector<double>& w, const std::vector<double>& x);

}  // namespace flops::detect
