// nn/lr_schedule.cpp: see lr_schedule.h.
#include "nn/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "kernels/common.h"

namespace fer::nn {

namespace {
void check_base(const char* what, double base) {
  FER_CHECK(base >= 0 && std::isfinite(base), what << ": base learning rate must be finite and >= 0, got " << base);
}
double cosine(double base, double min_lr, double t, double period) {
  return min_lr + (base - min_lr) * (1 + std::cos(std::numbers::pi * t / period)) / 2;
}
}  // namespace

// ---- constant ----------------------------------------------------------------------------------
ConstantLR::ConstantLR(double base) : base_(base) {
  check_base("ConstantLR", base);
}
void ConstantLR::step_epoch(std::optional<double>) {
  ++epoch_;
}
nlohmann::json ConstantLR::state() const {
  return {{"epoch", epoch_}};
}
void ConstantLR::load_state(const nlohmann::json& j) {
  epoch_ = j.at("epoch").get<int64_t>();
}

// ---- exponential (PyTorch's recursive form: lr *= gamma each epoch) -----------------------------
ExponentialLR::ExponentialLR(double base, double gamma) : gamma_(gamma), lr_(base) {
  check_base("ExponentialLR", base);
  FER_CHECK(gamma > 0, "ExponentialLR: gamma must be > 0, got " << gamma);
}
void ExponentialLR::step_epoch(std::optional<double>) {
  ++epoch_;
  lr_ *= gamma_;
}
nlohmann::json ExponentialLR::state() const {
  return {{"epoch", epoch_}, {"lr", lr_}};
}
void ExponentialLR::load_state(const nlohmann::json& j) {
  epoch_ = j.at("epoch").get<int64_t>();
  lr_ = j.at("lr").get<double>();
}

// ---- step --------------------------------------------------------------------------------------
StepLR::StepLR(double base, int64_t step_size, double gamma) : step_size_(step_size), gamma_(gamma), lr_(base) {
  check_base("StepLR", base);
  FER_CHECK(step_size >= 1, "StepLR: step_size must be >= 1, got " << step_size);
  FER_CHECK(gamma > 0, "StepLR: gamma must be > 0, got " << gamma);
}
void StepLR::step_epoch(std::optional<double>) {
  ++epoch_;
  if (epoch_ % step_size_ == 0) lr_ *= gamma_;
}
nlohmann::json StepLR::state() const {
  return {{"epoch", epoch_}, {"lr", lr_}};
}
void StepLR::load_state(const nlohmann::json& j) {
  epoch_ = j.at("epoch").get<int64_t>();
  lr_ = j.at("lr").get<double>();
}

// ---- cosine ------------------------------------------------------------------------------------
CosineAnnealingLR::CosineAnnealingLR(double base, int64_t t_max, double min_lr)
    : base_(base), t_max_(t_max), min_lr_(min_lr) {
  check_base("CosineAnnealingLR", base);
  FER_CHECK(t_max >= 1, "CosineAnnealingLR: T_max must be >= 1, got " << t_max << "; hint: --cosine-t0");
  FER_CHECK(min_lr >= 0, "CosineAnnealingLR: min_lr must be >= 0, got " << min_lr);
}
double CosineAnnealingLR::lr() const {
  return cosine(base_, min_lr_, static_cast<double>(epoch_), static_cast<double>(t_max_));
}
void CosineAnnealingLR::step_epoch(std::optional<double>) {
  ++epoch_;
}
nlohmann::json CosineAnnealingLR::state() const {
  return {{"epoch", epoch_}};
}
void CosineAnnealingLR::load_state(const nlohmann::json& j) {
  epoch_ = j.at("epoch").get<int64_t>();
}

// ---- cosine with warm restarts -----------------------------------------------------------------
CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(double base, int64_t t0, int64_t t_mult, double min_lr)
    : base_(base), t0_(t0), t_mult_(t_mult), min_lr_(min_lr), t_i_(t0) {
  check_base("CosineAnnealingWarmRestarts", base);
  FER_CHECK(t0 >= 1, "CosineAnnealingWarmRestarts: T_0 must be >= 1, got " << t0 << "; hint: --cosine-t0");
  FER_CHECK(t_mult >= 1, "CosineAnnealingWarmRestarts: T_mult must be >= 1, got " << t_mult);
  FER_CHECK(min_lr >= 0, "CosineAnnealingWarmRestarts: min_lr must be >= 0, got " << min_lr);
}
double CosineAnnealingWarmRestarts::lr() const {
  return cosine(base_, min_lr_, static_cast<double>(t_cur_), static_cast<double>(t_i_));
}
void CosineAnnealingWarmRestarts::step_epoch(std::optional<double>) {
  ++epoch_;
  ++t_cur_;
  if (t_cur_ >= t_i_) {  // a restart
    t_cur_ -= t_i_;
    t_i_ *= t_mult_;
  }
}
nlohmann::json CosineAnnealingWarmRestarts::state() const {
  return {{"epoch", epoch_}, {"t_i", t_i_}, {"t_cur", t_cur_}};
}
void CosineAnnealingWarmRestarts::load_state(const nlohmann::json& j) {
  epoch_ = j.at("epoch").get<int64_t>();
  t_i_ = j.at("t_i").get<int64_t>();
  t_cur_ = j.at("t_cur").get<int64_t>();
}

// ---- plateau -----------------------------------------------------------------------------------
ReduceLROnPlateau::ReduceLROnPlateau(double base, const Options& options) : o_(options), lr_(base) {
  check_base("ReduceLROnPlateau", base);
  FER_CHECK(o_.mode == "min" || o_.mode == "max",
            "ReduceLROnPlateau: mode must be min or max, got '" << o_.mode << "'");
  FER_CHECK(o_.threshold_mode == "rel" || o_.threshold_mode == "abs",
            "ReduceLROnPlateau: threshold_mode must be rel or abs, got '" << o_.threshold_mode << "'");
  FER_CHECK(o_.factor > 0 && o_.factor < 1, "ReduceLROnPlateau: factor must be in (0, 1), got " << o_.factor);
  FER_CHECK(o_.patience >= 0 && o_.cooldown >= 0,
            "ReduceLROnPlateau: patience and cooldown must be >= 0, got " << o_.patience << " and " << o_.cooldown);
  FER_CHECK(o_.min_lr >= 0, "ReduceLROnPlateau: min_lr must be >= 0, got " << o_.min_lr);
  best_ = o_.mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const bool rel = o_.threshold_mode == "rel";
  if (o_.mode == "min") return rel ? a < best * (1 - o_.threshold) : a < best - o_.threshold;
  return rel ? a > best * (o_.threshold + 1) : a > best + o_.threshold;
}

bool ReduceLROnPlateau::observe(double metric) {
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {  // in cooldown: bad epochs are not counted
    --cooldown_counter_;
    num_bad_epochs_ = 0;
  }
  if (num_bad_epochs_ > o_.patience) {
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
    return true;
  }
  return false;
}

double ReduceLROnPlateau::reduced(double lr) const {
  const double next = std::max(lr * o_.factor, o_.min_lr);
  return lr - next > o_.eps ? next : lr;
}

void ReduceLROnPlateau::step_epoch(std::optional<double> metric) {
  FER_CHECK(metric.has_value(),
            "ReduceLROnPlateau: step_epoch needs the monitored metric (validation loss or "
            "accuracy); hint: the plateau schedule needs a validation set");
  ++epoch_;
  if (observe(*metric)) lr_ = reduced(lr_);
}

nlohmann::json ReduceLROnPlateau::state() const {
  // best may be +-inf before the first epoch: stored as null then.
  nlohmann::json best = std::isfinite(best_) ? nlohmann::json(best_) : nlohmann::json();
  return {{"epoch", epoch_},
          {"lr", lr_},
          {"best", best},
          {"num_bad_epochs", num_bad_epochs_},
          {"cooldown_counter", cooldown_counter_}};
}

void ReduceLROnPlateau::load_state(const nlohmann::json& j) {
  epoch_ = j.at("epoch").get<int64_t>();
  lr_ = j.at("lr").get<double>();
  const auto& b = j.at("best");
  best_ = b.is_null()
              ? (o_.mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity())
              : b.get<double>();
  num_bad_epochs_ = j.at("num_bad_epochs").get<int64_t>();
  cooldown_counter_ = j.at("cooldown_counter").get<int64_t>();
}

// ---- warm-up -----------------------------------------------------------------------------------
LinearWarmup::LinearWarmup(double base, int64_t warmup_epochs, std::unique_ptr<LrScheduler> after)
    : base_(base), warmup_(warmup_epochs), after_(std::move(after)) {
  check_base("LinearWarmup", base);
  FER_CHECK(warmup_epochs >= 0, "LinearWarmup: warmup_epochs must be >= 0, got " << warmup_epochs);
  FER_CHECK(after_ != nullptr, "LinearWarmup: no schedule to continue with");
}
double LinearWarmup::lr() const {
  if (epoch_ < warmup_) return base_ * static_cast<double>(epoch_ + 1) / static_cast<double>(warmup_ + 1);
  return after_->lr();
}
void LinearWarmup::step_epoch(std::optional<double> metric) {
  if (epoch_ >= warmup_) after_->step_epoch(metric);
  ++epoch_;
}
nlohmann::json LinearWarmup::state() const {
  return {{"epoch", epoch_}, {"after", after_->state()}};
}
void LinearWarmup::load_state(const nlohmann::json& j) {
  epoch_ = j.at("epoch").get<int64_t>();
  after_->load_state(j.at("after"));
}

// ---- exponential + plateau ---------------------------------------------------------------------
ChainedScheduler::ChainedScheduler(double base, double gamma, const ReduceLROnPlateau::Options& plateau)
    : gamma_(gamma), lr_(base), plateau_(base, plateau) {
  FER_CHECK(gamma > 0, "ChainedScheduler: gamma must be > 0, got " << gamma);
}
void ChainedScheduler::step_epoch(std::optional<double> metric) {
  FER_CHECK(metric.has_value(),
            "exponential+plateau: step_epoch needs the monitored metric; hint: the plateau "
            "schedule needs a validation set");
  ++epoch_;
  lr_ *= gamma_;                                               // ExponentialLR.step()
  if (plateau_.observe(*metric)) lr_ = plateau_.reduced(lr_);  // ReduceLROnPlateau.step(metric)
}
nlohmann::json ChainedScheduler::state() const {
  return {{"epoch", epoch_}, {"lr", lr_}, {"plateau", plateau_.state()}};
}
void ChainedScheduler::load_state(const nlohmann::json& j) {
  epoch_ = j.at("epoch").get<int64_t>();
  lr_ = j.at("lr").get<double>();
  plateau_.load_state(j.at("plateau"));
}

// ---- early stopping ----------------------------------------------------------------------------
EarlyStopping::EarlyStopping(const std::string& mode, int64_t patience, double min_delta)
    : max_mode_(mode == "max"), patience_(patience), min_delta_(min_delta) {
  FER_CHECK(mode == "min" || mode == "max", "EarlyStopping: mode must be min or max, got '" << mode << "'");
  FER_CHECK(patience >= 0, "EarlyStopping: patience must be >= 0 (0 = off), got " << patience);
  FER_CHECK(min_delta >= 0, "EarlyStopping: min_delta must be >= 0, got " << min_delta);
  best_ = max_mode_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

bool EarlyStopping::update(double metric) {
  improved_ = max_mode_ ? metric > best_ + min_delta_ : metric < best_ - min_delta_;
  if (improved_) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  return patience_ > 0 && bad_epochs_ >= patience_;
}

nlohmann::json EarlyStopping::state() const {
  nlohmann::json best = std::isfinite(best_) ? nlohmann::json(best_) : nlohmann::json();
  return {{"best", best}, {"bad_epochs", bad_epochs_}, {"improved", improved_}};
}
void EarlyStopping::load_state(const nlohmann::json& j) {
  const auto& b = j.at("best");
  best_ = b.is_null() ? (max_mode_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity())
                      : b.get<double>();
  bad_epochs_ = j.at("bad_epochs").get<int64_t>();
  improved_ = j.at("improved").get<bool>();
}

// ---- factory -----------------------------------------------------------------------------------
std::unique_ptr<LrScheduler> make_scheduler(const SchedulerOptions& o) {
  ReduceLROnPlateau::Options p;
  p.mode = o.plateau_mode;
  p.factor = o.plateau_factor;
  p.patience = o.plateau_patience;
  p.min_lr = o.min_lr;
  std::unique_ptr<LrScheduler> s;
  if (o.name == "none")
    s = std::make_unique<ConstantLR>(o.base_lr);
  else if (o.name == "exponential")
    s = std::make_unique<ExponentialLR>(o.base_lr, o.gamma);
  else if (o.name == "step")
    s = std::make_unique<StepLR>(o.base_lr, o.step_size, o.gamma);
  else if (o.name == "plateau")
    s = std::make_unique<ReduceLROnPlateau>(o.base_lr, p);
  else if (o.name == "exponential+plateau")
    s = std::make_unique<ChainedScheduler>(o.base_lr, o.gamma, p);
  else if (o.name == "cosine")
    s = std::make_unique<CosineAnnealingLR>(o.base_lr, o.cosine_t0, o.min_lr);
  else if (o.name == "cosine-restarts")
    s = std::make_unique<CosineAnnealingWarmRestarts>(o.base_lr, o.cosine_t0, o.cosine_tmult, o.min_lr);
  else
    FER_FAIL("make_scheduler: unknown scheduler '" << o.name
                                                   << "'; valid: none, exponential, plateau, exponential+plateau, "
                                                      "cosine, cosine-restarts, step");
  if (o.warmup_epochs > 0) s = std::make_unique<LinearWarmup>(o.base_lr, o.warmup_epochs, std::move(s));
  return s;
}

}  // namespace fer::nn
