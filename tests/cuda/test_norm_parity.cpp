// CUDA vs CPU parity for batch norm and layer norm (kernels/batchnorm.h, kernels/layernorm.h), the
// tensor ops on CUDA tensors, and BatchNorm2d's batch counter on CUDA.
// GPU outputs are pre-filled with NaN (tests/support/parity.h), CPU outputs with -7.77e7, so an
// element that is never written fails. Shapes include sizes that are not multiples of the block
// sizes (512 threads per channel, 256 per row, 32-column tiles).
// Tolerances (GPU float partial sums in a tree vs CPU double accumulators; inputs in [-2, 2]):
//   y, dx, save_mean, save_invstd, running stats   atol 1e-5, rtol 1e-4 (|x_hat| <= ~4; float
//                                                   statistics are good to ~1e-6 relative)
//   dgamma, dbeta (sums of M values of |.| <= ~4)  atol 1e-5 * sqrt(M), rtol 1e-4 (float rounding of a
//                                                   long sum grows like sqrt(M) ulps of the terms)
//   GPU run to run                                  bit-identical (fixed reduction trees, no atomics)
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/device.h"
#include "kernels/layernorm.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;

namespace {

BatchNormDims bn_dims(int64_t n, int64_t c, int64_t h, int64_t w) {
  BatchNormDims d;
  d.n = n, d.c = c, d.h = h, d.w = w;
  return d;
}

std::string describe(const BatchNormDims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w);
}

