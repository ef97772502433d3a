// tools/common/roc_auc.cpp: see roc_auc.h.
#include "tools/common/roc_auc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "kernels/common.h"

namespace fer::tools {

namespace {

// Shared by roc_auc_ovr and roc_curve_ovr: column k of probs and the labels targets == k.
void one_vs_rest(const std::vector<int32_t>& targets, const std::vector<float>& probs, int num_classes, int k,
                 std::vector<double>& scores, std::vector<int32_t>& labels) {
  scores.resize(targets.size());
  labels.resize(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    scores[i] = probs[i * static_cast<size_t>(num_classes) + static_cast<size_t>(k)];
    labels[i] = targets[i] == k;
  }
}

std::string csv_field(const std::string& s) {  // RFC 4180, as nn::confusion_to_csv
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// NaN has no place in the score order (std::sort would be undefined, the tie loops would not advance).
void check_no_nan(const char* what, const std::vector<double>& scores) {
  for (size_t i = 0; i < scores.size(); ++i)
    FER_CHECK(!std::isnan(scores[i]), what << ": score " << i << " is NaN; the model's outputs are not finite (hint: "
                                           << "the checkpoint may hold NaN/inf weights, e.g. from a diverged run)");
}

}  // namespace

double roc_auc(const std::vector<double>& scores, const std::vector<int32_t>& labels) {
  FER_CHECK(scores.size() == labels.size(),
            "roc_auc: " << scores.size() << " scores but " << labels.size() << " labels");
  check_no_nan("roc_auc", scores);
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
  std::vector<double> scores;
  std::vector<int32_t> labels;
  for (int k = 0; k < num_classes; ++k) {
    one_vs_rest(targets, probs, num_classes, k, scores, labels);
    auc[static_cast<size_t>(k)] = roc_auc(scores, labels);
  }
  return auc;
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int32_t>& labels) {
  FER_CHECK(scores.size() == labels.size(),
            "roc_curve: " << scores.size() << " scores but " << labels.size() << " labels");
  check_no_nan("roc_curve", scores);
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  RocCurve c;
  c.thresholds.push_back(std::numeric_limits<double>::infinity());
  std::vector<int64_t> tps{0}, fps{0};
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < n;) {
    const double s = scores[order[i]];
    for (; i < n && scores[order[i]] == s; ++i) (labels[order[i]] != 0 ? tp : fp) += 1;
    c.thresholds.push_back(s);
    tps.push_back(tp);
    fps.push_back(fp);
  }
  if (tp == 0 || fp == 0) {
    RocCurve none;
    none.undefined_reason = n == 0 ? "no samples" : tp == 0 ? "no positives" : "no negatives";
    return none;
  }
  for (size_t i = 0; i < tps.size(); ++i) {
    c.fpr.push_back(static_cast<double>(fps[i]) / static_cast<double>(fp));
    c.tpr.push_back(static_cast<double>(tps[i]) / static_cast<double>(tp));
  }
  return c;
}

std::vector<RocCurve> roc_curve_ovr(const std::vector<int32_t>& targets, const std::vector<float>& probs,
                                    int num_classes) {
  FER_CHECK(num_classes >= 1 && probs.size() == targets.size() * static_cast<size_t>(num_classes),
            "roc_curve_ovr: " << probs.size() << " scores for " << targets.size() << " samples x " << num_classes
                              << " classes");
  std::vector<RocCurve> curves;
  std::vector<double> scores;
  std::vector<int32_t> labels;
  for (int k = 0; k < num_classes; ++k) {
    one_vs_rest(targets, probs, num_classes, k, scores, labels);
    curves.push_back(roc_curve(scores, labels));
  }
  return curves;
}

double roc_curve_area(const RocCurve& curve) {
  if (!curve.defined()) return std::numeric_limits<double>::quiet_NaN();
  double area = 0;
  for (size_t i = 1; i < curve.fpr.size(); ++i)
    area += (curve.fpr[i] - curve.fpr[i - 1]) * (curve.tpr[i] + curve.tpr[i - 1]) / 2;
  return area;
}

std::string roc_curves_to_csv(const std::vector<RocCurve>& curves, const std::vector<std::string>& class_names) {
  FER_CHECK(curves.size() == class_names.size(),
            "roc_curves_to_csv: " << curves.size() << " curves but " << class_names.size() << " class names");
  std::ostringstream os;
  os.precision(10);
  os << "class,threshold,fpr,tpr\n";
  for (size_t k = 0; k < curves.size(); ++k) {
    const RocCurve& c = curves[k];
    const std::string name = csv_field(class_names[k]);
    if (!c.defined()) os << name << ",,,\n";
    for (size_t i = 0; i < c.thresholds.size(); ++i) {
      os << name << ",";
      if (std::isinf(c.thresholds[i])) os << (c.thresholds[i] > 0 ? "inf" : "-inf");
      else os << c.thresholds[i];
      os << "," << c.fpr[i] << "," << c.tpr[i] << "\n";
    }
  }
  return os.str();
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
