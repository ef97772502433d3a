// nn/lr_schedule.h: learning-rate schedules stepped once per epoch, and early stopping.
//
// Each schedule reproduces torch.optim.lr_scheduler (epoch e counts completed epochs from 0):
//   none                 lr_e = base
//   exponential          lr_e = base * gamma^e                                    (ExponentialLR)
//   step                 lr_e = base * gamma^floor(e / step_size)                 (StepLR)
//   cosine               lr_e = min + (base - min) (1 + cos(pi e / T0)) / 2       (CosineAnnealingLR, T_max = T0)
//   cosine-restarts      the same within cycles of T_i epochs, T_0 = T0, T_{i+1} = T_i * Tmult
//                                                                                 (CosineAnnealingWarmRestarts)
//   plateau              lr *= factor (not below min_lr) once the metric has not improved for more
//                        than `patience` epochs; then `cooldown` epochs without counting
//                        (ReduceLROnPlateau: threshold 1e-4 relative, eps 1e-8)
//   exponential+plateau  both: every epoch lr *= gamma, then the plateau rule (R001 uses the two
//                        schedulers together on one optimizer, so their factors multiply)
// warmup_epochs W > 0 puts a linear warm-up in front: lr_e = base (e + 1) / W for e < W, after which
// the schedule above runs from its own epoch 0 (SequentialLR of LinearLR and the schedule).
// state()/load_state() carry everything needed to resume a run exactly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fer::nn {

struct SchedulerOptions {
  std::string name = "none";  // see above; schedule_names() lists them
  double base_lr = 1e-3;
  double gamma = 0.9;           // exponential / step factor
  int64_t step_size = 10;       // step
  std::string plateau_mode = "min";  // min (a loss) | max (an accuracy)
  double plateau_factor = 0.1;
  int64_t plateau_patience = 10;
  double plateau_threshold = 1e-4;   // relative
  int64_t plateau_cooldown = 0;
  double min_lr = 0.0;          // plateau floor and cosine eta_min
  int64_t cosine_t0 = 10;
  int64_t cosine_tmult = 1;
  int64_t warmup_epochs = 0;
};

const std::vector<std::string>& schedule_names();

class LrScheduler {
 public:
  explicit LrScheduler(const SchedulerOptions& options);
  // The learning rate for the coming epoch.
  double lr() const { return lr_; }
  // Call after each epoch; `metric` feeds the plateau rule (ignored by the others; a plateau
  // schedule without a metric keeps its lr and counts nothing).
  void step_epoch(std::optional<double> metric = {});
  int64_t epoch() const { return epoch_; }
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);
  const SchedulerOptions& options() const { return o_; }

 private:
  bool uses_plateau() const;
  void plateau_step(double metric);

  SchedulerOptions o_;
  int64_t epoch_ = 0;  // completed epochs
  double lr_ = 0;
  // plateau
  double best_ = 0;
  bool has_best_ = false;
  int64_t num_bad_ = 0, cooldown_left_ = 0;
  // cosine-restarts
  int64_t t_cur_ = 0, t_i_ = 0;
};

std::unique_ptr<LrScheduler> make_scheduler(const SchedulerOptions& options);

// Stops a run after `patience` epochs without an improvement larger than min_delta.
class EarlyStopping {
 public:
  EarlyStopping(std::string mode, int64_t patience, double min_delta = 0.0);
  // Records an epoch's metric; true when the run should stop.
  bool update(double metric);
  bool improved() const { return improved_; }  // the last update was an improvement
  double best() const { return best_; }
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  std::string mode_;
  int64_t patience_;
  double min_delta_;
  double best_ = 0;
  bool has_best_ = false, improved_ = false;
  int64_t bad_epochs_ = 0;
};

}  // namespace fer::nn
