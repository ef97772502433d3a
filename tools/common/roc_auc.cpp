// tools/common/roc_auc.cpp: see roc_auc.h.
#include "tools/common/roc_auc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/common.h"

namespace fer::tools {

double roc_auc(const std::vector<double>& scores, const std::vector<int32_t>& labels) {
  FER_CHECK(scores.size() == labels.size(),
            "roc_auc: " << scores.size() << " scores but " << labels.size() << " labels");
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0;
  int64_t n_pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double rank = 0.5 * static_cast<double>(i + 1 + j);  // mean of the 1-based ranks i+1 .. j
    for (size_t t = i; t < j; ++t)
      if (labels[order[t]] != 0) {
        positive_rank_sum += rank;
        ++n_pos;
      }
    i = j;
  }
  const int64_t n_neg = static_cast<int64_t>(n) - n_pos;
  if (n_pos == 0 || n_neg == 0) return std::numeric_limits<double>::quiet_NaN();
  const double np = static_cast<double>(n_pos), nn = static_cast<double>(n_neg);
  return (positive_rank_sum - np * (np + 1) / 2) / (np * nn);
}

std::vector<double> roc_auc_ovr(const std::vector<int32_t>& targets, const std::vector<float>& probs, int num_classes) {
  FER_CHECK(num_classes >= 1 && probs.size() == targets.size() * static_cast<size_t>(num_classes),
            "roc_auc_ovr: " << probs.size() << " scores for " << targets.size() << " samples x " << num_classes
                            << " classes");
  std::vector<double> auc(static_cast<size_t>(num_classes));
  std::vector<double> scores(targets.size());
  std::vector<int32_t> labels(targets.size());
  for (int k = 0; k < num_classes; ++k) {
    for (size_t i = 0; i < targets.size(); ++i) {
      scores[i] = probs[i * static_cast<size_t>(num_classes) + static_cast<size_t>(k)];
      labels[i] = targets[i] == k;
    }
    auc[static_cast<size_t>(k)] = roc_auc(scores, labels);
  }
  return auc;
}

double mean_finite(const std::vector<double>& values) {
  double sum = 0;
  int64_t n = 0;
  for (double v : values)
    if (std::isfinite(v)) {
      sum += v;
      ++n;
    }
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace fer::tools
