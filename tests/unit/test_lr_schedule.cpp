// Learning-rate schedules against PyTorch 1.13's torch.optim.lr_scheduler (Debian python3-torch),
// plateau with patience/cooldown/min_lr, the exponential+plateau chain, warm-up, state round trips,
// and early stopping.
//
// Golden sequences: lr before the first epoch, then after each scheduler.step(), from
//   o = SGD([p], lr=0.1); s = <scheduler>(o, ...); out = [lr]
//   for each epoch: o.step(); s.step() (or s.step(metric)); out.append(o.param_groups[0]['lr'])
#include <doctest/doctest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "nn/lr_schedule.h"

using namespace fer;
using namespace fer::nn;

namespace {

void expect_sequence(const std::string& what, LrScheduler& s, const std::vector<double>& want,
                     const std::vector<double>& metrics = {}) {
  REQUIRE((metrics.empty() || metrics.size() + 1 == want.size()));
  for (size_t e = 0; e < want.size(); ++e) {
    CHECK_MESSAGE(std::abs(s.lr() - want[e]) <= 1e-15 + 1e-12 * want[e],
                  what << " epoch " << e << ": lr " << s.lr() << ", PyTorch " << want[e]);
    if (e + 1 < want.size()) {
      if (metrics.empty())
        s.step_epoch();
      else
        s.step_epoch(metrics[e]);
    }
  }
}

const std::vector<double> kPlateauMinMetrics = {1.0,  0.9,  0.95, 0.92, 0.91, 0.9, 0.89999, 0.95,
                                                0.96, 0.97, 0.5,  0.6,  0.7,  0.8, 0.9,     1.0};

}  // namespace

TEST_CASE("lr schedules: ExponentialLR, StepLR, CosineAnnealingLR, warm restarts match PyTorch") {
  ExponentialLR exp(0.1, 0.9);  // ExponentialLR(o, 0.9)
  expect_sequence(
      "exponential", exp,
      {0.10000000000000001, 0.090000000000000011, 0.081000000000000016, 0.07290000000000002, 0.065610000000000016,
       0.059049000000000018, 0.05314410000000002, 0.047829690000000022, 0.043046721000000024});
  StepLR step(0.1, 3, 0.5);  // StepLR(o, 3, 0.5)
  expect_sequence("step", step, {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125});
  CosineAnnealingLR cos(0.1, 5, 0.001);  // CosineAnnealingLR(o, 5, 0.001), past T_max too
  expect_sequence("cosine", cos,
                  {0.10000000000000001, 0.090546341221559898, 0.06579634122155989, 0.035203658778440096,
                   0.010453658778440105, 0.001, 0.010453658778440102, 0.035203658778440117, 0.065796341221559931,
                   0.090546341221559953, 0.10000000000000005, 0.090546341221559981, 0.065796341221559945});
  CosineAnnealingWarmRestarts wr(0.1, 3, 2, 0.001);  // CosineAnnealingWarmRestarts(o, 3, 2, 0.001)
  expect_sequence(
      "restarts", wr,
      {0.10000000000000001, 0.075250000000000011, 0.025750000000000012, 0.10000000000000001, 0.093368257487329728,
       0.075250000000000011, 0.050500000000000003, 0.025750000000000012, 0.0076317425126702842, 0.10000000000000001,
       0.09831332840130888, 0.093368257487329728, 0.085501785668734107});
  ConstantLR c(0.1);
  expect_sequence("constant", c, {0.1, 0.1, 0.1});
}

TEST_CASE("lr schedules: ReduceLROnPlateau with patience, cooldown, min_lr, thresholds") {
  ReduceLROnPlateau::Options o;  // ReduceLROnPlateau(o, mode='min', factor=0.5, patience=2, cooldown=1, min_lr=0.02)
  o.mode = "min", o.factor = 0.5, o.patience = 2, o.cooldown = 1, o.min_lr = 0.02;
  ReduceLROnPlateau p(0.1, o);
  expect_sequence(
      "plateau min", p,
      {0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02},
      kPlateauMinMetrics);
  // ReduceLROnPlateau(o, mode='max', factor=0.1, patience=1, threshold=0.02, threshold_mode='abs')
  ReduceLROnPlateau::Options q;
  q.mode = "max", q.factor = 0.1, q.patience = 1, q.threshold = 0.02, q.threshold_mode = "abs";
  ReduceLROnPlateau pm(0.1, q);
  expect_sequence("plateau max abs", pm,
                  {0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002,
                   0.0010000000000000002, 0.0010000000000000002, 0.00010000000000000003, 0.00010000000000000003},
                  {0.5, 0.6, 0.605, 0.61, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7});
  CHECK_THROWS_WITH_AS(pm.step_epoch(), doctest::Contains("metric"), Error);
}

