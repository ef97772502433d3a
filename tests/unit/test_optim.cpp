// Optimizers: the CPU kernels against PyTorch 1.13 (double, several steps), clip_grad_norm, the
// nn::Optimizer over FlatParameters (one fused call per trainable run, frozen parameters untouched,
// PyTorch's per-parameter step count), and the state round trip (save, load, continue == uninterrupted).
//
// Golden values: /tmp script run with Debian's python3-torch 1.13 (torch.set_default_dtype(float64)):
//   P0 = [0.5, -1.25, 2.0, 0.0, 3.5];  grad at step t: g[i] = cos(0.7*i + 1.3*t) * (i+1) * 0.3
//   p = nn.Parameter(tensor(P0)); opt = <optimizer>([p])
//   for t in 1..steps: p.grad = g(t); opt.step()
//   print(p.tolist())
// with the optimizer named at each check (radam_decoupled: p.mul_(1 - lr*wd) before each wd=0 step,
// which is torch >= 2.0's RAdam(decoupled_weight_decay=True)).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/optim.h"
#include "nn/flat_params.h"
#include "nn/optimizer.h"

using namespace fer;

namespace {

const std::vector<double> kP0 = {0.5, -1.25, 2.0, 0.0, 3.5};

std::vector<double> grad_at(int64_t t) {
  std::vector<double> g(5);
  for (int i = 0; i < 5; ++i) g[i] = std::cos(0.7 * i + 1.3 * static_cast<double>(t)) * (i + 1) * 0.3;
  return g;
}

void expect_near(const std::string& what, const std::vector<double>& got, const std::vector<double>& want,
                 double rtol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i)
    CHECK_MESSAGE(std::abs(got[i] - want[i]) <= 1e-15 + rtol * std::abs(want[i]),
                  what << "[" << i << "]: got " << got[i] << ", PyTorch " << want[i]);
}

std::vector<double> run_sgd(const SgdConfig& c, int steps) {
  std::vector<double> p = kP0, buf(5, 0.0);
  for (int t = 1; t <= steps; ++t) {
    const auto g = grad_at(t);
    cpu::sgd_step<double>(5, p.data(), g.data(), buf.data(), c, t);
  }
  return p;
}

std::vector<double> run_adam(const AdamConfig& c, int steps, bool radam) {
  std::vector<double> p = kP0, m(5, 0.0), v(5, 0.0), vmax(5, 0.0);
  for (int t = 1; t <= steps; ++t) {
    const auto g = grad_at(t);
    if (radam)
      cpu::radam_step<double>(5, p.data(), g.data(), m.data(), v.data(), c, t);
    else
      cpu::adam_step<double>(5, p.data(), g.data(), m.data(), v.data(), c, t, c.amsgrad ? vmax.data() : nullptr);
  }
  return p;
}

SgdConfig sgd(double lr, double momentum, double dampening, double wd, bool nesterov) {
  SgdConfig c;
  c.lr = lr, c.momentum = momentum, c.dampening = dampening, c.weight_decay = wd, c.nesterov = nesterov;
  return c;
}

AdamConfig adam(double lr, double wd, bool decoupled, double beta1 = 0.9, double beta2 = 0.999, bool amsgrad = false) {
  AdamConfig c;
  c.lr = lr, c.weight_decay = wd, c.decoupled_weight_decay = decoupled, c.beta1 = beta1, c.beta2 = beta2;
  c.amsgrad = amsgrad;
  return c;
}

// A parameter holder shaped like Linear(in, out[, bias]) (nn/layers.cpp needs the conv/norm ops, so
// the optimizer tests do not link it).
class Dense : public nn::Module {
 public:
  Dense(int64_t in, int64_t out, bool bias = true) {
    register_parameter("weight", Tensor::zeros({out, in}));
    if (bias) register_parameter("bias", Tensor::zeros({out}));
  }
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Dense"; }
};

// A small model: Dense(3, 4) then Dense(4, 2), 16 + 10 = 26 parameters (values set by set_values).
std::shared_ptr<nn::Sequential> small_model() {
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<Dense>(3, 4)).add(std::make_shared<Dense>(4, 2));
  return m;
}

