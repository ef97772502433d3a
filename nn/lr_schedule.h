// nn/lr_schedule.h: per-epoch learning-rate schedules (torch.optim.lr_scheduler semantics) and
// early stopping.
//
// A scheduler starts at epoch 0 with lr() = the base lr; step_epoch(metric) is called once at the
// end of every epoch and lr() is then the rate for the next epoch (PyTorch's scheduler.step()).
//   ConstantLR                   base
//   ExponentialLR                base * gamma^e
//   StepLR                       base * gamma^floor(e / step)
//   CosineAnnealingLR            min + (base - min) (1 + cos(pi e / T_max)) / 2
//   CosineAnnealingWarmRestarts  the same within cycles of length T_0, T_0*T_mult, ...
//   ReduceLROnPlateau            lr = max(lr * factor, min_lr) after more than `patience` epochs
//                                without improvement (threshold rel/abs), then `cooldown` epochs off
//   LinearWarmup                 epochs e < W: base * (e + 1) / (W + 1); then the wrapped schedule
//                                from its epoch 0 (metrics seen during warm-up are not passed on)
//   ChainedScheduler             ExponentialLR then ReduceLROnPlateau on one shared lr, as calling
//                                both PyTorch schedulers' step() every epoch (both multiply)
// state()/load_state() round-trip everything a resumed run needs.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace fer::nn {

class LrScheduler {
 public:
  virtual ~LrScheduler() = default;
  virtual double lr() const = 0;
  // End of an epoch; metric is required by plateau-based schedules.
  virtual void step_epoch(std::optional<double> metric = {}) = 0;
  virtual std::string name() const = 0;
  virtual nlohmann::json state() const = 0;
  virtual void load_state(const nlohmann::json& j) = 0;
  int64_t epoch() const { return epoch_; }

 protected:
  int64_t epoch_ = 0;  // completed step_epoch() calls
};

class ConstantLR : public LrScheduler {
 public:
  explicit ConstantLR(double base);
  double lr() const override { return base_; }
  void step_epoch(std::optional<double> metric = {}) override;
  std::string name() const override { return "none"; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& j) override;

 private:
  double base_;
};

class ExponentialLR : public LrScheduler {
 public:
  ExponentialLR(double base, double gamma);
  double lr() const override { return lr_; }
  void step_epoch(std::optional<double> metric = {}) override;
  std::string name() const override { return "exponential"; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& j) override;

 private:
  double gamma_, lr_;
};

class StepLR : public LrScheduler {
 public:
  StepLR(double base, int64_t step_size, double gamma);
  double lr() const override { return lr_; }
  void step_epoch(std::optional<double> metric = {}) override;
  std::string name() const override { return "step"; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& j) override;

 private:
  int64_t step_size_;
  double gamma_, lr_;
};

class CosineAnnealingLR : public LrScheduler {
 public:
  CosineAnnealingLR(double base, int64_t t_max, double min_lr = 0.0);
  double lr() const override;
  void step_epoch(std::optional<double> metric = {}) override;
  std::string name() const override { return "cosine"; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& j) override;

 private:
  double base_;
  int64_t t_max_;
  double min_lr_;
};

class CosineAnnealingWarmRestarts : public LrScheduler {
 public:
  CosineAnnealingWarmRestarts(double base, int64_t t0, int64_t t_mult = 1, double min_lr = 0.0);
  double lr() const override;
  void step_epoch(std::optional<double> metric = {}) override;
  std::string name() const override { return "cosine-restarts"; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& j) override;

 private:
  double base_;
  int64_t t0_, t_mult_;
  double min_lr_;
  int64_t t_i_, t_cur_ = 0;
};

class ReduceLROnPlateau : public LrScheduler {
 public:
  struct Options {
    std::string mode = "min";  // min | max
    double factor = 0.1;
    int64_t patience = 10;
    double threshold = 1e-4;
    std::string threshold_mode = "rel";  // rel | abs
    int64_t cooldown = 0;
    double min_lr = 0.0;
    double eps = 1e-8;
  };
  ReduceLROnPlateau(double base, const Options& options);
  double lr() const override { return lr_; }
  void step_epoch(std::optional<double> metric = {}) override;
  std::string name() const override { return "plateau"; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& j) override;

  // The bookkeeping of one epoch without touching lr: true when the lr should be reduced now.
  bool observe(double metric);
  // max(lr * factor, min_lr), unless that changes lr by no more than eps (then lr).
  double reduced(double lr) const;
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }

 private:
  bool is_better(double a, double best) const;
  Options o_;
  double lr_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0;
};

class LinearWarmup : public LrScheduler {
 public:
  LinearWarmup(double base, int64_t warmup_epochs, std::unique_ptr<LrScheduler> after);
  double lr() const override;
  void step_epoch(std::optional<double> metric = {}) override;
  std::string name() const override { return "warmup+" + after_->name(); }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& j) override;

 private:
  double base_;
  int64_t warmup_;
  std::unique_ptr<LrScheduler> after_;
};

class ChainedScheduler : public LrScheduler {
 public:
  ChainedScheduler(double base, double gamma, const ReduceLROnPlateau::Options& plateau);
  double lr() const override { return lr_; }
  void step_epoch(std::optional<double> metric = {}) override;
  std::string name() const override { return "exponential+plateau"; }
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& j) override;

 private:
  double gamma_, lr_;
  ReduceLROnPlateau plateau_;
};

// Stops training after `patience` epochs in a row without an improvement of more than min_delta
// (mode "min": metric < best - min_delta; "max": metric > best + min_delta). patience 0 = never.
class EarlyStopping {
 public:
  EarlyStopping(const std::string& mode, int64_t patience, double min_delta = 0.0);
  // Records one epoch's metric; true when training should stop now.
  bool update(double metric);
  bool improved() const { return improved_; }
  double best() const { return best_; }
  int64_t bad_epochs() const { return bad_epochs_; }
  nlohmann::json state() const;
  void load_state(const nlohmann::json& j);

 private:
  bool max_mode_;
  int64_t patience_;
  double min_delta_;
  double best_;
  int64_t bad_epochs_ = 0;
  bool improved_ = false;
};

struct SchedulerOptions {
  std::string name = "none";  // none | exponential | plateau | exponential+plateau | cosine | cosine-restarts | step
  double base_lr = 1e-3;
  double gamma = 0.9;      // exponential / step
  int64_t step_size = 10;  // step
  double plateau_factor = 0.1;
  int64_t plateau_patience = 5;
  std::string plateau_mode = "min";  // min (a loss) | max (an accuracy)
  double min_lr = 0.0;               // plateau floor, cosine eta_min
  int64_t cosine_t0 = 10;            // cosine: T_max; cosine-restarts: T_0
  int64_t cosine_tmult = 1;
  int64_t warmup_epochs = 0;  // > 0 wraps the schedule in LinearWarmup
};

// Unknown names are an error listing the valid ones.
std::unique_ptr<LrScheduler> make_scheduler(const SchedulerOptions& options);

}  // namespace fer::nn
