// kernels/conv2d_cudnn.h (the cuDNN baseline) against the CPU twin and the native CUDA kernels, and
// --conv-impl cudnn (ops::set_conv_impl) inside a whole model. Odd shapes: stride 2, padding,
// groups 2, depthwise, 1x1, non-square kernel and stride, padding > kernel/2, a ResNet stem.
// cuDNN runs with TF32 off (CUDNN_FMA_MATH), so the tolerance is the fp32 one of
// test_conv2d_parity.cpp (atol 1e-6 + 4e-7 * terms per output, rtol 1e-5); both algorithm searches.
// Outputs are pre-filled with NaN (DeviceArray), so an unwritten element fails.
// Without cuDNN in the build the cases say so (MESSAGE) and check only that the entry points and
// set_conv_impl(cudnn) throw a clear fer::Error.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "fer/config.h"
#include "kernels/conv2d.h"
#include "kernels/conv2d_cudnn.h"
#include "kernels/device.h"
#include "models/registry.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tests/support/gradcheck.h"
#include "tests/support/parity.h"

using namespace fer;

namespace {

std::string describe_dims(const Conv2dDims& d) {
  std::ostringstream s;
  s << d.n << "x" << d.c_in << "x" << d.h_in << "x" << d.w_in << " -> " << d.c_out << " k" << d.kernel_h << "x"
    << d.kernel_w << " s" << d.stride_h << "x" << d.stride_w << " p" << d.pad_h << "x" << d.pad_w << " g" << d.groups;
  return s.str();
}

double atol_for(int64_t terms) { return 1e-6 + 4e-7 * double(terms); }
constexpr double kRtol = 1e-5;

std::vector<Conv2dDims> odd_shapes() {
  std::vector<Conv2dDims> v = {
      conv2d_dims(2, 3, 7, 9, 4, 3, 1, 1),       // k3 s1 p1, odd sizes
      conv2d_dims(3, 3, 8, 7, 5, 3, 2, 1),       // k3 s2 p1
      conv2d_dims(3, 4, 9, 9, 6, 3, 2, 0, 2),    // groups 2
      conv2d_dims(2, 5, 6, 7, 3, 1),             // pointwise
      conv2d_dims(2, 4, 7, 6, 6, 1, 2),          // 1x1 stride 2
      conv2d_dims(2, 8, 13, 11, 8, 3, 2, 1, 8),  // depthwise
      conv2d_dims(1, 2, 5, 5, 3, 5, 1, 3),       // padding > kernel/2
      conv2d_dims(2, 3, 17, 19, 4, 7, 2, 3),     // ResNet-stem-like k7 s2 p3
      conv2d_dims(4, 16, 11, 11, 32, 3),         // CNN6-like k3 p0
  };
  Conv2dDims a = conv2d_dims(2, 3, 7, 10, 4, 3, 1, 1);
  a.kernel_w = 2, a.stride_w = 2, a.pad_w = 0;  // non-square
  v.push_back(a);
  return v;
}

struct Scratch {  // a device workspace of `bytes` (a 1-float dummy when none is needed)
  explicit Scratch(size_t bytes) : buf(static_cast<size_t>(bytes / 4 + 1)), bytes(bytes) {}
  void* get() { return bytes ? static_cast<void*>(buf.get()) : nullptr; }
  test::DeviceArray buf;
  size_t bytes;
};

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu).to_vector<float>(); }

}  // namespace

