// tools/common/roc_auc.h: exact area under the ROC curve (binary and one-vs-rest).
//
// AUC = P(score of a random positive > score of a random negative), a tie counting 1/2: the
// Mann-Whitney U statistic over n_pos * n_neg, computed from ranks (1-based, ascending score, tied
// scores share the average of their ranks):
//     AUC = (sum of the positives' ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg).
// This equals sklearn's roc_auc_score (trapezoids over the exact ROC curve). It is undefined (NaN)
// when there are no positives or no negatives.
#pragma once

#include <cstdint>
#include <vector>

namespace fer::tools {

// scores[i] with labels[i] (non-zero = positive); sizes must match.
double roc_auc(const std::vector<double>& scores, const std::vector<int32_t>& labels);

// One-vs-rest AUC of each class k: scores = column k of probs (N x num_classes, row-major),
// positives = targets == k. NaN for a class with no positives (or no negatives).
std::vector<double> roc_auc_ovr(const std::vector<int32_t>& targets, const std::vector<float>& probs, int num_classes);

// Mean of the finite entries (NaN when there is none): the macro one-vs-rest AUC.
double mean_finite(const std::vector<double>& values);

}  // namespace fer::tools