std::vector<BatchNormDims> bn_configs() {
  return {
      bn_dims(3, 5, 7, 2),      // odd
      bn_dims(6, 4, 1, 1),      // [N, C]
      bn_dims(1, 2, 1, 2),      // M = 2
      bn_dims(2, 3, 33, 17),    // M = 1122: not a multiple of 512
      bn_dims(256, 600, 1, 1),  // many channels, [N, C]
      bn_dims(16, 64, 24, 24),  // FER-like stage (M = 9216)
      bn_dims(64, 8, 48, 48),   // large M = 147456
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

}  // namespace

TEST_CASE("batchnorm training cuda == cpu (forward, running stats, backward)") {
  cuda_stream s = cuda::default_stream();
  for (const BatchNormDims& d : bn_configs()) {
    for (bool affine : {true, false}) {
      const std::string name = "batchnorm train " + describe(d) + (affine ? " affine" : " plain");
      CAPTURE(name);
      const size_t n = size_t(d.size()), c = size_t(d.c);
      const auto x = test::to_float(test::random_vector(n, 51, -2, 2));
      const auto dy = test::to_float(test::random_vector(n, 52));
      const auto gamma = test::to_float(test::random_vector(c, 53, 0.5, 1.5));
      const auto beta = test::to_float(test::random_vector(c, 54));
      const auto rm0 = test::to_float(test::random_vector(c, 55)),
                 rv0 = test::to_float(test::random_vector(c, 56, 0.5, 2));
      auto y = test::cpu_output(n), sm = test::cpu_output(c), si = test::cpu_output(c);
      auto dx = test::cpu_output(n), dg = test::cpu_output(c), db = test::cpu_output(c);
      auto rm = rm0, rv = rv0;
      const float* g = affine ? gamma.data() : nullptr;
      const float* b = affine ? beta.data() : nullptr;
      cpu::batchnorm2d_forward_train<float>(d, x.data(), g, b, 1e-5, 0.1, rm.data(), rv.data(), y.data(), sm.data(),
                                            si.data());
      cpu::batchnorm2d_backward_train<float>(d, x.data(), dy.data(), g, sm.data(), si.data(), dx.data(), dg.data(),
                                             db.data());

      test::DeviceArray gx(x), gdy(dy), ggamma(gamma), gbeta(beta), grm(rm0), grv(rv0);
      test::DeviceArray gy(n), gsm(c), gsi(c), gdx(n), gdg(c), gdb(c);
      const float* gg = affine ? ggamma.get() : nullptr;
      const float* gb = affine ? gbeta.get() : nullptr;
      cuda::batchnorm2d_forward_train(d, gx.get(), gg, gb, 1e-5, 0.1, grm.get(), grv.get(), gy.get(), gsm.get(),
                                      gsi.get(), s);
      cuda::batchnorm2d_backward_train(d, gx.get(), gdy.get(), gg, gsm.get(), gsi.get(), gdx.get(), gdg.get(),
                                       gdb.get(), s);
      test::expect_close(name + " y", gy.download(), y, 1e-5, 1e-4);
      test::expect_close(name + " save_mean", gsm.download(), sm, 1e-5, 1e-4);
      test::expect_close(name + " save_invstd", gsi.download(), si, 1e-5, 1e-4);
      test::expect_close(name + " running_mean", grm.download(), rm, 1e-5, 1e-4);
      test::expect_close(name + " running_var", grv.download(), rv, 1e-5, 1e-4);
      test::expect_close(name + " dx", gdx.download(), dx, 1e-5, 1e-4);
      test::expect_close(name + " dgamma", gdg.download(), dg, param_atol(d.m()), 1e-4);
      test::expect_close(name + " dbeta", gdb.download(), db, param_atol(d.m()), 1e-4);

      // run to run: the same bits (fresh outputs, same inputs); no running stats, dx only
      test::DeviceArray gy2(n), gsm2(c), gsi2(c), gdx2(n);
      cuda::batchnorm2d_forward_train(d, gx.get(), gg, gb, 1e-5, 0.1, nullptr, nullptr, gy2.get(), gsm2.get(),
                                      gsi2.get(), s);
      cuda::batchnorm2d_backward_train(d, gx.get(), gdy.get(), gg, gsm2.get(), gsi2.get(), gdx2.get(), nullptr, nullptr,
                                       s);
      expect_bitwise(name + " y", gy2.download(), gy.download());
      expect_bitwise(name + " dx", gdx2.download(), gdx.download());
    }
  }
}

TEST_CASE("batchnorm eval cuda == cpu (forward, backward)") {
  cuda_stream s = cuda::default_stream();
  std::vector<BatchNormDims> configs = bn_configs();
  configs.push_back(bn_dims(1, 3, 1, 1));  // one value per channel is fine in eval mode
  for (const BatchNormDims& d : configs) {
    for (bool affine : {true, false}) {
      const std::string name = "batchnorm eval " + describe(d) + (affine ? " affine" : " plain");
      CAPTURE(name);
      const size_t n = size_t(d.size()), c = size_t(d.c);
      const auto x = test::to_float(test::random_vector(n, 61, -2, 2));
      const auto dy = test::to_float(test::random_vector(n, 62));
      const auto gamma = test::to_float(test::random_vector(c, 63, 0.5, 1.5));
      const auto beta = test::to_float(test::random_vector(c, 64));
      const auto rm = test::to_float(test::random_vector(c, 65)),
                 rv = test::to_float(test::random_vector(c, 66, 0.5, 2));
      auto y = test::cpu_output(n), dx = test::cpu_output(n), dg = test::cpu_output(c), db = test::cpu_output(c);
      const float* g = affine ? gamma.data() : nullptr;
      const float* b = affine ? beta.data() : nullptr;
      cpu::batchnorm2d_forward_eval<float>(d, x.data(), g, b, rm.data(), rv.data(), 1e-5, y.data());
      cpu::batchnorm2d_backward_eval<float>(d, x.data(), dy.data(), g, rm.data(), rv.data(), 1e-5, dx.data(), dg.data(),
                                            db.data());
      test::DeviceArray gx(x), gdy(dy), ggamma(gamma), gbeta(beta), grm(rm), grv(rv);
      test::DeviceArray gy(n), gdx(n), gdg(c), gdb(c);
      const float* gg = affine ? ggamma.get() : nullptr;
      const float* gb = affine ? gbeta.get() : nullptr;
      cuda::batchnorm2d_forward_eval(d, gx.get(), gg, gb, grm.get(), grv.get(), 1e-5, gy.get(), s);
      cuda::batchnorm2d_backward_eval(d, gx.get(), gdy.get(), gg, grm.get(), grv.get(), 1e-5, gdx.get(), gdg.get(),
                                      gdb.get(), s);
      test::expect_close(name + " y", gy.download(), y, 1e-5, 1e-4);
      test::expect_close(name + " dx", gdx.download(), dx, 1e-5, 1e-4);
      test::expect_close(name + " dgamma", gdg.download(), dg, param_atol(d.m()), 1e-4);
      test::expect_close(name + " dbeta", gdb.download(), db, param_atol(d.m()), 1e-4);
      // the running stats are inputs only in eval mode
      expect_bitwise(name + " running_var untouched", grv.download(), rv);
    }
  }
}

TEST_CASE("batchnorm cuda checks its arguments like the CPU twin") {
  test::DeviceArray buf(64);
  CHECK_THROWS_WITH_AS(
      cuda::batchnorm2d_forward_train(bn_dims(1, 4, 1, 1), buf.get(), nullptr, nullptr, 1e-5, 0.1, nullptr, nullptr,
                                      buf.get(), buf.get(), buf.get(), cuda::default_stream()),
      doctest::Contains("more than 1 value per channel when training"), Error);
  // a non-finite eps, refused before any launch as on the CPU
  test::DeviceArray x(2 * 4 * 3 * 3), y(2 * 4 * 3 * 3), stats(4);
  CHECK_THROWS_WITH_AS(cuda::batchnorm2d_forward_train(bn_dims(2, 4, 3, 3), x.get(), nullptr, nullptr,
                                                       std::numeric_limits<double>::infinity(), 0.1, nullptr, nullptr,
                                                       y.get(), stats.get(), stats.get(), cuda::default_stream()),
                       doctest::Contains("eps must be finite"), Error);
}

TEST_CASE("layernorm cuda == cpu (forward, dx, dgamma, dbeta)") {
  cuda_stream s = cuda::default_stream();
  const int64_t shapes[][2] = {{7, 13}, {1, 5}, {4, 1}, {3, 70}, {1000, 192}, {65, 1031}, {3000, 64}, {2, 4097}};
  for (auto& sh : shapes) {
    LayerNormDims d;
    d.rows = sh[0], d.dim = sh[1];
    for (bool affine : {true, false}) {
      const std::string name =
          "layernorm " + std::to_string(d.rows) + "x" + std::to_string(d.dim) + (affine ? " affine" : " plain");
      CAPTURE(name);
      const size_t n = size_t(d.rows * d.dim), r = size_t(d.rows), D = size_t(d.dim);
      const auto x = test::to_float(test::random_vector(n, 71, -2, 2));
      const auto dy = test::to_float(test::random_vector(n, 72));
      const auto gamma = test::to_float(test::random_vector(D, 73, 0.5, 1.5));
      const auto beta = test::to_float(test::random_vector(D, 74));
      auto y = test::cpu_output(n), sm = test::cpu_output(r), si = test::cpu_output(r);
      auto dx = test::cpu_output(n), dg = test::cpu_output(D), db = test::cpu_output(D);
      const float* g = affine ? gamma.data() : nullptr;
      const float* b = affine ? beta.data() : nullptr;
      cpu::layernorm_forward<float>(d, x.data(), g, b, 1e-5, y.data(), sm.data(), si.data());
      cpu::layernorm_backward<float>(d, x.data(), dy.data(), g, sm.data(), si.data(), dx.data(), dg.data(), db.data());
      test::DeviceArray gx(x), gdy(dy), ggamma(gamma), gbeta(beta);
      test::DeviceArray gy(n), gsm(r), gsi(r), gdx(n), gdg(D), gdb(D);
      const float* gg = affine ? ggamma.get() : nullptr;
      const float* gb = affine ? gbeta.get() : nullptr;
      cuda::layernorm_forward(d, gx.get(), gg, gb, 1e-5, gy.get(), gsm.get(), gsi.get(), s);
      cuda::layernorm_backward(d, gx.get(), gdy.get(), gg, gsm.get(), gsi.get(), gdx.get(), gdg.get(), gdb.get(), s);
      test::expect_close(name + " y", gy.download(), y, 1e-5, 1e-4);
      test::expect_close(name + " save_mean", gsm.download(), sm, 1e-5, 1e-4);
      // dim 1: invstd = 1/sqrt(eps) ~ 316 on both sides
      test::expect_close(name + " save_invstd", gsi.download(), si, 1e-5, 1e-4);
      test::expect_close(name + " dx", gdx.download(), dx, 1e-5, 1e-4);
      test::expect_close(name + " dgamma", gdg.download(), dg, param_atol(d.rows), 1e-4);
      test::expect_close(name + " dbeta", gdb.download(), db, param_atol(d.rows), 1e-4);
      // run to run
      test::DeviceArray gdg2(D);
      cuda::layernorm_backward(d, gx.get(), gdy.get(), gg, gsm.get(), gsi.get(), nullptr, gdg2.get(), nullptr, s);
      expect_bitwise(name + " dgamma", gdg2.download(), gdg.download());
    }
  }
}

TEST_CASE("batch_norm / layer_norm ops on CUDA tensors == CPU tensors (values, grads, running stats)") {
  Generator gen(81);
  Tensor x = Tensor::empty({5, 6, 9, 7});
  uniform_(x, -2, 2, gen);
  Tensor gamma = Tensor::empty({6}), beta = Tensor::empty({6});
  uniform_(gamma, 0.5, 1.5, gen);
  uniform_(beta, -1, 1, gen);
  Tensor w = Tensor::empty(x.shape());  // cotangent
  uniform_(w, -1, 1, gen);
  for (bool training : {true, false}) {
    CAPTURE(training);
    Tensor xc = x.clone().requires_grad_(), gc = gamma.clone().requires_grad_(), bc = beta.clone().requires_grad_();
    Tensor xg = x.to(Device::cuda).requires_grad_(), gg = gamma.to(Device::cuda).requires_grad_(),
           bg = beta.to(Device::cuda).requires_grad_();
    Tensor rmc = Tensor::zeros({6}), rvc = Tensor::ones({6});
    Tensor rmg = rmc.to(Device::cuda), rvg = rvc.to(Device::cuda);
    Tensor yc = ops::batch_norm(xc, gc, bc, rmc, rvc, training, 0.1, 1e-5);
    Tensor yg = ops::batch_norm(xg, gg, bg, rmg, rvg, training, 0.1, 1e-5);
    yc.backward(w);
    yg.backward(w.to(Device::cuda));
    test::expect_close("op y", yg.to_vector<float>(), yc.to_vector<float>(), 1e-5, 1e-4);
    test::expect_close("op running_mean", rmg.to_vector<float>(), rmc.to_vector<float>(), 1e-5, 1e-4);
    test::expect_close("op running_var", rvg.to_vector<float>(), rvc.to_vector<float>(), 1e-5, 1e-4);
    test::expect_close("op dx", xg.grad().to_vector<float>(), xc.grad().to_vector<float>(), 1e-5, 1e-4);
    test::expect_close("op dgamma", gg.grad().to_vector<float>(), gc.grad().to_vector<float>(), param_atol(315), 1e-4);
    test::expect_close("op dbeta", bg.grad().to_vector<float>(), bc.grad().to_vector<float>(), param_atol(315), 1e-4);
  }
  // layer norm over the last dim of [5, 6, 9, 7]
  Tensor gl = Tensor::empty({7}), bl = Tensor::empty({7});
  uniform_(gl, 0.5, 1.5, gen);
  uniform_(bl, -1, 1, gen);
  Tensor xc = x.clone().requires_grad_(), gc = gl.clone().requires_grad_();
  Tensor xg = x.to(Device::cuda).requires_grad_(), gg = gl.to(Device::cuda).requires_grad_();
  Tensor yc = ops::layer_norm(xc, gc, bl, 1e-5), yg = ops::layer_norm(xg, gg, bl.to(Device::cuda), 1e-5);
  yc.backward(w);
  yg.backward(w.to(Device::cuda));
  test::expect_close("layer_norm y", yg.to_vector<float>(), yc.to_vector<float>(), 1e-5, 1e-4);
  test::expect_close("layer_norm dx", xg.grad().to_vector<float>(), xc.grad().to_vector<float>(), 1e-5, 1e-4);
  test::expect_close("layer_norm dgamma", gg.grad().to_vector<float>(), gc.grad().to_vector<float>(), param_atol(270),
                     1e-4);
}

// The BatchNorm2d module on CUDA (nn/layers.cpp).
#include "nn/layers.h"

TEST_CASE("BatchNorm2d on CUDA counts batches and matches the CPU module") {
  nn::BatchNorm2d cpu_bn(4), gpu_bn(4);
  gpu_bn.to(Device::cuda);
  Generator gen(91);
  Tensor x = Tensor::empty({3, 4, 5, 6});
  uniform_(x, 0, 2, gen);
  for (int step = 1; step <= 3; ++step) {
    cpu_bn(x);
    gpu_bn(x.to(Device::cuda));
    CHECK(gpu_bn.num_batches_tracked.is_cuda());
    CHECK(gpu_bn.num_batches_tracked.item() == step);
    CHECK(cpu_bn.num_batches_tracked.item() == step);
  }
  test::expect_close("module running_var", gpu_bn.running_var.to_vector<float>(), cpu_bn.running_var.to_vector<float>(),
                     1e-5, 1e-4);
  gpu_bn.eval();
  cpu_bn.eval();
  test::expect_close("module eval y", gpu_bn(x.to(Device::cuda)).to_vector<float>(), cpu_bn(x).to_vector<float>(), 1e-5,
                     1e-4);
  CHECK(gpu_bn.num_batches_tracked.item() == 3);
}
