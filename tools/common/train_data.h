// tools/common/train_data.h: the data a training run sees, resolved from its config.
//
//   config.data == ""        -> the built-in synthetic faces (config.synthetic_count, config.seed)
//   a .csv file / a folder   -> data::load_dataset (FER2013 Kaggle CSV or train/ test/ folders)
// then: class set (fer7 / fer6), the split plan (config.val: auto | publictest | privatetest |
// split:F | none), the images listed in config.exclude left out of the training split (never of
// validation or test, so the split is the same with and without them), and config.limit (a seeded
// stratified subset of the training split), then config.resample (ROS / SMOTE / SMOTE+Tomek /
// SMOTE+ENN, data/resample.h) of the training split only. Class weights are computed on the final
// training split.
// Leak guard: the raw overlap between Training and the evaluation splits (FER2013 has exact
// duplicates across splits) is reported; after resampling, validation and test images whose pixels
// occur in the resampled training set are left out of evaluation, and the count is reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/sampler.h"
#include "data/splits.h"
#include "tools/common/train_config.h"

namespace fer::tools {

struct TrainData {
  data::Dataset dataset;
  data::SplitPlan plan;        // indices into dataset
  data::ClassWeights weights;  // inverse frequency on plan.train
  std::vector<std::string> notes;  // things the run should print (skipped images, limit, exclusions, leaks)
  int64_t leaked_left_out = 0;     // evaluation images left out by the leak guard (resampled runs)
};

TrainData load_train_data(const TrainConfig& config);

// "train 22968, val 5741, test 3589, fnv1a64 <16 hex digits>": the sizes of the three splits and a hash
// of their image indices and labels, in order. A resumed run must see the same (the same data, class
// set, split, --exclude list, --limit and resampling), or it would validate on other images.
std::string data_plan_fingerprint(const TrainData& data);

// Multi-line summary: origin, split sizes with their descriptions, class counts and weights.
std::string describe_train_data(const TrainData& data);

// The lines of an --exclude file: one image per line, the `sources` string fer prints (a path
// relative to the data folder, or "file.csv:line"); '#' starts a comment. Unknown entries are an
// error naming the line.
std::vector<std::string> read_exclude_file(const std::string& path);

}  // namespace fer::tools
