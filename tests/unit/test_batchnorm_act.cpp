// Batch norm fused with an activation (kernels/batchnorm_act.h, ops::batch_norm_act, nn::batchnorm_act):
//   - gradient checks (double, central differences) of the kernels for relu and silu (and sigmoid,
//     gelu), training and eval, odd shapes incl. C = 1 and [N,C], with and without gamma / beta;
//   - the CPU forward is bit-identical to batchnorm then activation (float and double), the running
//     statistics are identical, and the backward agrees with the unfused chain to rounding;
//   - the tensor op through autograd (gradcheck, unfused comparison, what the node keeps);
//   - nn: the fusion switch, BatchNorm2d's counter, Grad-CAM capture, Sequential pairs, trace events,
//     and whole models (cnn6, resnet18 at reduced width) with fusion on and off on the same weights.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/batchnorm.h"
#include "kernels/batchnorm_act.h"
#include "models/registry.h"
#include "nn/layers.h"
#include "tensor/autograd.h"
#include "tensor/gradcheck.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {

std::string describe(const BatchNormDims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w);
}

BatchNormDims dims(int64_t n, int64_t c, int64_t h, int64_t w) {
  BatchNormDims d;
  d.n = n, d.c = c, d.h = h, d.w = w;
  return d;
}

// odd NCHW, [N,C], one channel, a 1x1 plane with N = 2, N = 1 with a plane
std::vector<BatchNormDims> configs() {
  return {dims(3, 5, 7, 2), dims(6, 4, 1, 1), dims(2, 1, 3, 3), dims(2, 3, 1, 1), dims(1, 2, 3, 5)};
}

const Activation kActs[] = {Activation::relu, Activation::silu, Activation::sigmoid, Activation::gelu};

template <typename T>
std::vector<T> to_type(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// Bitwise equality (NaN never matches: every output must be written).
template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// |a - b| <= atol + rtol |b| everywhere.
template <typename T>
void check_near(const std::string& what, const std::vector<T>& a, const std::vector<T>& b, double atol, double rtol) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(double(a[i]) - double(b[i]));
    if (!(e <= atol + rtol * std::fabs(double(b[i])))) {
      FAIL_CHECK(what << ": element " << i << " fused " << a[i] << " vs unfused " << b[i]);
      return;
    }
  }
}

}  // namespace

TEST_CASE("batchnorm_act training backward matches finite differences (relu, silu, sigmoid, gelu)") {
  for (const BatchNormDims& d : configs()) {
    for (Activation a : kActs) {
      for (bool affine : {true, false}) {
        const std::string name = std::string(activation_name(a)) + " train " + describe(d) + (affine ? "" : " plain");
        CAPTURE(name);
        auto x = test::random_vector(d.size(), 11, -2, 2);
        auto gamma = test::random_vector(d.c, 12, 0.5, 1.5), beta = test::random_vector(d.c, 13);
        const auto w = test::random_vector(d.size(), 14);
        const double* g = affine ? gamma.data() : nullptr;
        const double* b = affine ? beta.data() : nullptr;
        auto loss = [&] {
          std::vector<double> y(d.size()), sm(d.c), si(d.c);
          cpu::batchnorm_act_forward_train<double>(d, a, x.data(), affine ? gamma.data() : nullptr,
                                                   affine ? beta.data() : nullptr, 1e-5, 0.1, nullptr, nullptr,
                                                   y.data(), sm.data(), si.data());
          return test::dot(y, w);
        };
        std::vector<double> y(d.size()), sm(d.c), si(d.c);
        cpu::batchnorm_act_forward_train<double>(d, a, x.data(), g, b, 1e-5, 0.1, nullptr, nullptr, y.data(),
                                                 sm.data(), si.data());
        std::vector<double> dx(d.size(), std::nan("")), dg(d.c, std::nan("")), db(d.c, std::nan(""));
        cpu::batchnorm_act_backward_train<double>(d, a, x.data(), w.data(), g, b, sm.data(), si.data(), dx.data(),
                                                  dg.data(), db.data());
        test::check_gradient(name + " dx", x, loss, dx);
        if (affine) {
          test::check_gradient(name + " dgamma", gamma, loss, dg);
          test::check_gradient(name + " dbeta", beta, loss, db);
        }
        // optional outputs: dx alone and dgamma/dbeta alone give the same numbers
        std::vector<double> dx2(d.size(), std::nan("")), dg2(d.c, std::nan("")), db2(d.c, std::nan(""));
        cpu::batchnorm_act_backward_train<double>(d, a, x.data(), w.data(), g, b, sm.data(), si.data(), dx2.data(),
                                                  nullptr, nullptr);
        cpu::batchnorm_act_backward_train<double>(d, a, x.data(), w.data(), g, b, sm.data(), si.data(), nullptr,
                                                  dg2.data(), db2.data());
        CHECK(same_bits(dx2, dx));
        CHECK(same_bits(dg2, dg));
        CHECK(same_bits(db2, db));
      }
    }
  }
}

