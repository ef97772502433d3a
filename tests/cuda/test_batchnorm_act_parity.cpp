// CUDA vs CPU parity for batch norm fused with an activation (kernels/batchnorm_act.h), the
// ops::batch_norm_act op on CUDA tensors, and nn::batchnorm_act on a CUDA BatchNorm2d.
// GPU outputs are pre-filled with NaN (tests/support/parity.h), CPU outputs with -7.77e7, so an
// element that is never written fails. Shapes include sizes that are not multiples of the block
// sizes (512 threads per channel), C = 1 and [N, C].
// Tolerances as tests/cuda/test_norm_parity.cpp (float trees vs double accumulators):
//   y, dx, statistics, running stats   atol 1e-5, rtol 1e-4 (silu: the device's exp, a few ulp more)
//   dgamma, dbeta                      atol 1e-5 * sqrt(M), rtol 1e-4
//   GPU run to run                      bit-identical (fixed reduction trees, no atomics)
// relu's derivative jumps at z = 0, and CPU and GPU round z differently by ~1e-7: the cotangent is
// zeroed where |z| < 1e-3 (z computed on the host), so a mask flip at a tie cannot show up as a
// difference of a whole dy in dx, dgamma or dbeta.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/batchnorm_act.h"
#include "kernels/device.h"
#include "nn/layers.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;

namespace {

BatchNormDims bna_dims(int64_t n, int64_t c, int64_t h, int64_t w) {
  BatchNormDims d;
  d.n = n, d.c = c, d.h = h, d.w = w;
  return d;
}

std::string describe(const BatchNormDims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w);
}

std::vector<BatchNormDims> bna_configs() {
  return {
      bna_dims(3, 5, 7, 2),      // odd
      bna_dims(6, 4, 1, 1),      // [N, C]
      bna_dims(4, 1, 5, 3),      // one channel
      bna_dims(1, 2, 1, 2),      // M = 2
      bna_dims(2, 3, 33, 17),    // M = 1122: not a multiple of 512
      bna_dims(256, 600, 1, 1),  // many channels, [N, C]
      bna_dims(16, 64, 24, 24),  // FER-like stage (M = 9216)
      bna_dims(64, 8, 48, 48),   // large M = 147456
  };
}

double param_atol(int64_t m) {
  return 1e-5 * std::sqrt(double(m));
}

void expect_bitwise(const std::string& what, const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  size_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) bad += !(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])));
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << a.size() << " elements differ between two GPU runs");
}

// Zeroes dy where the pre-activation z = gamma (x - mean) invstd + beta is within 1e-3 of relu's kink.
void clear_ties(const BatchNormDims& d, const std::vector<float>& x, const float* gamma, const float* beta,
                const std::vector<float>& mean, const std::vector<float>& invstd, std::vector<float>& dy) {
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c)
      for (int64_t i = 0; i < d.hw(); ++i) {
        const size_t k = size_t((n * d.c + c) * d.hw() + i);
        const double z = (double(x[k]) - mean[size_t(c)]) * invstd[size_t(c)] * (gamma ? gamma[c] : 1.0) +
                         (beta ? beta[c] : 0.0);
        if (std::fabs(z) < 1e-3) dy[k] = 0.f;
      }
}

const Activation kActs[] = {Activation::relu, Activation::silu};

}  // namespace