void set_values(nn::FlatParameters& flat, uint32_t salt) {
  float* v = flat.values().data<float>();
  for (int64_t i = 0; i < flat.size(); ++i) v[i] = std::sin(0.37f * static_cast<float>(i) + 0.1f * salt);
}

void set_grads(nn::FlatParameters& flat, int64_t t) {
  float* g = flat.grads().data<float>();
  for (int64_t i = 0; i < flat.size(); ++i) g[i] = std::cos(0.53f * static_cast<float>(i) + 0.9f * t) * 0.4f;
}

}  // namespace

TEST_CASE("optim kernels: SGD against PyTorch (momentum, nesterov, dampening, weight decay)") {
  // SGD(lr=0.1, momentum=0.9, weight_decay=0.01), 6 steps
  expect_near("sgd momentum+wd", run_sgd(sgd(0.1, 0.9, 0, 0.01, false), 6),
              {0.53797871614438519, -1.0306040910202963, 2.2763104327600563, 0.24167784864718209, 3.3801667542194838});
  // SGD(lr=0.1, momentum=0.9, nesterov=True)
  expect_near("sgd nesterov", run_sgd(sgd(0.1, 0.9, 0, 0, true), 6),
              {0.53695845422107591, -1.0362293405391556, 2.3796270936146118, 0.3467381920987192, 3.5302881704586127});
  // SGD(lr=0.05, momentum=0.9, dampening=0.1)
  expect_near("sgd dampening", run_sgd(sgd(0.05, 0.9, 0.1, 0, false), 6),
              {0.51935520468561369, -1.1547238286259947, 2.1605480918725166, 0.13689820059099472, 3.4941836448174559});
  // SGD(lr=0.1, weight_decay=0.1): no momentum buffer needed
  std::vector<double> p = kP0;
  for (int t = 1; t <= 6; ++t) {
    const auto g = grad_at(t);
    cpu::sgd_step<double>(5, p.data(), g.data(), nullptr, sgd(0.1, 0, 0, 0.1, false), t);
  }
  expect_near("sgd plain+wd", p,
              {0.46453416137179199, -1.1442183105207249, 1.976452745562179, 0.12542149413797357, 3.3791789030756423});
}

TEST_CASE("optim kernels: Adam, AdamW, AMSGrad and RAdam against PyTorch") {
  // Adam(lr=0.01, weight_decay=0.1), 6 steps
  expect_near("adam l2", run_adam(adam(0.01, 0.1, false), 6, false),
              {0.49160604147932546, -1.2126638038895965, 2.0124656613472465, 0.016221924508785245, 3.4886670223273328});
  // AdamW(lr=0.01, weight_decay=0.1)
  expect_near("adamw", run_adam(adam(0.01, 0.1, true), 6, false),
              {0.49990242399385543, -1.214494317610211, 2.0123094457531758, 0.01620626490782786, 3.4823203118872059});
  // Adam(lr=0.01, betas=(0.8, 0.99), amsgrad=True)
  expect_near("adam amsgrad", run_adam(adam(0.01, 0, false, 0.8, 0.99, true), 6, false),
              {0.50165057881644226, -1.2247075584437974, 2.0215291832857014, 0.014497960818484859, 3.5034221055453201});
  // RAdam(lr=0.01), 8 steps: steps 1-5 unrectified (rho_t <= 5), 6-8 rectified
  CHECK_FALSE(optim::radam_scalars(adam(0.01, 0, false), 5).rectified);
  CHECK(optim::radam_scalars(adam(0.01, 0, false), 6).rectified);
  expect_near("radam", run_adam(adam(0.01, 0, false), 8, true),
              {0.50205255527475001, -1.2400609386392645, 2.0167324472699102, 0.014382817011663124, 3.4997090245020823});
  // RAdam(lr=0.01, weight_decay=0.1)
  expect_near("radam l2", run_adam(adam(0.01, 0.1, false), 8, true),
              {0.49932014251189832, -1.2335951723230636, 2.0064096185886107, 0.014340556700481013, 3.4819138419709157});
  // RAdam(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)
  expect_near("radam decoupled", run_adam(adam(0.01, 0.1, true), 8, true),
              {0.49805765214147119, -1.230154317028008, 2.0006809979149578, 0.014280748331820692, 3.4717904789849592});
}

