// tools/common/split_evaluation.h: the end-of-run evaluation of a split with the best checkpoint, and
// the files it leaves in the run folder (confusion matrices as CSV and PNG, counts and row-normalized;
// the per-class report as text and JSON), also added to the run's report.html.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/loader.h"
#include "nn/metrics.h"
#include "tools/common/evaluate.h"
#include "tools/common/report_html.h"

namespace fer::nn {
class Module;
}

namespace fer::tools {

// The mean of v (NaN when empty).
double mean_of(const std::vector<double>& v);

struct SplitEvaluation {
  std::string name;  // "val" or "test"
  std::string desc;  // "PublicTest"
  Predictions predictions;
  nn::ClassificationReport report;
};

// Predicts the images `indices` of `images` (ten_crop: the mean of the crops' logits) and scores them.
SplitEvaluation evaluate_split(const std::string& name, const std::string& desc, nn::Module& model,
                               const data::DeviceImages& images, const std::vector<int64_t>& indices,
                               const data::InputSpec& input, int64_t batch_size,
                               const std::vector<std::string>& class_names, bool ten_crop);

// confusion_<name>.csv / _normalized.csv / .png / _normalized.png and classification_<name>.txt /
// .json in `dir`; the text and the images are added to `report`.
void write_split_artefacts(const std::filesystem::path& dir, const SplitEvaluation& e,
                           const std::vector<std::string>& names, RunReport& report);

}  // namespace fer::tools
