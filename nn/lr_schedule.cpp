// nn/lr_schedule.cpp: see lr_schedule.h.
#include "nn/lr_schedule.h"

#include <cmath>
#include <limits>
#include <numbers>

#include "kernels/common.h"

namespace fer::nn {

const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = {"none",   "exponential",     "step", "cosine",
                                                 "plateau", "exponential+plateau", "cosine-restarts"};
  return names;
}

LrScheduler::LrScheduler(const SchedulerOptions& o) : o_(o) {
  bool known = false;
  std::string list;
  for (const std::string& n : schedule_names()) {
    known = known || n == o.name;
    list += (list.empty() ? "" : ", ") + n;
  }
  FER_CHECK(known, "scheduler '" << o.name << "' is not one of: " << list);
  FER_CHECK(o.base_lr > 0, "scheduler: base lr must be positive, got " << o.base_lr);
  FER_CHECK(o.gamma > 0, "scheduler: gamma must be positive, got " << o.gamma);
  FER_CHECK(o.step_size >= 1, "scheduler: step size must be >= 1, got " << o.step_size);
  FER_CHECK(o.plateau_mode == "min" || o.plateau_mode == "max",
            "scheduler: plateau mode must be min or max, got '" << o.plateau_mode << "'");
  FER_CHECK(o.plateau_factor > 0 && o.plateau_factor < 1,
            "scheduler: plateau factor must be in (0, 1), got " << o.plateau_factor);
  FER_CHECK(o.plateau_patience >= 0 && o.plateau_cooldown >= 0, "scheduler: patience and cooldown must be >= 0");
  FER_CHECK(o.cosine_t0 >= 1 && o.cosine_tmult >= 1, "scheduler: cosine T0 and Tmult must be >= 1");
  FER_CHECK(o.warmup_epochs >= 0, "scheduler: warm-up epochs must be >= 0");
  FER_CHECK(o.min_lr >= 0, "scheduler: min lr must be >= 0");
  t_i_ = o.cosine_t0;
  lr_ = o.warmup_epochs > 0 ? o.base_lr / static_cast<double>(o.warmup_epochs) : o.base_lr;
}

bool LrScheduler::uses_plateau() const { return o_.name == "plateau" || o_.name == "exponential+plateau"; }

// ReduceLROnPlateau.step(metric) with threshold_mode 'rel'.
void LrScheduler::plateau_step(double metric) {
  const bool better = !has_best_ || (o_.plateau_mode == "min" ? metric < best_ * (1.0 - o_.plateau_threshold)
                                                               : metric > best_ * (1.0 + o_.plateau_threshold));
  if (better) {
    best_ = metric;
    has_best_ = true;
    num_bad_ = 0;
  } else {
    ++num_bad_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    num_bad_ = 0;
  }
  if (num_bad_ > o_.plateau_patience) {
    const double reduced = std::max(lr_ * o_.plateau_factor, o_.min_lr);
    if (lr_ - reduced > 1e-8) lr_ = reduced;
    cooldown_left_ = o_.plateau_cooldown;
    num_bad_ = 0;
  }
}

void LrScheduler::step_epoch(std::optional<double> metric) {
  ++epoch_;
  if (epoch_ < o_.warmup_epochs) {  // still warming up
    lr_ = o_.base_lr * static_cast<double>(epoch_ + 1) / static_cast<double>(o_.warmup_epochs);
    return;
  }
  const int64_t e = epoch_ - o_.warmup_epochs;  // epochs of the main schedule completed
  const double pi = std::numbers::pi;
  if (o_.name == "none") {
    lr_ = o_.base_lr;
  } else if (o_.name == "exponential") {
    lr_ = o_.base_lr * std::pow(o_.gamma, static_cast<double>(e));
  } else if (o_.name == "step") {
    lr_ = o_.base_lr * std::pow(o_.gamma, static_cast<double>(e / o_.step_size));
  } else if (o_.name == "cosine") {
    lr_ = o_.min_lr + (o_.base_lr - o_.min_lr) * (1 + std::cos(pi * static_cast<double>(e) / o_.cosine_t0)) / 2;
  } else if (o_.name == "cosine-restarts") {
    if (e == 0) {
      t_cur_ = 0;
    } else if (++t_cur_ >= t_i_) {
      t_cur_ -= t_i_;
      t_i_ *= o_.cosine_tmult;
    }
    lr_ = o_.min_lr + (o_.base_lr - o_.min_lr) * (1 + std::cos(pi * static_cast<double>(t_cur_) / t_i_)) / 2;
  } else if (o_.name == "plateau" || o_.name == "exponential+plateau") {
    if (e == 0) {
      lr_ = o_.base_lr;  // the first epoch after warm-up starts from the base rate
      return;
    }
    if (o_.name == "exponential+plateau") lr_ *= o_.gamma;
    if (metric && std::isfinite(*metric)) plateau_step(*metric);
  }
}

nlohmann::json LrScheduler::state() const {
  return {{"name", o_.name},       {"epoch", epoch_},        {"lr", lr_},     {"best", best_},
          {"has_best", has_best_}, {"num_bad", num_bad_},   {"cooldown_left", cooldown_left_},
          {"t_cur", t_cur_},       {"t_i", t_i_}};
}

void LrScheduler::load_state(const nlohmann::json& s) {
  try {
    FER_CHECK(s.at("name").get<std::string>() == o_.name,
              "scheduler state is for '" << s.at("name").get<std::string>() << "', not '" << o_.name << "'");
    epoch_ = s.at("epoch").get<int64_t>();
    lr_ = s.at("lr").get<double>();
    best_ = s.at("best").get<double>();
    has_best_ = s.at("has_best").get<bool>();
    num_bad_ = s.at("num_bad").get<int64_t>();
    cooldown_left_ = s.at("cooldown_left").get<int64_t>();
    t_cur_ = s.at("t_cur").get<int64_t>();
    t_i_ = s.at("t_i").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    FER_FAIL("scheduler state: " << e.what());
  }
}

std::unique_ptr<LrScheduler> make_scheduler(const SchedulerOptions& options) {
  return std::make_unique<LrScheduler>(options);
}

EarlyStopping::EarlyStopping(std::string mode, int64_t patience, double min_delta)
    : mode_(std::move(mode)), patience_(patience), min_delta_(min_delta) {
  FER_CHECK(mode_ == "min" || mode_ == "max", "early stopping: mode must be min or max, got '" << mode_ << "'");
  FER_CHECK(patience_ >= 1, "early stopping: patience must be >= 1, got " << patience_);
  FER_CHECK(min_delta_ >= 0, "early stopping: min_delta must be >= 0");
}

bool EarlyStopping::update(double metric) {
  improved_ = !has_best_ || (mode_ == "min" ? metric < best_ - min_delta_ : metric > best_ + min_delta_);
  if (improved_) {
    best_ = metric;
    has_best_ = true;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  return bad_epochs_ >= patience_;
}

nlohmann::json EarlyStopping::state() const {
  return {{"best", best_}, {"has_best", has_best_}, {"improved", improved_}, {"bad_epochs", bad_epochs_}};
}

void EarlyStopping::load_state(const nlohmann::json& s) {
  try {
    best_ = s.at("best").get<double>();
    has_best_ = s.at("has_best").get<bool>();
    improved_ = s.at("improved").get<bool>();
    bad_epochs_ = s.at("bad_epochs").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    FER_FAIL("early-stopping state: " << e.what());
  }
}

}  // namespace fer::nn