TEST_CASE("optim kernels: argument errors") {
  std::vector<double> p(3, 0.0), g(3, 0.0), m(3, 0.0), v(3, 0.0);
  CHECK_THROWS_WITH_AS(cpu::sgd_step<double>(3, p.data(), g.data(), nullptr, sgd(0.1, 0.9, 0, 0, false), 1),
                       doctest::Contains("momentum buffer"), Error);
  CHECK_THROWS_WITH_AS(cpu::adam_step<double>(3, p.data(), g.data(), m.data(), v.data(), adam(0.01, 0, false), 0),
                       doctest::Contains("step counts from 1"), Error);
  CHECK_THROWS_WITH_AS(
      cpu::adam_step<double>(3, p.data(), g.data(), m.data(), v.data(), adam(0.01, 0, false, 0.9, 0.999, true), 1),
      doctest::Contains("max_exp_avg_sq"), Error);
  CHECK_THROWS_AS(cpu::sgd_step<double>(3, p.data(), g.data(), m.data(), sgd(0.1, 0.9, 0.5, 0, true), 1), Error);
}

TEST_CASE("optim kernels: grad_norm is exact-ish in double and independent of the chunking") {
  const int64_t n = 200003;  // several chunks, not a multiple of anything
  std::vector<float> g(n);
  long double ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    g[i] = static_cast<float>(std::sin(0.001 * static_cast<double>(i))) * 0.5f;
    ref += static_cast<long double>(g[i]) * g[i];
  }
  const double norm = cpu::grad_norm<float>(n, g.data());
  CHECK(std::abs(norm - std::sqrt(static_cast<double>(ref))) <= 1e-12 * norm);
  CHECK(cpu::grad_norm<float>(n, g.data()) == norm);  // deterministic
  CHECK(cpu::grad_norm<float>(0, g.data()) == 0.0);
  std::vector<double> h = {3, 4, 12};
  CHECK(cpu::grad_norm<double>(3, h.data()) == 13.0);
  cpu::scale<double>(3, h.data(), 0.5);
  CHECK(h == std::vector<double>{1.5, 2, 6});
}

TEST_CASE("clip_grad_norm: PyTorch clip_grad_norm_ semantics over the trainable gradients") {
  // Dense(1, 2, no bias) + Dense(1, 1, no bias): grads [3, 4] and [12], total norm 13.
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<Dense>(1, 2, false)).add(std::make_shared<Dense>(1, 1, false));
  nn::FlatParameters flat(*m);
  auto put = [&] {
    float* g = flat.grads().data<float>();
    g[0] = 3, g[1] = 4, g[2] = 12;
  };
  put();
  // torch.nn.utils.clip_grad_norm_(ps, 6.5) -> 13, grads [1.4999998846, 1.9999998462, 5.9999995385]
  CHECK(nn::clip_grad_norm(flat, 6.5) == doctest::Approx(13.0).epsilon(1e-12));
  auto g = flat.grads().to_vector<float>();
  CHECK(g[0] == doctest::Approx(1.4999998846153937).epsilon(1e-7));
  CHECK(g[1] == doctest::Approx(1.9999998461538582).epsilon(1e-7));
  CHECK(g[2] == doctest::Approx(5.9999995384615747).epsilon(1e-7));
  // Under the threshold: untouched.
  put();
  CHECK(nn::clip_grad_norm(flat, 20.0) == doctest::Approx(13.0).epsilon(1e-12));
  CHECK(flat.grads().to_vector<float>() == std::vector<float>{3, 4, 12});
  // Frozen parameters neither count nor get scaled.
  m->children()[1].second->set_trainable(false);
  put();
  CHECK(nn::clip_grad_norm(flat, 2.5) == doctest::Approx(5.0).epsilon(1e-12));
  g = flat.grads().to_vector<float>();
  CHECK(g[0] == doctest::Approx(1.5).epsilon(1e-6));
  CHECK(g[1] == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(g[2] == 12.0f);
  CHECK_THROWS_AS(nn::clip_grad_norm(flat, 0.0), Error);
}