TEST_CASE("lr schedules: exponential+plateau multiply on one lr (ExponentialLR.step then plateau.step)") {
  // e = ExponentialLR(o, 0.9); p = ReduceLROnPlateau(o, mode='min', factor=0.5, patience=1, min_lr=0.03)
  ReduceLROnPlateau::Options o;
  o.factor = 0.5, o.patience = 1, o.min_lr = 0.03;
  ChainedScheduler s(0.1, 0.9, o);
  expect_sequence("chained", s,
                  {0.10000000000000001, 0.090000000000000011, 0.081000000000000016, 0.03645000000000001,
                   0.032805000000000008, 0.029524500000000009, 0.02657205000000001, 0.023914845000000011,
                   0.021523360500000012, 0.01937102445000001, 0.017433922005000008},
                  {1.0, 1.1, 1.2, 0.8, 0.9, 0.95, 0.7, 0.75, 0.8, 0.85});
}

TEST_CASE("lr schedules: linear warm-up, then the wrapped schedule from its epoch 0") {
  SchedulerOptions so;
  so.name = "exponential", so.base_lr = 0.1, so.gamma = 0.5, so.warmup_epochs = 3;
  auto s = make_scheduler(so);
  expect_sequence("warmup", *s, {0.025, 0.05, 0.075, 0.1, 0.05, 0.025});
  CHECK(s->name() == "warmup+exponential");
}

TEST_CASE("lr schedules: state round trip resumes the same sequence") {
  for (const std::string name :
       {"none", "exponential", "step", "plateau", "exponential+plateau", "cosine", "cosine-restarts"}) {
    CAPTURE(name);
    SchedulerOptions so;
    so.name = name, so.base_lr = 0.1, so.step_size = 2, so.plateau_patience = 1, so.cosine_t0 = 3, so.cosine_tmult = 2,
    so.warmup_epochs = 1, so.plateau_mode = "min";
    auto a = make_scheduler(so), b = make_scheduler(so);
    for (size_t e = 0; e < 5; ++e) a->step_epoch(kPlateauMinMetrics[e]), b->step_epoch(kPlateauMinMetrics[e]);
    const std::string saved = b->state().dump();
    auto c = make_scheduler(so);
    c->load_state(nlohmann::json::parse(saved));
    CHECK(c->lr() == a->lr());
    for (size_t e = 5; e < kPlateauMinMetrics.size(); ++e) {
      a->step_epoch(kPlateauMinMetrics[e]), c->step_epoch(kPlateauMinMetrics[e]);
      CHECK(c->lr() == a->lr());
    }
  }
  SchedulerOptions bad;
  bad.name = "linear";
  CHECK_THROWS_WITH_AS(make_scheduler(bad), doctest::Contains("cosine-restarts"), Error);
}

TEST_CASE("EarlyStopping: patience counts epochs without an improvement beyond min_delta") {
  EarlyStopping es("max", 2, 0.01);
  CHECK_FALSE(es.update(0.50));
  CHECK(es.improved());
  CHECK_FALSE(es.update(0.505));  // +0.005 <= min_delta: not an improvement
  CHECK_FALSE(es.improved());
  CHECK_FALSE(es.update(0.52));  // +0.02 over the best 0.50
  CHECK(es.improved());
  CHECK(es.best() == 0.52);
  CHECK_FALSE(es.update(0.51));
  CHECK(es.update(0.525));  // second epoch in a row without improvement: stop
  CHECK(es.bad_epochs() == 2);

  EarlyStopping loss("min", 1);
  CHECK_FALSE(loss.update(1.0));
  CHECK_FALSE(loss.update(0.9));
  const auto st = loss.state();
  CHECK(loss.update(0.9));  // equal is not better
  EarlyStopping resumed("min", 1);
  resumed.load_state(st);
  CHECK(resumed.update(0.95));

  EarlyStopping off("min", 0);  // patience 0: never stops
  for (int i = 0; i < 10; ++i) CHECK_FALSE(off.update(1.0));
  CHECK_THROWS_AS(EarlyStopping("median", 1), Error);
}