TEST_CASE("batchnorm_act eval backward matches finite differences (relu, silu, sigmoid, gelu)") {
  for (const BatchNormDims& d : configs()) {
    for (Activation a : kActs) {
      for (bool affine : {true, false}) {
        const std::string name = std::string(activation_name(a)) + " eval " + describe(d) + (affine ? "" : " plain");
        CAPTURE(name);
        auto x = test::random_vector(d.size(), 21, -2, 2);
        auto gamma = test::random_vector(d.c, 22, 0.5, 1.5), beta = test::random_vector(d.c, 23);
        const auto rm = test::random_vector(d.c, 24), rv = test::random_vector(d.c, 25, 0.3, 2.0);
        const auto w = test::random_vector(d.size(), 26);
        const double* g = affine ? gamma.data() : nullptr;
        const double* b = affine ? beta.data() : nullptr;
        auto loss = [&] {
          std::vector<double> y(d.size());
          cpu::batchnorm_act_forward_eval<double>(d, a, x.data(), affine ? gamma.data() : nullptr,
                                                  affine ? beta.data() : nullptr, rm.data(), rv.data(), 1e-3,
                                                  y.data());
          return test::dot(y, w);
        };
        std::vector<double> dx(d.size(), std::nan("")), dg(d.c, std::nan("")), db(d.c, std::nan(""));
        cpu::batchnorm_act_backward_eval<double>(d, a, x.data(), w.data(), g, b, rm.data(), rv.data(), 1e-3,
                                                 dx.data(), dg.data(), db.data());
        test::check_gradient(name + " dx", x, loss, dx);
        if (affine) {
          test::check_gradient(name + " dgamma", gamma, loss, dg);
          test::check_gradient(name + " dbeta", beta, loss, db);
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("batchnorm_act CPU forward is bit-identical to batchnorm then activation", T, float, double) {
  for (const BatchNormDims& d : configs()) {
    for (Activation a : kActs) {
      for (bool affine : {true, false}) {
        const std::string name = std::string(activation_name(a)) + " " + describe(d) + (affine ? "" : " plain");
        CAPTURE(name);
        const size_t n = size_t(d.size()), c = size_t(d.c);
        const auto x = to_type<T>(test::random_vector(n, 31, -2, 2)), dy = to_type<T>(test::random_vector(n, 32));
        const auto gamma = to_type<T>(test::random_vector(c, 33, 0.5, 1.5)), beta = to_type<T>(test::random_vector(c, 34));
        const auto rm0 = to_type<T>(test::random_vector(c, 35)), rv0 = to_type<T>(test::random_vector(c, 36, 0.5, 2));
        const T* g = affine ? gamma.data() : nullptr;
        const T* b = affine ? beta.data() : nullptr;
        const T nan = T(std::nan(""));

        // training: unfused z = bn(x), y = act(z); backward dz = act'(z) dy, then the BN backward
        std::vector<T> z(n, nan), yu(n, nan), smu(c, nan), siu(c, nan), rmu = rm0, rvu = rv0;
        cpu::batchnorm2d_forward_train<T>(d, x.data(), g, b, 1e-5, 0.1, rmu.data(), rvu.data(), z.data(), smu.data(),
                                          siu.data());
        cpu::activation_forward<T>(a, int64_t(n), z.data(), yu.data());
        std::vector<T> dz(n, nan), dxu(n, nan), dgu(c, nan), dbu(c, nan);
        cpu::activation_backward<T>(a, int64_t(n), z.data(), yu.data(), dy.data(), dz.data());
        cpu::batchnorm2d_backward_train<T>(d, x.data(), dz.data(), g, smu.data(), siu.data(), dxu.data(), dgu.data(),
                                           dbu.data());

        std::vector<T> yf(n, nan), smf(c, nan), sif(c, nan), rmf = rm0, rvf = rv0;
        cpu::batchnorm_act_forward_train<T>(d, a, x.data(), g, b, 1e-5, 0.1, rmf.data(), rvf.data(), yf.data(),
                                            smf.data(), sif.data());
        CHECK(same_bits(yf, yu));
        CHECK(same_bits(smf, smu));
        CHECK(same_bits(sif, siu));
        CHECK(same_bits(rmf, rmu));
        CHECK(same_bits(rvf, rvu));
        std::vector<T> dxf(n, nan), dgf(c, nan), dbf(c, nan);
        cpu::batchnorm_act_backward_train<T>(d, a, x.data(), dy.data(), g, b, smf.data(), sif.data(), dxf.data(),
                                             dgf.data(), dbf.data());
        if constexpr (std::is_same_v<T, double>) {
          // z recomputed from the saved double statistics is the forward's z: the same bits
          CHECK(same_bits(dxf, dxu));
          CHECK(same_bits(dgf, dgu));
          CHECK(same_bits(dbf, dbu));
        } else {
          // z recomputed from float-rounded statistics: agreement to float rounding of z
          check_near(name + " dx", dxf, dxu, 2e-5, 1e-4);
          check_near(name + " dgamma", dgf, dgu, 2e-5 * std::sqrt(double(d.m())), 1e-4);
          check_near(name + " dbeta", dbf, dbu, 2e-5 * std::sqrt(double(d.m())), 1e-4);
        }

        // eval: forward and backward use the same running statistics, so both are bit-identical
        std::vector<T> ze(n, nan), ye(n, nan), yef(n, nan);
        cpu::batchnorm2d_forward_eval<T>(d, x.data(), g, b, rm0.data(), rv0.data(), 1e-3, ze.data());
        cpu::activation_forward<T>(a, int64_t(n), ze.data(), ye.data());
        cpu::batchnorm_act_forward_eval<T>(d, a, x.data(), g, b, rm0.data(), rv0.data(), 1e-3, yef.data());
        CHECK(same_bits(yef, ye));
        std::vector<T> dze(n, nan), dxe(n, nan), dge(c, nan), dbe(c, nan);
        cpu::activation_backward<T>(a, int64_t(n), ze.data(), ye.data(), dy.data(), dze.data());
        cpu::batchnorm2d_backward_eval<T>(d, x.data(), dze.data(), g, rm0.data(), rv0.data(), 1e-3, dxe.data(),
                                          dge.data(), dbe.data());
        std::vector<T> dxef(n, nan), dgef(c, nan), dbef(c, nan);
        cpu::batchnorm_act_backward_eval<T>(d, a, x.data(), dy.data(), g, b, rm0.data(), rv0.data(), 1e-3,
                                            dxef.data(), dgef.data(), dbef.data());
        CHECK(same_bits(dxef, dxe));
        CHECK(same_bits(dgef, dge));
        CHECK(same_bits(dbef, dbe));
      }
    }
  }
}

TEST_CASE("batchnorm_act errors: as batchnorm (M == 1 in training, missing buffers)") {
  std::vector<double> x(8, 1.0), y(8), s1(8), s2(8), rm(8, 0.0), rv(8, 1.0);
  CHECK_THROWS_WITH_AS(cpu::batchnorm_act_forward_train<double>(dims(1, 3, 1, 1), Activation::relu, x.data(), nullptr,
                                                                nullptr, 1e-5, 0.1, rm.data(), rv.data(), y.data(),
                                                                s1.data(), s2.data()),
                       doctest::Contains("batchnorm_act_forward_train: expected more than 1 value per channel"), Error);
  CHECK(rm[0] == 0.0);
  CHECK_THROWS_WITH_AS(cpu::batchnorm_act_forward_eval<double>(dims(2, 2, 1, 1), Activation::silu, x.data(), nullptr,
                                                               nullptr, nullptr, nullptr, 1e-5, y.data()),
                       doctest::Contains("eval mode needs running_mean and running_var"), Error);
  CHECK_THROWS_WITH_AS(cpu::batchnorm_act_backward_train<double>(dims(2, 2, 1, 1), Activation::relu, x.data(),
                                                                 x.data(), nullptr, nullptr, nullptr, s2.data(),
                                                                 y.data(), nullptr, nullptr),
                       doctest::Contains("save_mean and save_invstd are required"), Error);
}

// ---- the tensor op --------------------------------------------------------------------------------

namespace {
Tensor rand_t(const Shape& s, uint64_t seed, DType dt, double lo = -1, double hi = 1, bool grad = true) {
  Generator g(seed);
  Tensor t = Tensor::empty(s, dt);
  uniform_(t, lo, hi, g);
  if (grad) t.requires_grad_();
  return t;
}
void require_pass(const std::vector<GradcheckResult>& r) {
  INFO(format_gradcheck(r));
  REQUIRE(!r.empty());
  for (const auto& x : r) CHECK_MESSAGE(x.ok, x.input);
}
}  // namespace

TEST_CASE("batch_norm_act op: gradients (relu, silu) in training and eval, NCHW and [N, C], C = 1") {
  for (const Shape& shape : {Shape{3, 5, 7, 2}, Shape{6, 4}, Shape{4, 1, 3, 3}}) {
    for (Activation a : {Activation::relu, Activation::silu}) {
      CAPTURE(shape_str(shape));
      CAPTURE(activation_name(a));
      const int64_t c = shape[1];
      const Tensor x = rand_t(shape, 1, DType::f64, -2, 2);
      const Tensor gamma = rand_t({c}, 2, DType::f64, 0.5, 1.5), beta = rand_t({c}, 3, DType::f64);
      const Tensor rm = rand_t({c}, 4, DType::f64, -1, 1, false), rv = rand_t({c}, 5, DType::f64, 0.5, 2, false);
      require_pass(gradcheck(
          [&](const std::vector<Tensor>& in) {
            return ops::batch_norm_act(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5, a);
          },
          {x, gamma, beta}));
      require_pass(gradcheck(
          [&](const std::vector<Tensor>& in) {
            return ops::batch_norm_act(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, a);
          },
          {x}));
      require_pass(gradcheck(
          [&](const std::vector<Tensor>& in) {
            return ops::batch_norm_act(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-3, a);
          },
          {x, gamma, beta}));
      // gamma only (beta undefined): z = gamma x_hat
      require_pass(gradcheck(
          [&](const std::vector<Tensor>& in) {
            return ops::batch_norm_act(in[0], in[1], Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, a);
          },
          {x, gamma}));
    }
  }
}

TEST_CASE("batch_norm_act op: equals activation(batch_norm) in float (forward bits, gradients, running stats)") {
  for (const Shape& shape : {Shape{4, 6, 5, 3}, Shape{8, 3}}) {
    for (Activation a : {Activation::relu, Activation::silu}) {
      for (bool training : {true, false}) {
        CAPTURE(shape_str(shape));
        CAPTURE(activation_name(a));
        CAPTURE(training);
        const int64_t c = shape[1];
        Tensor x1 = rand_t(shape, 7, DType::f32, -2, 2), g1 = rand_t({c}, 8, DType::f32, 0.5, 1.5),
               b1 = rand_t({c}, 9, DType::f32);
        Tensor x2 = x1.detach().clone().requires_grad_(), g2 = g1.detach().clone().requires_grad_(),
               b2 = b1.detach().clone().requires_grad_();
        Tensor rm1 = rand_t({c}, 10, DType::f32, -1, 1, false), rv1 = rand_t({c}, 11, DType::f32, 0.5, 2, false);
        Tensor rm2 = rm1.clone(), rv2 = rv1.clone();
        const Tensor w = rand_t(shape, 12, DType::f32, -1, 1, false);
        Tensor yu = ops::activation(ops::batch_norm(x1, g1, b1, rm1, rv1, training, 0.1, 1e-5), a);
        Tensor yf = ops::batch_norm_act(x2, g2, b2, rm2, rv2, training, 0.1, 1e-5, a);
        CHECK(same_bits(yf.to_vector<float>(), yu.to_vector<float>()));
        CHECK(same_bits(rm2.to_vector<float>(), rm1.to_vector<float>()));
        CHECK(same_bits(rv2.to_vector<float>(), rv1.to_vector<float>()));
        yu.backward(w);
        yf.backward(w);
        check_near("dx", x2.grad().to_vector<float>(), x1.grad().to_vector<float>(), 2e-5, 1e-4);
        check_near("dgamma", g2.grad().to_vector<float>(), g1.grad().to_vector<float>(), 1e-4, 1e-4);
        check_near("dbeta", b2.grad().to_vector<float>(), b1.grad().to_vector<float>(), 1e-4, 1e-4);
      }
    }
  }
}

TEST_CASE("batch_norm_act op: argument errors are batch_norm's") {
  const Tensor x = Tensor::zeros({2, 3, 4, 4});
  CHECK_THROWS_WITH_AS(ops::batch_norm_act(Tensor::zeros({2, 3, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true,
                                           0.1, 1e-5, Activation::relu),
                       doctest::Contains("batch_norm_act: expected x [N, C, H, W] or [N, C]"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm_act(x, Tensor::ones({4}), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5,
                                           Activation::relu),
                       doctest::Contains("gamma must be [3]"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm_act(x, Tensor(), Tensor(), Tensor::zeros({3}), Tensor(), true, 0.1, 1e-5,
                                           Activation::silu),
                       doctest::Contains("pass both running_mean and running_var"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm_act(Tensor::zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1,
                                           1e-5, Activation::relu),
                       doctest::Contains("more than 1 value per channel"), Error);
}

// ---- nn -----------------------------------------------------------------------------------------

namespace {
// Restores the process-wide switch at scope exit.
struct FusionGuard {
  bool saved = nn::fusion_enabled();
  ~FusionGuard() { nn::set_fusion(saved); }
};
}  // namespace

TEST_CASE("nn::batchnorm_act: fused and unfused agree; counter once per call; capture disables fusion") {
  FusionGuard guard;
  CHECK(nn::fusion_enabled());  // the default
  nn::BatchNorm2d bn(3);
  Generator gen(5);
  uniform_(bn.weight, 0.5, 1.5, gen);
  uniform_(bn.bias, -0.5, 0.5, gen);
  const Tensor x = rand_t({4, 3, 5, 5}, 6, DType::f32, -2, 2, false);
  const Tensor ref = ops::relu(ops::batch_norm(x, bn.weight, bn.bias, Tensor(), Tensor(), true, 0.1, 1e-5));
  for (bool fused : {true, false}) {
    CAPTURE(fused);
    nn::set_fusion(fused);
    const int64_t before = bn.num_batches_tracked.to_vector<int64_t>()[0];
    const Tensor y = nn::batchnorm_act(bn, x, Activation::relu);
    CHECK(same_bits(y.to_vector<float>(), ref.to_vector<float>()));
    CHECK(bn.num_batches_tracked.to_vector<int64_t>()[0] == before + 1);
    // the autograd node shows which path ran
    REQUIRE(y.grad_fn() != nullptr);
    CHECK(std::string(y.grad_fn()->name()) == (fused ? "BatchNormActBackward" : "ActivationBackward"));
  }
  // a later plain call is plain batch norm again (the fused activation does not stick)
  nn::set_fusion(true);
  const Tensor plain = bn(x);
  CHECK(std::string(plain.grad_fn()->name()) == "BatchNormBackward");
  // Grad-CAM: a capturing BN keeps the pre-activation output, so the pair is not fused
  bn.capture(true);
  const Tensor yc = nn::batchnorm_act(bn, x, Activation::relu);
  CHECK(std::string(yc.grad_fn()->name()) == "ActivationBackward");
  CHECK(bn.captured_output().to_vector<float>() != yc.to_vector<float>());  // negative values were kept
  bn.capture(false);
  // eval mode: running statistics, no counting
  bn.eval();
  const int64_t count = bn.num_batches_tracked.to_vector<int64_t>()[0];
  const Tensor ye = nn::batchnorm_act(bn, x, Activation::silu);
  const Tensor re = ops::silu(ops::batch_norm(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, false, 0.1, 1e-5));
  CHECK(same_bits(ye.to_vector<float>(), re.to_vector<float>()));
  CHECK(bn.num_batches_tracked.to_vector<int64_t>()[0] == count);
}

TEST_CASE("nn::Sequential fuses BatchNorm2d -> Act pairs; the Act still runs (trace, capture)") {
  FusionGuard guard;
  auto make = [] {
    auto s = std::make_shared<nn::Sequential>();
    s->add(std::make_shared<nn::Conv2d>(2, 4, 3, 1, 1, false));
    s->add(std::make_shared<nn::BatchNorm2d>(4));
    s->add(std::make_shared<nn::Act>(Activation::silu));
    return s;
  };
  auto s = make();
  const Tensor x = rand_t({3, 2, 6, 6}, 13, DType::f32, -1, 1, false);
  std::vector<Tensor> outs, grads;
  for (bool fused : {true, false}) {
    nn::set_fusion(fused);
    auto* act = dynamic_cast<nn::Act*>(s->children()[2].second.get());
    act->capture(true);
    std::vector<std::string> events;
    nn::set_forward_hook([&](const nn::ForwardEvent& e) {  // reported at the end of each call
      if (size_t(e.order) >= events.size()) events.resize(size_t(e.order) + 1);
      events[size_t(e.order)] = e.module->type_name();
    });
    s->zero_grad();
    const Tensor y = (*s)(x);
    nn::set_forward_hook(nullptr);
    CHECK(events == std::vector<std::string>{"Sequential", "Conv2d", "BatchNorm2d", "SiLU"});
    CHECK(same_bits(act->captured_output().to_vector<float>(), y.to_vector<float>()));
    y.backward(Tensor::ones(y.shape()));
    outs.push_back(y.detach());
    grads.push_back(s->named_parameters()[0].second.grad().clone());
    act->capture(false);
  }
  // without the capture tap the output's node shows the fused op (and the plain relu path otherwise)
  nn::set_fusion(true);
  CHECK(std::string((*s)(x).grad_fn()->name()) == "BatchNormActBackward");
  nn::set_fusion(false);
  CHECK(std::string((*s)(x).grad_fn()->name()) == "ActivationBackward");
  CHECK(same_bits(outs[0].to_vector<float>(), outs[1].to_vector<float>()));
  check_near("conv weight grad", grads[0].to_vector<float>(), grads[1].to_vector<float>(), 1e-5, 1e-4);
}

namespace {
// Forward and backward of `model` on one batch, fused and unfused, from the same weights and BN
// buffers: logits equal, parameter gradients and running statistics within 1e-5 relative.
void check_model_fusion(const std::string& name, const models::ModelConfig& cfg) {
  FusionGuard guard;
  const models::ModelSpec& spec = models::find_model(name);
  nn::ModulePtr m = models::build_model(name, cfg);
  m->train(true);
  for (auto& [path, mod] : m->named_modules())  // dropout off: its draws would differ between the runs
    if (mod->type_name() == "Dropout" || mod->type_name() == "DropPath") mod->eval();
  const Tensor x = rand_t({4, spec.input_channels, spec.input_size, spec.input_size}, 17, DType::f32, -1, 1, false);
  std::vector<Tensor> buffers0;
  for (auto& [k, b] : m->named_buffers()) buffers0.push_back(b.clone());
  struct Run {
    Tensor logits;
    std::vector<Tensor> grads, buffers;
  };
  std::vector<Run> runs;
  for (bool fused : {true, false}) {
    nn::set_fusion(fused);
    size_t i = 0;
    for (auto& [k, b] : m->named_buffers()) b.copy_from(buffers0[i++]);
    m->zero_grad();
    Run r;
    r.logits = (*m)(x);
    const Tensor w = rand_t(r.logits.shape(), 18, DType::f32, -1, 1, false);
    r.logits.backward(w);
    for (auto& [k, p] : m->named_parameters()) r.grads.push_back(p.grad().clone());
    for (auto& [k, b] : m->named_buffers()) r.buffers.push_back(b.clone());
    runs.push_back(r);
  }
  CHECK(same_bits(runs[0].logits.to_vector<float>(), runs[1].logits.to_vector<float>()));
  const auto params = m->named_parameters();
  REQUIRE(runs[0].grads.size() == params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto a = runs[0].grads[i].to_vector<float>(), b = runs[1].grads[i].to_vector<float>();
    double max_b = 0;
    for (float v : b) max_b = std::max(max_b, double(std::fabs(v)));
    // relative to the tensor's largest gradient: 1e-5 (float rounding of the recomputed z)
    check_near(name + " grad " + params[i].first, a, b, 1e-5 * max_b + 1e-9, 1e-5);
  }
  const auto bufs = m->named_buffers();
  for (size_t i = 0; i < bufs.size(); ++i) {
    if (bufs[i].second.dtype() != DType::f32) {
      CHECK(same_bits(runs[0].buffers[i].to_vector<int64_t>(), runs[1].buffers[i].to_vector<int64_t>()));
      CHECK(runs[0].buffers[i].to_vector<int64_t>()[0] == buffers0[i].to_vector<int64_t>()[0] + 1);
    } else {
      CHECK(same_bits(runs[0].buffers[i].to_vector<float>(), runs[1].buffers[i].to_vector<float>()));
    }
  }
}
}  // namespace

TEST_CASE("model fusion: cnn6 logits equal and gradients agree with fusion on and off") {
  check_model_fusion("cnn6", {7, 0.25, ""});
}

TEST_CASE("model fusion: resnet18 logits equal and gradients agree with fusion on and off") {
  check_model_fusion("resnet18", {7, 0.125, ""});
}
