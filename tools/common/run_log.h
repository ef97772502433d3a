// tools/common/run_log.h: the per-epoch metrics of a run, kept in its folder for people and tools.
//
// Every append rewrites, atomically, both
//   <run>/metrics.csv    header epoch,lr,train_loss,train_acc,val_loss,val_acc,val_macro_f1,seconds,images_per_second;
//                        numbers in shortest round-trip form, a missing value as an empty field
//   <run>/metrics.jsonl  one JSON object per epoch with the same keys, a missing value as null
// so a crash never leaves a half-written line and the files can be opened while the run goes on.
// A resumed run loads the CSV back (MetricsLog::load) and keeps appending.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace fer::tools {

struct EpochMetrics {
  static constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
  int64_t epoch = 0;  // 1-based
  double lr = kMissing;
  double train_loss = kMissing, train_acc = kMissing;  // accuracies as fractions in [0, 1]
  double val_loss = kMissing, val_acc = kMissing, val_macro_f1 = kMissing;
  double seconds = kMissing;  // wall time of the epoch
  double images_per_second = kMissing;  // training throughput of the epoch
};

class MetricsLog {
 public:
  // An empty log for `run_dir` (created if missing); nothing is written until the first append.
  explicit MetricsLog(std::string run_dir);

  // Adds one epoch and rewrites metrics.csv and metrics.jsonl. Epochs must increase strictly: an
  // epoch <= the last one is a fer::Error (on resume, call truncate() first).
  void append(const EpochMetrics& m);
  // Drops the rows with epoch > last_epoch (a run resumed from an older checkpoint) and rewrites
  // the files if anything was dropped.
  void truncate(int64_t last_epoch);

  const std::vector<EpochMetrics>& rows() const { return rows_; }
  const std::string& run_dir() const { return run_dir_; }
  std::string csv_path() const;
  std::string jsonl_path() const;

  // The log stored in <run_dir>/metrics.csv; an empty log when the file does not exist. Columns
  // are found by header name (order free, unknown columns ignored, "epoch" required); an empty
  // field or "nan" reads as missing. A malformed file is a fer::Error naming file and line.
  static MetricsLog load(const std::string& run_dir);

  // The file contents append() writes, exposed for tests and reports.
  static std::string to_csv(const std::vector<EpochMetrics>& rows);
  static std::string to_jsonl(const std::vector<EpochMetrics>& rows);

 private:
  void write_files() const;
  std::string run_dir_;
  std::vector<EpochMetrics> rows_;
};

// Training curves as one PNG: loss (train/val) on the left, accuracy (train/val, and val macro-F1
// when present) on the right, per epoch. Missing values leave gaps; with no accuracy at all (a
// reconstruction model) the loss panel alone. Written atomically.
void write_training_curves(const MetricsLog& log, const std::string& png_path);

}  // namespace fer::tools
