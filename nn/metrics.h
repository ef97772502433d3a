// nn/metrics.h: classification metrics (the numbers sklearn's classification_report gives).
//
// Conventions follow sklearn with zero_division=0: a class nobody predicted has precision 0, a
// class with no true samples (zero support) has recall 0, F1 is 0 when precision + recall is 0 —
// never NaN — and the report's `notes` say which classes that happened to. Macro averages run over
// every class (as sklearn does when given the labels); weighted averages weight by support;
// balanced accuracy is the mean recall over classes with support (sklearn's
// balanced_accuracy_score). The confusion matrix has rows = true class, columns = predicted class.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fer::nn {

using ConfusionMatrix = std::vector<std::vector<int64_t>>;

// Labels must lie in [0, num_classes); targets and predictions have the same length.
ConfusionMatrix confusion_matrix(const std::vector<int32_t>& targets, const std::vector<int32_t>& predictions,
                                 int num_classes);

struct ClassStats {
  std::string name;
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;    // true samples of the class
  int64_t predicted = 0;  // samples predicted as the class
};

struct ClassificationReport {
  double accuracy = 0, macro_f1 = 0, weighted_f1 = 0, balanced_accuracy = 0;
  double macro_precision = 0, macro_recall = 0, weighted_precision = 0, weighted_recall = 0;
  int64_t num_samples = 0;
  std::vector<ClassStats> per_class;
  ConfusionMatrix confusion;
  std::vector<std::string> notes;  // e.g. "class 'disgust' has no true samples: recall and F1 set to 0"
};

// Needs at least one sample; the class count is class_names.size().
ClassificationReport classification_report(const std::vector<int32_t>& targets, const std::vector<int32_t>& predictions,
                                           const std::vector<std::string>& class_names);

// A sklearn-like aligned table (4 decimals), then balanced accuracy and the notes.
std::string format_report(const ClassificationReport& report);
// {"accuracy", "macro_f1", "weighted_f1", "balanced_accuracy", "macro_precision", "macro_recall",
//  "weighted_precision", "weighted_recall", "num_samples", "class_names",
//  "per_class": [{"name", "precision", "recall", "f1", "support", "predicted"}], "confusion", "notes"}
nlohmann::json report_to_json(const ClassificationReport& report);
// "true\predicted,<names...>" then one row per true class: "<name>,<counts...>" (RFC 4180 quoting).
std::string confusion_to_csv(const ConfusionMatrix& confusion, const std::vector<std::string>& class_names);
std::string confusion_to_csv(const ClassificationReport& report);
// The same table with each row divided by its total (the fraction of the true class's samples given
// each prediction), 4 decimals; a row with no samples has empty cells (not NaN).
std::string confusion_to_csv_normalized(const ConfusionMatrix& confusion, const std::vector<std::string>& class_names);

// The fraction of samples whose target is among the k highest scores. scores is N x K row-major
// (N = targets.size()). Ties are broken by class index (a stable descending sort), so a target
// counts when (#classes scoring higher) + (#lower-index classes scoring equal) < k.
double top_k_accuracy(const std::vector<int32_t>& targets, const std::vector<float>& scores, int k);

}  // namespace fer::nn