TEST_CASE("conv2d cudnn == cpu == native cuda (forward with/without bias, dx, dw, db; find and heuristic)") {
  if (!kCudnnBuilt) {
    MESSAGE("skipped: this build has no cuDNN (configure with -DCUDNN_ROOT=...)");
    CHECK_THROWS_AS(cudnn::conv2d_algo(conv2d_dims(1, 1, 3, 3, 1, 3), cudnn::ConvPass::forward), fer::Error);
    return;
  }
  MESSAGE("cuDNN " << cudnn::version());
  cuda_stream s = cuda::default_stream();
  cudnn::set_tf32(false);
  for (const char* search : {"find", "heuristic"}) {
    cudnn::set_algo_search(search);
    for (const Conv2dDims& d : odd_shapes()) {
      const std::string name = std::string(search) + " conv2d " + describe_dims(d);
      CAPTURE(name);
      const auto x = test::random_vector(d.x_size(), 71), w = test::random_vector(d.w_size(), 72);
      const auto b = test::random_vector(d.c_out, 73), dy = test::random_vector(d.y_size(), 74);
      std::vector<double> y(d.y_size()), y_nb(d.y_size()), dx(d.x_size()), dw(d.w_size()), db(d.c_out);
      cpu::conv2d_forward<double>(d, x.data(), w.data(), b.data(), y.data());
      cpu::conv2d_forward<double>(d, x.data(), w.data(), nullptr, y_nb.data());
      cpu::conv2d_backward_input<double>(d, dy.data(), w.data(), dx.data());
      cpu::conv2d_backward_weight<double>(d, x.data(), dy.data(), dw.data(), db.data());

      test::DeviceArray gx(test::to_float(x)), gw(test::to_float(w)), gb(test::to_float(b)), gdy(test::to_float(dy));
      test::DeviceArray gy(d.y_size()), gy_nb(d.y_size()), gdx(d.x_size()), gdw(d.w_size()), gdb(d.c_out);
      Scratch wf(cudnn::conv2d_algo(d, cudnn::ConvPass::forward).workspace_bytes);
      Scratch wi(cudnn::conv2d_algo(d, cudnn::ConvPass::backward_input).workspace_bytes);
      Scratch ww(cudnn::conv2d_algo(d, cudnn::ConvPass::backward_weight).workspace_bytes);
      CHECK_FALSE(cudnn::conv2d_algo(d, cudnn::ConvPass::forward).tensor_ops);
      cudnn::conv2d_forward(d, gx.get(), gw.get(), gb.get(), gy.get(), wf.get(), wf.bytes, s);
      cudnn::conv2d_forward(d, gx.get(), gw.get(), nullptr, gy_nb.get(), wf.get(), wf.bytes, s);
      cudnn::conv2d_backward_input(d, gdy.get(), gw.get(), gdx.get(), wi.get(), wi.bytes, s);
      cudnn::conv2d_backward_weight(d, gx.get(), gdy.get(), gdw.get(), gdb.get(), ww.get(), ww.bytes, s);

      const int64_t Cg = d.c_in / d.groups, Og = d.c_out / d.groups, taps = d.kernel_h * d.kernel_w;
      const int64_t NP = d.n * d.h_out() * d.w_out();
      test::expect_close(name + " y", gy.download(), test::to_float(y), atol_for(Cg * taps + 1), kRtol);
      test::expect_close(name + " y (no bias)", gy_nb.download(), test::to_float(y_nb), atol_for(Cg * taps), kRtol);
      test::expect_close(name + " dx", gdx.download(), test::to_float(dx), atol_for(Og * taps), kRtol);
      test::expect_close(name + " dw", gdw.download(), test::to_float(dw), atol_for(NP), kRtol);
      test::expect_close(name + " db", gdb.download(), test::to_float(db), atol_for(NP), kRtol);

      // native CUDA on the same device arrays agrees with cuDNN to twice the fp32 tolerance
      test::DeviceArray ny(d.y_size()), ndx(d.x_size()), ndw(d.w_size()), ndb(d.c_out);
      test::DeviceArray nws(static_cast<size_t>(cuda::conv2d_workspace_floats(d) + 1));
      cuda::conv2d_forward(d, gx.get(), gw.get(), gb.get(), ny.get(), nws.get(), s);
      cuda::conv2d_backward_input(d, gdy.get(), gw.get(), ndx.get(), nws.get(), s);
      cuda::conv2d_backward_weight(d, gx.get(), gdy.get(), ndw.get(), ndb.get(), nws.get(), s);
      test::expect_close(name + " y native vs cudnn", ny.download(), gy.download(), 2 * atol_for(Cg * taps + 1), kRtol);
      test::expect_close(name + " dx native vs cudnn", ndx.download(), gdx.download(), 2 * atol_for(Og * taps), kRtol);
      test::expect_close(name + " dw native vs cudnn", ndw.download(), gdw.download(), 2 * atol_for(NP), kRtol);

      // a workspace smaller than the algorithm needs is a clear error, not a fault
      if (wf.bytes > 0)
        CHECK_THROWS_AS(cudnn::conv2d_forward(d, gx.get(), gw.get(), nullptr, gy.get(), wf.get(), wf.bytes - 1, s),
                        fer::Error);
    }
  }
  cudnn::set_algo_search("find");
  CHECK_THROWS_AS(cudnn::set_algo_search("fastest"), fer::Error);
}

TEST_CASE("--conv-impl cudnn: a model's outputs and gradients equal the native path's") {
  CHECK(ops::conv_impl() == ops::ConvImpl::native);
  CHECK(ops::conv_impl_from_name("cudnn") == ops::ConvImpl::cudnn);
  CHECK_THROWS_AS(ops::conv_impl_from_name("cublas"), fer::Error);
  if (!kCudnnBuilt) {
    MESSAGE("skipped: this build has no cuDNN");
    CHECK_THROWS_AS(ops::set_conv_impl(ops::ConvImpl::cudnn), fer::Error);
    return;
  }
  // resnet18 at width 0.125: stem k7 s2 p3, 3x3 s1/s2 and 1x1 s2 projections, no bias; cnn6: bias, p0
  for (const char* name : {"resnet18", "cnn6"}) {
    CAPTURE(name);
    const models::ModelSpec& spec = models::find_model(name);
    Generator g(5);
    Tensor x = Tensor::zeros({4, spec.input_channels, spec.input_size, spec.input_size});
    uniform_(x, 0.0, 1.0, g);
    const Tensor xg = x.to(Device::cuda);
    const Tensor labels = Tensor::from_vector(std::vector<int32_t>{0, 3, 6, 1}, {4}).to(Device::cuda);
    std::vector<std::vector<float>> results[2];
    for (int impl = 0; impl < 2; ++impl) {
      ops::set_conv_impl(impl == 0 ? ops::ConvImpl::native : ops::ConvImpl::cudnn);
      manual_seed(9);
      nn::ModulePtr m = models::build_model(name, {7, 0.125, ""});
      m->to(Device::cuda);
      m->train(true);
      for (auto& [path, mod] : m->named_modules())
        if (mod->type_name() == "Dropout") mod->eval();
      const Tensor y = (*m)(xg);
      const Tensor loss = ops::cross_entropy(y, labels);
      loss.backward();
      results[impl].push_back(host(y));
      for (const auto& [pname, p] : m->named_parameters()) results[impl].push_back(host(p.grad()));
    }
    ops::set_conv_impl(ops::ConvImpl::native);
    REQUIRE(results[0].size() == results[1].size());
    test::expect_close("logits", results[1][0], results[0][0], 1e-4, 1e-3);
    for (size_t i = 1; i < results[0].size(); ++i) {
      std::ostringstream what;
      what << "gradient of parameter " << i - 1;
      test::expect_close(what.str(), results[1][i], results[0][i], 1e-4, 1e-2);
    }
  }
}
