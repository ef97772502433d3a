// tools/common/split_evaluation.cpp: see split_evaluation.h.
#include "tools/common/split_evaluation.h"

#include <limits>

#include "nn/atomic_file.h"
#include "tools/common/charts.h"

namespace fer::tools {

namespace fs = std::filesystem;

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(v.size());
}

SplitEvaluation evaluate_split(const std::string& name, const std::string& desc, nn::Module& model,
                               const data::DeviceImages& images, const std::vector<int64_t>& indices,
                               const data::InputSpec& input, int64_t batch_size,
                               const std::vector<std::string>& class_names, bool ten_crop) {
  SplitEvaluation e;
  e.name = name;
  e.desc = desc;
  e.predictions = predict(model, images, indices, input, batch_size, ten_crop);
  std::vector<int32_t> predicted(static_cast<size_t>(e.predictions.size()));
  for (int64_t i = 0; i < e.predictions.size(); ++i) predicted[static_cast<size_t>(i)] = e.predictions.predicted(i);
  e.report = nn::classification_report(e.predictions.labels, predicted, class_names);
  return e;
}

void write_split_artefacts(const fs::path& dir, const SplitEvaluation& e, const std::vector<std::string>& names,
                           RunReport& report) {
  const std::string stem = "confusion_" + e.name;
  nn::write_file_atomic((dir / (stem + ".csv")).string(), nn::confusion_to_csv(e.report.confusion, names));
  nn::write_file_atomic((dir / (stem + "_normalized.csv")).string(),
                        nn::confusion_to_csv_normalized(e.report.confusion, names));
  confusion_matrix_chart(e.report.confusion, names, false, "Confusion matrix, " + e.name + " (" + e.desc + ")")
      .save_png((dir / (stem + ".png")).string());
  confusion_matrix_chart(e.report.confusion, names, true,
                         "Confusion matrix, " + e.name + " (" + e.desc + "), rows normalized")
      .save_png((dir / (stem + "_normalized.png")).string());
  const std::string text = nn::format_report(e.report);
  nn::write_file_atomic((dir / ("classification_" + e.name + ".txt")).string(), text);
  nn::write_file_atomic((dir / ("classification_" + e.name + ".json")).string(),
                        nn::report_to_json(e.report).dump(2) + "\n");
  report.classification_text += e.name + " (" + e.desc + ", " + std::to_string(e.predictions.size()) +
                                " images, best checkpoint)\n" + text + "\n";
  report.images.push_back({"Confusion matrix, " + e.name, (dir / (stem + ".png")).string()});
  report.images.push_back({"Confusion matrix, " + e.name + ", normalized", (dir / (stem + "_normalized.png")).string()});
}

}  // namespace fer::tools
