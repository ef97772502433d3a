// CUDA vs CPU parity for the fused residual add + activation (kernels/add_act.h): odd sizes that
// straddle the block size and the float4 width, the vectorised path (16-byte aligned pointers) and
// the scalar path (every pointer offset by one float), with and without the kept sum. GPU outputs
// are pre-filled with NaN, CPU outputs with -7.77e7.
// Tolerances: relu exact (one IEEE add and a compare); the others atol 1e-6, rtol 1e-5 (the device's
// expf/erff differ from the host's by a few ulp), as in test_activation_gemm_parity.cpp.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kernels/add_act.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;

namespace {

// n floats starting `offset` floats into a NaN-filled device buffer.
struct Offset {
  test::DeviceArray buf;
  int64_t offset;
  Offset(int64_t n, int64_t off) : buf(static_cast<size_t>(n + off)), offset(off) {}
  Offset(const std::vector<float>& host, int64_t off) : buf(host.size() + off), offset(off) {
    cuda::memcpy_h2d(buf.get() + off, host.data(), host.size() * sizeof(float), cuda::default_stream());
  }
  float* get() { return buf.get() + offset; }
  std::vector<float> download() const {
    auto all = buf.download();
    return {all.begin() + offset, all.end()};
  }
};

}  // namespace

TEST_CASE("add_act cuda == cpu (forward, kept sum, backward; aligned and unaligned)") {
  for (Activation act : {Activation::relu, Activation::sigmoid, Activation::silu, Activation::gelu}) {
    const double atol = act == Activation::relu ? 0.0 : 1e-6, rtol = act == Activation::relu ? 0.0 : 1e-5;
    for (int64_t n : {1, 3, 5, 255, 257, 1023, 1025, 10007}) {
      for (int64_t off : {0, 1}) {
        for (bool keep : {false, true}) {
          const auto a = test::to_float(test::random_vector(n, 51, -3, 3));
          const auto b = test::to_float(test::random_vector(n, 52, -3, 3));
          const auto dy = test::to_float(test::random_vector(n, 53));
          auto y = test::cpu_output(n), s = test::cpu_output(n), g = test::cpu_output(n);
          const bool need = add_act_needs_sum(act);
          cpu::add_act_forward(act, n, a.data(), b.data(), y.data(), keep ? s.data() : nullptr);
          std::vector<float> s_exact(n);
          for (int64_t i = 0; i < n; ++i) s_exact[i] = a[i] + b[i];
          cpu::add_act_backward(act, n, need ? s_exact.data() : nullptr, y.data(), dy.data(), g.data());
          Offset ga(a, off), gb(b, off), gdy(dy, off), gy(n, off), gs(n, off), gg(n, off);
          cuda::add_act_forward(act, n, ga.get(), gb.get(), gy.get(), keep ? gs.get() : nullptr,
                                cuda::default_stream());
          // the backward reads the CPU's sum so that it is tested on its own
          Offset gsum(s_exact, off);
          cuda::add_act_backward(act, n, need ? gsum.get() : nullptr, gy.get(), gdy.get(), gg.get(),
                                 cuda::default_stream());
          const std::string name = std::string(activation_name(act)) + " n=" + std::to_string(n) +
                                   " offset=" + std::to_string(off) + (keep ? " keep-sum" : "");
          test::expect_close(name + " forward", gy.download(), y, atol, rtol);
          if (keep) test::expect_close(name + " sum", gs.download(), s, 0.0, 0.0);
          // g from the device's own y: compare with a tolerance for every activation
          test::expect_close(name + " backward", gg.download(), g, atol, rtol);
        }
      }
    }
  }
}

TEST_CASE("ops::add_act on CUDA tensors == CPU (values and both gradients)") {
  const Shape shape{3, 5, 7, 9};
  const int64_t n = 3 * 5 * 7 * 9;
  for (Activation act : {Activation::relu, Activation::silu}) {
    const auto av = test::to_float(test::random_vector(n, 61, -2, 2));
    const auto bv = test::to_float(test::random_vector(n, 62, -2, 2));
    const auto wv = test::to_float(test::random_vector(n, 63));
    Tensor a = Tensor::from_vector(av, shape).requires_grad_(), b = Tensor::from_vector(bv, shape).requires_grad_();
    Tensor ac = Tensor::from_vector(av, shape, Device::cuda).requires_grad_();
    Tensor bc = Tensor::from_vector(bv, shape, Device::cuda).requires_grad_();
    const Tensor y = ops::add_act(a, b, act), yc = ops::add_act(ac, bc, act);
    y.backward(Tensor::from_vector(wv, shape));
    yc.backward(Tensor::from_vector(wv, shape, Device::cuda));
    const double atol = act == Activation::relu ? 0.0 : 1e-6, rtol = act == Activation::relu ? 0.0 : 1e-5;
    const std::string name = std::string("ops::add_act ") + activation_name(act);
    test::expect_close(name + " y", yc.to(Device::cpu).to_vector<float>(), y.to_vector<float>(), atol, rtol);
    test::expect_close(name + " da", ac.grad().to(Device::cpu).to_vector<float>(), a.grad().to_vector<float>(), atol,
                       rtol);
    test::expect_close(name + " db", bc.grad().to(Device::cpu).to_vector<float>(), b.grad().to_vector<float>(), atol,
                       rtol);
  }
}