TEST_CASE("grad_norm_tensor / clip_grad_norm_tensor: the same bits as the host versions, left on the device") {
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<Dense>(3, 5, true)).add(std::make_shared<Dense>(5, 2, true));
  nn::FlatParameters flat(*m);
  const int64_t n = flat.size();
  std::vector<float> g0(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) g0[static_cast<size_t>(i)] = std::sin(0.7f * static_cast<float>(i)) * 3.0f;
  auto put = [&] { flat.grads().copy_from(Tensor::from_vector(g0, {n})); };
  for (const bool freeze_first : {false, true}) {  // one trainable run, then a frozen gap (host path)
    CAPTURE(freeze_first);
    m->children()[0].second->set_trainable(!freeze_first);
    put();
    const Tensor t = nn::grad_norm_tensor(flat);
    CHECK(t.dtype() == DType::f64);
    CHECK(t.numel() == 1);
    CHECK(t.item() == nn::grad_norm(flat));
    for (const double max_norm : {0.5, 1e6}) {  // clipped, and left alone
      CAPTURE(max_norm);
      put();
      const double host_total = nn::clip_grad_norm(flat, max_norm);
      const std::vector<float> host_clipped = flat.grads().to_vector<float>();
      put();
      const Tensor dev_total = nn::clip_grad_norm_tensor(flat, max_norm);
      CHECK(dev_total.item() == host_total);
      CHECK(flat.grads().to_vector<float>() == host_clipped);
    }
  }
  // A non-finite norm is returned and the gradients are left as they are (the caller stops).
  m->children()[0].second->set_trainable(true);
  g0[1] = std::numeric_limits<float>::infinity();
  put();
  CHECK(std::isinf(nn::clip_grad_norm_tensor(flat, 1.0).item()));
  CHECK(flat.grads().to_vector<float>()[2] == g0[2]);
  CHECK_THROWS_AS(nn::clip_grad_norm_tensor(flat, 0.0), Error);
}

TEST_CASE("Optimizer: each kind equals its kernel over the flat buffer; frozen runs untouched") {
  for (const std::string name : {"sgd", "adam", "adamw", "radam"}) {
    CAPTURE(name);
    auto m = small_model();
    nn::FlatParameters flat(*m);
    set_values(flat, 1);
    m->children()[0].second->set_trainable(false);  // the first Dense (16 values) is frozen
    nn::OptimizerOptions o;
    o.lr = 0.05, o.weight_decay = 0.01, o.nesterov = (name == "sgd");
    auto opt = nn::make_optimizer(name, flat, o);
    CHECK(opt->name() == name);
    const auto before = flat.values().to_vector<float>();
    // The reference: the kernel over the trainable run [16, 26) only.
    std::vector<float> p(before.begin() + 16, before.end()), b1(10, 0.f), b2(10, 0.f);
    for (int64_t t = 1; t <= 4; ++t) {
      set_grads(flat, t);
      const auto g = flat.grads().to_vector<float>();
      opt->step();
      const float* gt = g.data() + 16;
      if (name == "sgd") {
        cpu::sgd_step<float>(10, p.data(), gt, b1.data(), sgd(0.05, 0.9, 0, 0.01, true), t);
      } else if (name == "radam") {
        cpu::radam_step<float>(10, p.data(), gt, b1.data(), b2.data(), adam(0.05, 0.01, true), t);
      } else {
        cpu::adam_step<float>(10, p.data(), gt, b1.data(), b2.data(), adam(0.05, 0.01, name == "adamw"), t);
      }
    }
    CHECK(opt->step_count() == 4);
    const auto after = flat.values().to_vector<float>();
    for (int i = 0; i < 16; ++i) CHECK(after[i] == before[i]);  // frozen: bit for bit
    for (int i = 0; i < 10; ++i) CHECK(after[16 + i] == p[i]);  // trained: the same arithmetic
    // The model's own parameter tensors are views of the flat buffer.
    CHECK(m->named_parameters()[2].second.to_vector<float>()[0] == p[0]);
    opt->zero_grad();
    CHECK(nn::grad_norm(flat) == 0.0);
  }
}

