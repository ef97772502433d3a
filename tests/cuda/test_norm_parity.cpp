// CUDA vs CPU parity for batch normalisation (training and eval, forward and backward) and layer
// normalisation. GPU outputs are pre-filled with NaN so an unwritten element fails. Both backends
// accumulate statistics in double; the tolerance (atol 1e-5, rtol 1e-4) covers the float rounding
// of inputs/outputs and the different summation order (tree vs sequential).
#include <doctest/doctest.h>

#include "kernels/batchnorm.h"
#include "kernels/device.h"
#include "kernels/layernorm.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;
using fer::test::DeviceArray;

namespace {
std::vector<float> rnd(size_t n, uint32_t seed, double lo = -1, double hi = 1) {
  return fer::test::to_float(fer::test::random_vector(n, seed, lo, hi));
}
}  // namespace

TEST_CASE("batchnorm CUDA == CPU: training and eval, forward and backward, odd shapes") {
  for (const BatchNormDims d : {BatchNormDims{3, 5, 7, 2}, BatchNormDims{2, 3, 1, 1}, BatchNormDims{5, 17, 13, 11},
                                BatchNormDims{64, 16, 46, 46}}) {
    CAPTURE(d.n);
    CAPTURE(d.c);
    const size_t n = static_cast<size_t>(d.n * d.c * d.h * d.w), c = static_cast<size_t>(d.c);
    const auto x = rnd(n, 1, -2, 3), dy = rnd(n, 2), g = rnd(c, 3, 0.5, 1.5), b = rnd(c, 4);
    auto rm = rnd(c, 5), rv = rnd(c, 6, 0.5, 2.0);
    DeviceArray dx_(x), ddy(dy), dg(g), db(b), drm(rm), drv(rv);
    // training forward
    DeviceArray y(n), sm(c), si(c);
    cuda::batchnorm2d_forward_train(d, dx_.get(), dg.get(), db.get(), 1e-5, 0.1, drm.get(), drv.get(), y.get(), sm.get(),
                                    si.get(), cuda::default_stream());
    auto cy = fer::test::cpu_output(n), csm = fer::test::cpu_output(c), csi = fer::test::cpu_output(c);
    auto crm = rm, crv = rv;
    cpu::batchnorm2d_forward_train<float>(d, x.data(), g.data(), b.data(), 1e-5, 0.1, crm.data(), crv.data(),
                                          cy.data(), csm.data(), csi.data());
    fer::test::expect_close("bn train y", y.download(), cy, 1e-5, 1e-4);
    fer::test::expect_close("bn save_mean", sm.download(), csm, 1e-6, 1e-5);
    fer::test::expect_close("bn save_invstd", si.download(), csi, 1e-6, 1e-5);
    fer::test::expect_close("bn running_mean", drm.download(), crm, 1e-6, 1e-5);
    fer::test::expect_close("bn running_var", drv.download(), crv, 1e-6, 1e-5);
    // training backward
    DeviceArray gx(n), gg(c), gb(c);
    cuda::batchnorm2d_backward_train(d, dx_.get(), ddy.get(), dg.get(), sm.get(), si.get(), gx.get(), gg.get(), gb.get(),
                                     cuda::default_stream());
    auto cgx = fer::test::cpu_output(n), cgg = fer::test::cpu_output(c), cgb = fer::test::cpu_output(c);
    cpu::batchnorm2d_backward_train<float>(d, x.data(), dy.data(), g.data(), csm.data(), csi.data(), cgx.data(),
                                           cgg.data(), cgb.data());
    fer::test::expect_close("bn train dx", gx.download(), cgx, 1e-5, 1e-4);
    fer::test::expect_close("bn train dgamma", gg.download(), cgg, 1e-4, 1e-4);
    fer::test::expect_close("bn train dbeta", gb.download(), cgb, 1e-4, 1e-4);
    // eval forward and backward
    DeviceArray ye(n), gxe(n), gge(c), gbe(c);
    cuda::batchnorm2d_forward_eval(d, dx_.get(), dg.get(), db.get(), drm.get(), drv.get(), 1e-5, ye.get(),
                                   cuda::default_stream());
    auto cye = fer::test::cpu_output(n);
    cpu::batchnorm2d_forward_eval<float>(d, x.data(), g.data(), b.data(), crm.data(), crv.data(), 1e-5, cye.data());
    fer::test::expect_close("bn eval y", ye.download(), cye, 1e-5, 1e-4);
    cuda::batchnorm2d_backward_eval(d, dx_.get(), ddy.get(), dg.get(), drm.get(), drv.get(), 1e-5, gxe.get(), gge.get(),
                                    gbe.get(), cuda::default_stream());
    auto cgxe = fer::test::cpu_output(n), cgge = fer::test::cpu_output(c), cgbe = fer::test::cpu_output(c);
    cpu::batchnorm2d_backward_eval<float>(d, x.data(), dy.data(), g.data(), crm.data(), crv.data(), 1e-5, cgxe.data(),
                                          cgge.data(), cgbe.data());
    fer::test::expect_close("bn eval dx", gxe.download(), cgxe, 1e-5, 1e-4);
    fer::test::expect_close("bn eval dgamma", gge.download(), cgge, 1e-4, 1e-4);
    fer::test::expect_close("bn eval dbeta", gbe.download(), cgbe, 1e-4, 1e-4);
  }
}

TEST_CASE("layernorm CUDA == CPU: forward and backward, odd shapes") {
  for (const LayerNormDims d : {LayerNormDims{7, 5}, LayerNormDims{3, 769}, LayerNormDims{197 * 2, 192}}) {
    const size_t n = static_cast<size_t>(d.rows * d.dim), r = static_cast<size_t>(d.rows), k = static_cast<size_t>(d.dim);
    const auto x = rnd(n, 7, -2, 2), dy = rnd(n, 8), g = rnd(k, 9, 0.5, 1.5), b = rnd(k, 10);
    DeviceArray dx_(x), ddy(dy), dg(g), db(b), y(n), sm(r), si(r), gx(n), gg(k), gb(k);
    cuda::layernorm_forward(d, dx_.get(), dg.get(), db.get(), 1e-5, y.get(), sm.get(), si.get(), cuda::default_stream());
    cuda::layernorm_backward(d, dx_.get(), ddy.get(), dg.get(), sm.get(), si.get(), gx.get(), gg.get(), gb.get(),
                             cuda::default_stream());
    auto cy = fer::test::cpu_output(n), csm = fer::test::cpu_output(r), csi = fer::test::cpu_output(r);
    auto cgx = fer::test::cpu_output(n), cgg = fer::test::cpu_output(k), cgb = fer::test::cpu_output(k);
    cpu::layernorm_forward<float>(d, x.data(), g.data(), b.data(), 1e-5, cy.data(), csm.data(), csi.data());
    cpu::layernorm_backward<float>(d, x.data(), dy.data(), g.data(), csm.data(), csi.data(), cgx.data(), cgg.data(),
                                   cgb.data());
    fer::test::expect_close("ln y", y.download(), cy, 1e-5, 1e-4);
    fer::test::expect_close("ln dx", gx.download(), cgx, 1e-5, 1e-4);
    fer::test::expect_close("ln dgamma", gg.download(), cgg, 1e-4, 1e-4);
    fer::test::expect_close("ln dbeta", gb.download(), cgb, 1e-4, 1e-4);
  }
}
