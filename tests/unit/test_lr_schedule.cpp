// LR schedules against torch.optim.lr_scheduler (1.13) sequences, generated with
//   /usr/bin/python3: SGD(lr=0.1); each epoch: record lr, then scheduler.step() (plateau: step(metric))
// for ExponentialLR(0.9), StepLR(3, 0.5), CosineAnnealingLR(5, eta_min=0.001),
// CosineAnnealingWarmRestarts(3, 2, 0.001), ReduceLROnPlateau('min', 0.5, patience 1, cooldown 1,
// min_lr 0.01), and ExponentialLR(0.9) + ReduceLROnPlateau('min', 0.1, patience 2) on one optimizer,
// with the metric sequence below. Plus warm-up, state round trip, and early stopping.
#include <doctest/doctest.h>

#include <vector>

#include "kernels/common.h"
#include "nn/lr_schedule.h"

using namespace fer;

namespace {
const std::vector<double> kMetrics = {1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9};

std::vector<double> run(nn::SchedulerOptions o, size_t n = 12) {
  o.base_lr = 0.1;
  nn::LrScheduler s(o);
  std::vector<double> lrs;
  for (size_t e = 0; e < n; ++e) {
    lrs.push_back(s.lr());
    s.step_epoch(kMetrics[e]);
  }
  return lrs;
}

void check_sequence(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
  }
}
}  // namespace

TEST_CASE("lr schedules follow PyTorch's sequences") {
  nn::SchedulerOptions o;
  o.name = "exponential";
  o.gamma = 0.9;
  check_sequence(run(o), {0.1, 0.09, 0.081, 0.0729, 0.06561, 0.059049, 0.0531441, 0.04782969, 0.043046721, 0.0387420489,
                          0.03486784401, 0.031381059609});
  o = {};
  o.name = "step";
  o.step_size = 3;
  o.gamma = 0.5;
  check_sequence(run(o), {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125});
  o = {};
  o.name = "cosine";
  o.cosine_t0 = 5;
  o.min_lr = 0.001;
  check_sequence(run(o), {0.1, 0.0905463412215599, 0.06579634122155989, 0.035203658778440096, 0.010453658778440105,
                          0.001, 0.010453658778440102, 0.03520365877844012, 0.06579634122155993, 0.09054634122155995,
                          0.10000000000000005, 0.09054634122155998});
  o = {};
  o.name = "cosine-restarts";
  o.cosine_t0 = 3;
  o.cosine_tmult = 2;
  o.min_lr = 0.001;
  check_sequence(run(o), {0.1, 0.07525000000000001, 0.025750000000000012, 0.1, 0.09336825748732973, 0.07525000000000001,
                          0.0505, 0.025750000000000012, 0.007631742512670284, 0.1, 0.09831332840130888,
                          0.09336825748732973});
  o = {};
  o.name = "plateau";
  o.plateau_factor = 0.5;
  o.plateau_patience = 1;
  o.plateau_cooldown = 1;
  o.min_lr = 0.01;
  check_sequence(run(o), {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025});
  o = {};
  o.name = "exponential+plateau";
  o.gamma = 0.9;
  o.plateau_factor = 0.1;
  o.plateau_patience = 2;
  check_sequence(run(o), {0.1, 0.09, 0.081, 0.0729, 0.06561, 0.0059049, 0.00531441, 0.004782969, 0.0043046721,
                          0.00387420489, 0.000348678440100, 0.000313810596090});
}

TEST_CASE("lr schedules: warm-up, state round trip, bad names") {
  nn::SchedulerOptions o;
  o.name = "exponential";
  o.gamma = 0.5;
  o.warmup_epochs = 4;
  // warm-up epochs 0..3: 0.025, 0.05, 0.075, 0.1; then the schedule from its own epoch 0 (0.1, 0.05, ...)
  check_sequence(run(o, 7), {0.025, 0.05, 0.075, 0.1, 0.1, 0.05, 0.025});

  o = {};
  o.name = "exponential+plateau";
  o.plateau_patience = 1;
  o.base_lr = 0.1;
  nn::LrScheduler a(o), b(o);
  for (int e = 0; e < 5; ++e) a.step_epoch(kMetrics[static_cast<size_t>(e)]);
  b.load_state(nlohmann::json::parse(a.state().dump()));
  for (int e = 5; e < 12; ++e) {
    a.step_epoch(kMetrics[static_cast<size_t>(e)]);
    b.step_epoch(kMetrics[static_cast<size_t>(e)]);
    CHECK(a.lr() == b.lr());
  }
  o.name = "linear";
  CHECK_THROWS_WITH_AS(nn::LrScheduler{o}, doctest::Contains("cosine-restarts"), fer::Error);
}

TEST_CASE("early stopping counts epochs without improvement") {
  nn::EarlyStopping max_acc("max", 2);
  CHECK_FALSE(max_acc.update(0.5));
  CHECK(max_acc.improved());
  CHECK_FALSE(max_acc.update(0.6));
  CHECK_FALSE(max_acc.update(0.6));  // equal is not better
  CHECK_FALSE(max_acc.improved());
  CHECK(max_acc.update(0.55));  // second bad epoch
  nn::EarlyStopping min_loss("min", 1, 0.01);
  CHECK_FALSE(min_loss.update(1.0));
  CHECK(min_loss.update(0.995));  // within min_delta: not an improvement
  nn::EarlyStopping restored("min", 1, 0.01);
  restored.load_state(min_loss.state());
  CHECK(restored.best() == 1.0);
}