TEST_CASE("Optimizer: a parameter unfrozen later starts at its own step 1 (PyTorch per-parameter step)") {
  auto m = small_model();
  nn::FlatParameters flat(*m);
  set_values(flat, 2);
  auto opt = nn::make_optimizer("adam", flat, nn::OptimizerOptions{});
  m->children()[0].second->set_trainable(false);
  set_grads(flat, 1);
  opt->step();
  opt->step();
  m->children()[0].second->set_trainable(true);
  set_grads(flat, 3);
  const auto v0 = flat.values().to_vector<float>();
  const auto g = flat.grads().to_vector<float>();
  opt->step();
  const auto v1 = flat.values().to_vector<float>();
  // First layer: Adam step 1 from zero moments; second layer: step 3 of its own history.
  std::vector<float> p(v0.begin(), v0.begin() + 16), mm(16, 0.f), vv(16, 0.f);
  cpu::adam_step<float>(16, p.data(), g.data(), mm.data(), vv.data(), adam(1e-3, 0, false), 1);
  for (int i = 0; i < 16; ++i) CHECK(v1[i] == p[i]);
  const auto st = opt->state_tensors();
  CHECK(st[0].first == "step");
  CHECK(st[0].second.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 3, 3});
  CHECK(opt->step_count() == 3);
}

TEST_CASE("Optimizer: state round trip continues exactly like an uninterrupted run") {
  struct Case {
    std::string name;
    nn::OptimizerOptions o;
  };
  nn::OptimizerOptions sgd_o, ams_o, radam_o;
  sgd_o.lr = 0.1, sgd_o.momentum = 0.9, sgd_o.weight_decay = 1e-3;
  ams_o.lr = 0.01, ams_o.amsgrad = true, ams_o.weight_decay = 0.05;
  radam_o.lr = 0.02;  // 7 steps: crosses RAdam's rectification threshold after the reload
  for (const Case& c : {Case{"sgd", sgd_o}, Case{"adamw", ams_o}, Case{"radam", radam_o}}) {
    CAPTURE(c.name);
    // Uninterrupted: 7 steps.
    auto m1 = small_model();
    nn::FlatParameters f1(*m1);
    set_values(f1, 3);
    auto a = nn::make_optimizer(c.name, f1, c.o);
    for (int64_t t = 1; t <= 7; ++t) set_grads(f1, t), a->step();

    // Interrupted after 3 steps: state saved (deep copies), a fresh optimizer loads it.
    auto m2 = small_model();
    nn::FlatParameters f2(*m2);
    set_values(f2, 3);
    std::vector<std::pair<std::string, Tensor>> saved;
    {
      auto b = nn::make_optimizer(c.name, f2, c.o);
      for (int64_t t = 1; t <= 3; ++t) set_grads(f2, t), b->step();
      for (const auto& [n, t] : b->state_tensors()) saved.emplace_back(n, t.clone());
    }
    auto fresh = nn::make_optimizer(c.name, f2, c.o);
    fresh->load_state(saved);
    CHECK(fresh->step_count() == 3);
    for (int64_t t = 4; t <= 7; ++t) set_grads(f2, t), fresh->step();
    CHECK(f2.values().to_vector<float>() == f1.values().to_vector<float>());

    // Loading into an optimizer of another kind is an error naming the mismatch.
    auto other = nn::make_optimizer(c.name == "sgd" ? "adam" : "sgd", f2, c.o);
    CHECK_THROWS_WITH_AS(other->load_state(saved), doctest::Contains("load_state"), Error);
  }
}

TEST_CASE("make_optimizer: unknown names list the valid ones") {
  auto m = small_model();
  nn::FlatParameters flat(*m);
  CHECK_THROWS_WITH_AS(nn::make_optimizer("adagrad", flat, {}), doctest::Contains("sgd, adam, adamw, radam"), Error);
  nn::OptimizerOptions o;
  o.lr = 0.3;
  auto opt = nn::make_optimizer("sgd", flat, o);
  CHECK(opt->lr() == 0.3);
  opt->set_lr(0.03);
  CHECK(opt->lr() == 0.03);
}