TEST_CASE("batchnorm_act training cuda == cpu (forward, running stats, backward; relu, silu)") {
  cuda_stream s = cuda::default_stream();
  for (const BatchNormDims& d : bna_configs()) {
    for (Activation a : kActs) {
      for (bool affine : {true, false}) {
        const std::string name =
            std::string("batchnorm_act ") + activation_name(a) + " train " + describe(d) + (affine ? " affine" : "");
        CAPTURE(name);
        const size_t n = size_t(d.size()), c = size_t(d.c);
        const auto x = test::to_float(test::random_vector(n, 151, -2, 2));
        auto dy = test::to_float(test::random_vector(n, 152));
        const auto gamma = test::to_float(test::random_vector(c, 153, 0.5, 1.5));
        const auto beta = test::to_float(test::random_vector(c, 154));
        const auto rm0 = test::to_float(test::random_vector(c, 155)),
                   rv0 = test::to_float(test::random_vector(c, 156, 0.5, 2));
        const float* g = affine ? gamma.data() : nullptr;
        const float* b = affine ? beta.data() : nullptr;
        auto y = test::cpu_output(n), sm = test::cpu_output(c), si = test::cpu_output(c);
        auto rm = rm0, rv = rv0;
        cpu::batchnorm_act_forward_train<float>(d, a, x.data(), g, b, 1e-5, 0.1, rm.data(), rv.data(), y.data(),
                                                sm.data(), si.data());
        if (a == Activation::relu) clear_ties(d, x, g, b, sm, si, dy);
        auto dx = test::cpu_output(n), dg = test::cpu_output(c), db = test::cpu_output(c);
        cpu::batchnorm_act_backward_train<float>(d, a, x.data(), dy.data(), g, b, sm.data(), si.data(), dx.data(),
                                                 dg.data(), db.data());

        test::DeviceArray gx(x), gdy(dy), ggamma(gamma), gbeta(beta), grm(rm0), grv(rv0);
        test::DeviceArray gy(n), gsm(c), gsi(c), gdx(n), gdg(c), gdb(c);
        const float* gg = affine ? ggamma.get() : nullptr;
        const float* gb = affine ? gbeta.get() : nullptr;
        cuda::batchnorm_act_forward_train(d, a, gx.get(), gg, gb, 1e-5, 0.1, grm.get(), grv.get(), gy.get(),
                                          gsm.get(), gsi.get(), s);
        cuda::batchnorm_act_backward_train(d, a, gx.get(), gdy.get(), gg, gb, gsm.get(), gsi.get(), gdx.get(),
                                           gdg.get(), gdb.get(), s);
        test::expect_close(name + " y", gy.download(), y, 1e-5, 1e-4);
        test::expect_close(name + " save_mean", gsm.download(), sm, 1e-5, 1e-4);
        test::expect_close(name + " save_invstd", gsi.download(), si, 1e-5, 1e-4);
        test::expect_close(name + " running_mean", grm.download(), rm, 1e-5, 1e-4);
        test::expect_close(name + " running_var", grv.download(), rv, 1e-5, 1e-4);
        test::expect_close(name + " dx", gdx.download(), dx, 1e-5, 1e-4);
        test::expect_close(name + " dgamma", gdg.download(), dg, param_atol(d.m()), 1e-4);
        test::expect_close(name + " dbeta", gdb.download(), db, param_atol(d.m()), 1e-4);

        // run to run: the same bits; no running stats; dx alone, then the parameter sums alone
        test::DeviceArray gy2(n), gsm2(c), gsi2(c), gdx2(n), gdg2(c), gdb2(c);
        cuda::batchnorm_act_forward_train(d, a, gx.get(), gg, gb, 1e-5, 0.1, nullptr, nullptr, gy2.get(), gsm2.get(),
                                          gsi2.get(), s);
        cuda::batchnorm_act_backward_train(d, a, gx.get(), gdy.get(), gg, gb, gsm2.get(), gsi2.get(), gdx2.get(),
                                           nullptr, nullptr, s);
        cuda::batchnorm_act_backward_train(d, a, gx.get(), gdy.get(), gg, gb, gsm2.get(), gsi2.get(), nullptr,
                                           gdg2.get(), gdb2.get(), s);
        expect_bitwise(name + " y", gy2.download(), gy.download());
        expect_bitwise(name + " dx", gdx2.download(), gdx.download());
        expect_bitwise(name + " dgamma", gdg2.download(), gdg.download());
        expect_bitwise(name + " dbeta", gdb2.download(), gdb.download());
      }
    }
  }
}

TEST_CASE("batchnorm_act eval cuda == cpu (forward, backward; relu, silu)") {
  cuda_stream s = cuda::default_stream();
  std::vector<BatchNormDims> configs = bna_configs();
  configs.push_back(bna_dims(1, 3, 1, 1));  // one value per channel is fine in eval mode
  for (const BatchNormDims& d : configs) {
    for (Activation a : kActs) {
      for (bool affine : {true, false}) {
        const std::string name =
            std::string("batchnorm_act ") + activation_name(a) + " eval " + describe(d) + (affine ? " affine" : "");
        CAPTURE(name);
        const size_t n = size_t(d.size()), c = size_t(d.c);
        const auto x = test::to_float(test::random_vector(n, 161, -2, 2));
        auto dy = test::to_float(test::random_vector(n, 162));
        const auto gamma = test::to_float(test::random_vector(c, 163, 0.5, 1.5));
        const auto beta = test::to_float(test::random_vector(c, 164));
        const auto rm = test::to_float(test::random_vector(c, 165)),
                   rv = test::to_float(test::random_vector(c, 166, 0.5, 2));
        const float* g = affine ? gamma.data() : nullptr;
        const float* b = affine ? beta.data() : nullptr;
        if (a == Activation::relu) {
          std::vector<float> rinv(c);
          for (size_t k = 0; k < c; ++k) rinv[k] = float(1.0 / std::sqrt(double(rv[k]) + 1e-5));
          clear_ties(d, x, g, b, rm, rinv, dy);
        }
        auto y = test::cpu_output(n), dx = test::cpu_output(n), dg = test::cpu_output(c), db = test::cpu_output(c);
        cpu::batchnorm_act_forward_eval<float>(d, a, x.data(), g, b, rm.data(), rv.data(), 1e-5, y.data());
        cpu::batchnorm_act_backward_eval<float>(d, a, x.data(), dy.data(), g, b, rm.data(), rv.data(), 1e-5,
                                                dx.data(), dg.data(), db.data());
        test::DeviceArray gx(x), gdy(dy), ggamma(gamma), gbeta(beta), grm(rm), grv(rv);
        test::DeviceArray gy(n), gdx(n), gdg(c), gdb(c), gdx2(n);
        const float* gg = affine ? ggamma.get() : nullptr;
        const float* gb = affine ? gbeta.get() : nullptr;
        cuda::batchnorm_act_forward_eval(d, a, gx.get(), gg, gb, grm.get(), grv.get(), 1e-5, gy.get(), s);
        cuda::batchnorm_act_backward_eval(d, a, gx.get(), gdy.get(), gg, gb, grm.get(), grv.get(), 1e-5, gdx.get(),
                                          gdg.get(), gdb.get(), s);
        test::expect_close(name + " y", gy.download(), y, 1e-5, 1e-4);
        test::expect_close(name + " dx", gdx.download(), dx, 1e-5, 1e-4);
        test::expect_close(name + " dgamma", gdg.download(), dg, param_atol(d.m()), 1e-4);
        test::expect_close(name + " dbeta", gdb.download(), db, param_atol(d.m()), 1e-4);
        // dx alone (no parameter sums) gives the same bits
        cuda::batchnorm_act_backward_eval(d, a, gx.get(), gdy.get(), gg, gb, grm.get(), grv.get(), 1e-5, gdx2.get(),
                                          nullptr, nullptr, s);
        expect_bitwise(name + " dx", gdx2.download(), gdx.download());
        expect_bitwise(name + " running_var untouched", grv.download(), rv);
      }
    }
  }
}

