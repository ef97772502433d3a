// nn/metrics.cpp: classification metrics (see metrics.h).
#include "nn/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "kernels/common.h"

namespace fer::nn {

namespace {

double ratio(int64_t num, int64_t den) { return den > 0 ? static_cast<double>(num) / static_cast<double>(den) : 0.0; }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

ConfusionMatrix confusion_matrix(const std::vector<int32_t>& targets, const std::vector<int32_t>& predictions,
                                 int num_classes) {
  FER_CHECK(num_classes > 0, "confusion_matrix: num_classes must be positive, got " << num_classes);
  FER_CHECK(targets.size() == predictions.size(), "confusion_matrix: " << targets.size() << " targets but "
                                                                       << predictions.size() << " predictions");
  ConfusionMatrix m(static_cast<size_t>(num_classes), std::vector<int64_t>(static_cast<size_t>(num_classes), 0));
  for (size_t i = 0; i < targets.size(); ++i) {
    const int32_t t = targets[i], p = predictions[i];
    FER_CHECK(t >= 0 && t < num_classes, "confusion_matrix: target " << t << " at sample " << i << " is outside [0, "
                                                                     << num_classes << ")");
    FER_CHECK(p >= 0 && p < num_classes, "confusion_matrix: prediction " << p << " at sample " << i
                                                                         << " is outside [0, " << num_classes << ")");
    ++m[static_cast<size_t>(t)][static_cast<size_t>(p)];
  }
  return m;
}

ClassificationReport classification_report(const std::vector<int32_t>& targets, const std::vector<int32_t>& predictions,
                                           const std::vector<std::string>& class_names) {
  FER_CHECK(!class_names.empty(), "classification_report: no class names");
  FER_CHECK(!targets.empty(), "classification_report: no samples; hint: the evaluation split is empty");
  const int k = static_cast<int>(class_names.size());
  ClassificationReport r;
  r.confusion = confusion_matrix(targets, predictions, k);
  r.num_samples = static_cast<int64_t>(targets.size());
  int64_t correct = 0;
  int classes_with_support = 0;
  for (int c = 0; c < k; ++c) {
    ClassStats s;
    s.name = class_names[static_cast<size_t>(c)];
    const int64_t tp = r.confusion[static_cast<size_t>(c)][static_cast<size_t>(c)];
    for (int j = 0; j < k; ++j) {
      s.support += r.confusion[static_cast<size_t>(c)][static_cast<size_t>(j)];
      s.predicted += r.confusion[static_cast<size_t>(j)][static_cast<size_t>(c)];
    }
    correct += tp;
    s.precision = ratio(tp, s.predicted);
    s.recall = ratio(tp, s.support);
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    if (s.support == 0)
      r.notes.push_back("class '" + s.name + "' has no true samples: recall and F1 set to 0 (excluded from balanced accuracy)");
    if (s.predicted == 0) r.notes.push_back("class '" + s.name + "' was never predicted: precision set to 0");
    const double w = static_cast<double>(s.support) / static_cast<double>(r.num_samples);
    r.macro_precision += s.precision / k;
    r.macro_recall += s.recall / k;
    r.macro_f1 += s.f1 / k;
    r.weighted_precision += w * s.precision;
    r.weighted_recall += w * s.recall;
    r.weighted_f1 += w * s.f1;
    if (s.support > 0) {
      r.balanced_accuracy += s.recall;
      ++classes_with_support;
    }
    r.per_class.push_back(std::move(s));
  }
  r.accuracy = ratio(correct, r.num_samples);
  r.balanced_accuracy = classes_with_support > 0 ? r.balanced_accuracy / classes_with_support : 0.0;
  return r;
}

std::string format_report(const ClassificationReport& r) {
  size_t width = std::string("weighted avg").size();
  for (const auto& s : r.per_class) width = std::max(width, s.name.size());
  const int w = static_cast<int>(width);
  std::ostringstream os;
  os << std::fixed << std::setprecision(4);
  os << std::setw(w) << "" << " " << std::setw(10) << "precision" << std::setw(10) << "recall" << std::setw(10)
     << "f1-score" << std::setw(10) << "support" << "\n\n";
  auto row = [&](const std::string& name, double p, double rc, double f, int64_t n) {
    os << std::setw(w) << name << " " << std::setw(10) << p << std::setw(10) << rc << std::setw(10) << f
       << std::setw(10) << n << "\n";
  };
  for (const auto& s : r.per_class) row(s.name, s.precision, s.recall, s.f1, s.support);
  os << "\n";
  os << std::setw(w) << "accuracy" << " " << std::setw(10) << "" << std::setw(10) << "" << std::setw(10) << r.accuracy
     << std::setw(10) << r.num_samples << "\n";
  row("macro avg", r.macro_precision, r.macro_recall, r.macro_f1, r.num_samples);
  row("weighted avg", r.weighted_precision, r.weighted_recall, r.weighted_f1, r.num_samples);
  os << "\nbalanced accuracy " << r.balanced_accuracy << "\n";
  for (const auto& n : r.notes) os << "note: " << n << "\n";
  return os.str();
}

nlohmann::json report_to_json(const ClassificationReport& r) {
  nlohmann::json j;
  j["accuracy"] = r.accuracy;
  j["macro_f1"] = r.macro_f1;
  j["weighted_f1"] = r.weighted_f1;
  j["balanced_accuracy"] = r.balanced_accuracy;
  j["macro_precision"] = r.macro_precision;
  j["macro_recall"] = r.macro_recall;
  j["weighted_precision"] = r.weighted_precision;
  j["weighted_recall"] = r.weighted_recall;
  j["num_samples"] = r.num_samples;
  nlohmann::json names = nlohmann::json::array(), per = nlohmann::json::array();
  for (const auto& s : r.per_class) {
    names.push_back(s.name);
    per.push_back({{"name", s.name},
                   {"precision", s.precision},
                   {"recall", s.recall},
                   {"f1", s.f1},
                   {"support", s.support},
                   {"predicted", s.predicted}});
  }
  j["class_names"] = names;
  j["per_class"] = per;
  j["confusion"] = r.confusion;
  j["notes"] = r.notes;
  return j;
}

namespace {

// Both confusion CSVs: the header, then per row the name and cell(row, total) for each count.
template <typename Cell>
std::string confusion_csv(const char* who, const ConfusionMatrix& confusion, const std::vector<std::string>& class_names,
                          Cell cell) {
  FER_CHECK(confusion.size() == class_names.size(), who << ": " << confusion.size() << " rows but "
                                                        << class_names.size() << " class names");
  std::ostringstream os;
  os << "true\\predicted";
  for (const auto& n : class_names) os << "," << csv_field(n);
  os << "\n";
  for (size_t i = 0; i < confusion.size(); ++i) {
    FER_CHECK(confusion[i].size() == class_names.size(), who << ": row " << i << " has " << confusion[i].size()
                                                             << " columns, expected " << class_names.size());
    int64_t total = 0;
    for (int64_t v : confusion[i]) total += v;
    os << csv_field(class_names[i]);
    for (int64_t v : confusion[i]) os << "," << cell(v, total);
    os << "\n";
  }
  return os.str();
}

}  // namespace

std::string confusion_to_csv(const ConfusionMatrix& confusion, const std::vector<std::string>& class_names) {
  return confusion_csv("confusion_to_csv", confusion, class_names,
                       [](int64_t v, int64_t) { return std::to_string(v); });
}

std::string confusion_to_csv_normalized(const ConfusionMatrix& confusion, const std::vector<std::string>& class_names) {
  return confusion_csv("confusion_to_csv_normalized", confusion, class_names, [](int64_t v, int64_t total) {
    if (total <= 0) return std::string();
    std::ostringstream s;
    s << std::fixed << std::setprecision(4) << static_cast<double>(v) / static_cast<double>(total);
    return s.str();
  });
}

std::string confusion_to_csv(const ClassificationReport& report) {
  std::vector<std::string> names;
  for (const auto& s : report.per_class) names.push_back(s.name);
  return confusion_to_csv(report.confusion, names);
}

double top_k_accuracy(const std::vector<int32_t>& targets, const std::vector<float>& scores, int k) {
  FER_CHECK(!targets.empty(), "top_k_accuracy: no samples");
  const size_t n = targets.size();
  FER_CHECK(scores.size() % n == 0 && !scores.empty(),
            "top_k_accuracy: " << scores.size() << " scores for " << n << " samples is not N x K");
  const size_t classes = scores.size() / n;
  FER_CHECK(k >= 1 && static_cast<size_t>(k) <= classes,
            "top_k_accuracy: k = " << k << " must lie in [1, " << classes << "]");
  int64_t hits = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t t = targets[i];
    FER_CHECK(t >= 0 && static_cast<size_t>(t) < classes, "top_k_accuracy: target " << t << " at sample " << i
                                                                                      << " is outside [0, " << classes
                                                                                      << ")");
    const float* row = scores.data() + i * classes;
    const float st = row[t];
    if (std::isnan(st)) continue;  // a NaN score never counts as a hit
    size_t rank = 0;
    for (size_t c = 0; c < classes; ++c)
      if (row[c] > st || (row[c] == st && c < static_cast<size_t>(t))) ++rank;
    if (rank < static_cast<size_t>(k)) ++hits;
  }
  return static_cast<double>(hits) / static_cast<double>(n);
}

}  // namespace fer::nn