TEST_CASE("optim step scalars: the layout the *_apply kernels read") {
  double s[optim::kStepScalars];
  optim::sgd_step_scalars(sgd(0.05, 0.9, 0, 0, false), 1, s);
  CHECK(s[0] == 0.05);
  CHECK(s[1] == 1.0);
  optim::sgd_step_scalars(sgd(0.05, 0.9, 0, 0, false), 2, s);
  CHECK(s[1] == 0.0);
  optim::adam_step_scalars(adam(0.01, 0.1, true), 3, s);
  CHECK(s[0] == doctest::Approx(0.01 / (1 - std::pow(0.9, 3))).epsilon(1e-15));
  CHECK(s[1] == doctest::Approx(std::sqrt(1 - std::pow(0.999, 3))).epsilon(1e-15));
  CHECK(s[2] == doctest::Approx(1 - 0.01 * 0.1).epsilon(1e-15));
  CHECK(s[3] == 0.0);
  optim::radam_step_scalars(adam(0.01, 0.1, false), 1, s);  // step 1: not rectified (rho_1 = 1)
  CHECK(s[0] == 0.01);
  CHECK(s[4] == 0.0);
  CHECK(s[6] == 0.1);
  optim::radam_step_scalars(adam(0.01, 0.1, false), 10, s);  // rho_10 > 5: rectified
  CHECK(s[4] == 1.0);
  CHECK(s[3] > 0.0);
  for (int i = 7; i < optim::kStepScalars; ++i) CHECK(s[i] == 0.0);
  CHECK_THROWS_AS(optim::adam_step_scalars(adam(0.01, 0, false), 0, s), Error);
}

TEST_CASE("Optimizer: prepare_step writes the scalars, apply_step reads them when it runs (graph replay)") {
  // A captured graph replays apply_step's kernels with the pointers of the capture; only the memory
  // behind them changes. Here: apply_step after a later prepare_step uses the later step's scalars,
  // and calling apply_step again without a prepare applies the same scalars again.
  for (const std::string name : {"sgd", "adam", "radam"}) {
    CAPTURE(name);
    auto m = small_model();
    nn::FlatParameters flat(*m);
    set_values(flat, 3);
    nn::OptimizerOptions o;
    o.lr = 0.05, o.momentum = 0.9;
    auto opt = nn::make_optimizer(name, flat, o);
    auto ref_model = small_model();
    nn::FlatParameters ref(*ref_model);
    set_values(ref, 3);
    auto ref_opt = nn::make_optimizer(name, ref, o);
    for (int64_t t = 1; t <= 3; ++t) {
      if (t == 3) opt->set_lr(0.01), ref_opt->set_lr(0.01);  // a scheduler's change reaches the kernels
      set_grads(flat, t);
      set_grads(ref, t);
      opt->prepare_step();
      REQUIRE(opt->runs().size() == 1);
      CHECK(opt->runs()[0] == std::pair<int64_t, int64_t>{0, 26});
      opt->apply_step();
      ref_opt->step();
      CHECK(flat.values().to_vector<float>() == ref.values().to_vector<float>());
    }
    // apply again without prepare: the same scalars (step 3, lr 0.01) once more, as cpu::*_step at t = 3
    const auto g = flat.grads().to_vector<float>();
    auto p = flat.values().to_vector<float>();
    std::vector<float> b1(26), b2(26);
    const auto st = opt->state_tensors();
    b1 = st[2].second.to_vector<float>();
    if (name != "sgd") b2 = st[3].second.to_vector<float>();
    opt->apply_step();
    if (name == "sgd")
      cpu::sgd_step<float>(26, p.data(), g.data(), b1.data(), sgd(0.01, 0.9, 0, 0, false), 3);
    else if (name == "adam")
      cpu::adam_step<float>(26, p.data(), g.data(), b1.data(), b2.data(), adam(0.01, 0, false), 3);
    else
      cpu::radam_step<float>(26, p.data(), g.data(), b1.data(), b2.data(), adam(0.01, 0, true), 3);
    CHECK(flat.values().to_vector<float>() == p);
    CHECK(opt->step_count() == 3);  // apply_step does not count steps
  }
}

TEST_CASE("Optimizer: runs() names each block of trainable parameters") {
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<Dense>(3, 4)).add(std::make_shared<Dense>(4, 2)).add(std::make_shared<Dense>(2, 2));
  nn::FlatParameters flat(*m);
  m->children()[1].second->set_trainable(false);  // 16 trainable, 10 frozen, 6 trainable
  auto opt = nn::make_optimizer("adam", flat, nn::OptimizerOptions{});
  opt->prepare_step();
  const std::vector<std::pair<int64_t, int64_t>> expected = {{0, 16}, {26, 6}};
  CHECK(opt->runs() == expected);
}