TEST_CASE("batchnorm_act cuda checks its arguments like the CPU twin") {
  test::DeviceArray buf(64);
  CHECK_THROWS_WITH_AS(cuda::batchnorm_act_forward_train(bna_dims(1, 4, 1, 1), Activation::relu, buf.get(), nullptr,
                                                         nullptr, 1e-5, 0.1, nullptr, nullptr, buf.get(), buf.get(),
                                                         buf.get(), cuda::default_stream()),
                       doctest::Contains("more than 1 value per channel when training"), Error);
}

TEST_CASE("batch_norm_act op on CUDA tensors == CPU tensors (values, grads, running stats)") {
  Generator gen(181);
  Tensor x = Tensor::empty({5, 6, 9, 7});
  uniform_(x, -2, 2, gen);
  Tensor gamma = Tensor::empty({6}), beta = Tensor::empty({6});
  uniform_(gamma, 0.5, 1.5, gen);
  uniform_(beta, -1, 1, gen);
  Tensor w = Tensor::empty(x.shape());  // cotangent (silu is smooth: no ties to clear)
  uniform_(w, -1, 1, gen);
  for (bool training : {true, false}) {
    CAPTURE(training);
    Tensor xc = x.clone().requires_grad_(), gc = gamma.clone().requires_grad_(), bc = beta.clone().requires_grad_();
    Tensor xg = x.to(Device::cuda).requires_grad_(), gg = gamma.to(Device::cuda).requires_grad_(),
           bg = beta.to(Device::cuda).requires_grad_();
    Tensor rmc = Tensor::zeros({6}), rvc = Tensor::ones({6});
    Tensor rmg = rmc.to(Device::cuda), rvg = rvc.to(Device::cuda);
    Tensor yc = ops::batch_norm_act(xc, gc, bc, rmc, rvc, training, 0.1, 1e-5, Activation::silu);
    Tensor yg = ops::batch_norm_act(xg, gg, bg, rmg, rvg, training, 0.1, 1e-5, Activation::silu);
    yc.backward(w);
    yg.backward(w.to(Device::cuda));
    test::expect_close("op y", yg.to_vector<float>(), yc.to_vector<float>(), 1e-5, 1e-4);
    test::expect_close("op running_mean", rmg.to_vector<float>(), rmc.to_vector<float>(), 1e-5, 1e-4);
    test::expect_close("op running_var", rvg.to_vector<float>(), rvc.to_vector<float>(), 1e-5, 1e-4);
    test::expect_close("op dx", xg.grad().to_vector<float>(), xc.grad().to_vector<float>(), 1e-5, 1e-4);
    test::expect_close("op dgamma", gg.grad().to_vector<float>(), gc.grad().to_vector<float>(), param_atol(315), 1e-4);
    test::expect_close("op dbeta", bg.grad().to_vector<float>(), bc.grad().to_vector<float>(), param_atol(315), 1e-4);
  }
}

TEST_CASE("nn::batchnorm_act on a CUDA BatchNorm2d: fused == unfused, one count per call") {
  const bool saved = nn::fusion_enabled();
  nn::BatchNorm2d bn(4);
  bn.to(Device::cuda);
  Generator gen(191);
  Tensor x = Tensor::empty({3, 4, 5, 6});
  uniform_(x, -1, 2, gen);
  const Tensor xg = x.to(Device::cuda);
  std::vector<std::vector<float>> outs;
  for (bool fused : {true, false}) {
    nn::set_fusion(fused);
    const Tensor y = nn::batchnorm_act(bn, xg, Activation::relu);
    CHECK(y.is_cuda());
    outs.push_back(y.to_vector<float>());
  }
  nn::set_fusion(saved);
  CHECK(bn.num_batches_tracked.to(Device::cpu).to_vector<int64_t>()[0] == 2);
  // the GPU fused and unfused forwards evaluate the same float expression
  test::expect_close("module y", outs[0], outs[1], 1e-6, 1e-6);
}
