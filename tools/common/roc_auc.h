// tools/common/roc_auc.h: exact area under the ROC curve (binary and one-vs-rest).
//
// AUC = P(score of a random positive > score of a random negative), a tie counting 1/2: the
// Mann-Whitney U statistic over n_pos * n_neg, computed from ranks (1-based, ascending score, tied
// scores share the average of their ranks):
//     AUC = (sum of the positives' ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg).
// This equals sklearn's roc_auc_score (trapezoids over the exact ROC curve). It is undefined (NaN)
// when there are no positives or no negatives.
//
// roc_curve gives the curve itself, point for point as sklearn's roc_curve(drop_intermediate=False):
// scores sorted descending, one point per distinct score (tied scores make one step, possibly
// diagonal), preceded by (0, 0) at threshold +inf; point i counts the samples scoring >= thresholds[i]
// as positive. Its trapezoid area (roc_curve_area) equals roc_auc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fer::tools {

// scores[i] with labels[i] (non-zero = positive); sizes must match.
double roc_auc(const std::vector<double>& scores, const std::vector<int32_t>& labels);

// One-vs-rest AUC of each class k: scores = column k of probs (N x num_classes, row-major),
// positives = targets == k. NaN for a class with no positives (or no negatives).
std::vector<double> roc_auc_ovr(const std::vector<int32_t>& targets, const std::vector<float>& probs, int num_classes);

struct RocCurve {
  std::vector<double> thresholds;  // descending: +inf, then each distinct score
  std::vector<double> fpr, tpr;    // same length as thresholds; start (0, 0), end (1, 1)
  // Empty curve (no points) when undefined; then why: "no positives" or "no negatives" (or "no samples").
  std::string undefined_reason;
  bool defined() const { return !thresholds.empty(); }
};

// The ROC curve of scores[i] with labels[i] (non-zero = positive); sizes must match.
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int32_t>& labels);

// The one-vs-rest curve of each class, as roc_auc_ovr: scores = column k of probs, positives = targets == k.
std::vector<RocCurve> roc_curve_ovr(const std::vector<int32_t>& targets, const std::vector<float>& probs,
                                    int num_classes);

// Trapezoid area under the curve (np.trapz(tpr, fpr)); NaN for an undefined curve.
double roc_curve_area(const RocCurve& curve);

// Long-format CSV: "class,threshold,fpr,tpr", then one row per point, class by class (threshold
// "inf" for the first point; 10 significant digits). A class without a curve has one row
// "<name>,,," (empty cells, as an undefined AUC is null/"-"). One name per curve.
std::string roc_curves_to_csv(const std::vector<RocCurve>& curves, const std::vector<std::string>& class_names);

// Mean of the finite entries (NaN when there is none): the macro one-vs-rest AUC.
double mean_finite(const std::vector<double>& values);

}  // namespace fer::tools
