// CUDA vs CPU parity for the optimizer kernels (kernels/optim.h) and nn::Optimizer / clip_grad_norm
// on CUDA tensors. Sizes include ones that are not multiples of the block size (1, 255, 257, 100003).
// Tolerances:
//   sgd / adam / adamw / amsgrad / radam, 5-8 steps   atol 1e-6, rtol 1e-5 (same per-element formula;
//                                                     FMA contraction and device sqrt/div differ by ulps)
//   grad_norm                                         rel 1e-12 (both accumulate in double, other order);
//                                                     bit-identical between two CUDA runs (deterministic)
//   scale                                             exact (one float multiply)
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/optim.h"
#include "nn/flat_params.h"
#include "nn/optimizer.h"
#include "tests/support/parity.h"

using namespace fer;
using fer::test::DeviceArray;
using fer::test::expect_close;

namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

const int64_t kSizes[] = {1, 255, 257, 100003};

enum class Kind { sgd, adam, radam };

// The step's scalars in device memory, where the *_apply kernels read them.
struct DeviceScalars {
  double* ptr = static_cast<double*>(cuda::device_malloc(optim::kStepScalars * sizeof(double)));
  ~DeviceScalars() { cuda::device_free_nothrow(ptr); }
  void upload(const double* host) {
    cuda::memcpy_h2d(ptr, host, optim::kStepScalars * sizeof(double), cuda::default_stream());
  }
};

void run_parity(const std::string& what, Kind kind, const SgdConfig& sc, const AdamConfig& ac, int steps) {
  for (int64_t n : kSizes) {
    CAPTURE(n);
    std::vector<float> p = randn(n, 1), b1(n, 0.f), b2(n, 0.f), b3(n, 0.f);
    DeviceArray dp(p), db1(std::vector<float>(n, 0.f)), db2(std::vector<float>(n, 0.f)),
        db3(std::vector<float>(n, 0.f));
    DeviceScalars ds;
    double hs[optim::kStepScalars];
    for (int t = 1; t <= steps; ++t) {
      const auto g = randn(n, 100 + t, 0.5f);
      DeviceArray dg(g);
      if (kind == Kind::sgd) {
        cpu::sgd_step<float>(n, p.data(), g.data(), b1.data(), sc, t);
        optim::sgd_step_scalars(sc, t, hs);
        ds.upload(hs);
        cuda::sgd_apply(n, dp.get(), dg.get(), db1.get(), sc, ds.ptr, cuda::default_stream());
      } else if (kind == Kind::adam) {
        cpu::adam_step<float>(n, p.data(), g.data(), b1.data(), b2.data(), ac, t, ac.amsgrad ? b3.data() : nullptr);
        optim::adam_step_scalars(ac, t, hs);
        ds.upload(hs);
        cuda::adam_apply(n, dp.get(), dg.get(), db1.get(), db2.get(), ac, ds.ptr, cuda::default_stream(),
                         ac.amsgrad ? db3.get() : nullptr);
      } else {
        cpu::radam_step<float>(n, p.data(), g.data(), b1.data(), b2.data(), ac, t);
        optim::radam_step_scalars(ac, t, hs);
        ds.upload(hs);
        cuda::radam_apply(n, dp.get(), dg.get(), db1.get(), db2.get(), ac, ds.ptr, cuda::default_stream());
      }
    }
    expect_close(what + " params", dp.download(), p, 1e-6, 1e-5);
    expect_close(what + " buffer 1", db1.download(), b1, 1e-6, 1e-5);
    if (kind != Kind::sgd) expect_close(what + " buffer 2", db2.download(), b2, 1e-6, 1e-5);
    if (kind == Kind::adam && ac.amsgrad) expect_close(what + " max buffer", db3.download(), b3, 1e-6, 1e-5);
  }
}

class Holder : public nn::Module {
 public:
  explicit Holder(int64_t n) { register_parameter("w", Tensor::zeros({n})); }
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Holder"; }
};

}  // namespace

TEST_CASE("optim kernels cuda == cpu: SGD variants") {
  SgdConfig c;
  c.lr = 0.1, c.momentum = 0.9, c.weight_decay = 0.01;
  run_parity("sgd momentum", Kind::sgd, c, {}, 5);
  c.nesterov = true;
  run_parity("sgd nesterov", Kind::sgd, c, {}, 5);
  c.nesterov = false, c.dampening = 0.2;
  run_parity("sgd dampening", Kind::sgd, c, {}, 5);
}

TEST_CASE("optim kernels cuda == cpu: Adam, AdamW, AMSGrad, RAdam") {
  AdamConfig c;
  c.lr = 0.01, c.weight_decay = 0.05;
  run_parity("adam", Kind::adam, {}, c, 5);
  c.decoupled_weight_decay = true;
  run_parity("adamw", Kind::adam, {}, c, 5);
  c.amsgrad = true, c.beta2 = 0.99;
  run_parity("adamw amsgrad", Kind::adam, {}, c, 5);
  c.amsgrad = false, c.beta2 = 0.999;
  run_parity("radam decoupled", Kind::radam, {}, c, 8);  // steps 6-8 rectified
  c.decoupled_weight_decay = false;
  run_parity("radam l2", Kind::radam, {}, c, 8);
}

TEST_CASE("grad_norm and scale cuda == cpu; grad_norm deterministic") {
  for (int64_t n : {int64_t(1), int64_t(257), int64_t(100003), int64_t(3000001)}) {
    CAPTURE(n);
    const auto g = randn(n, 7);
    DeviceArray dg(g);
    DeviceArray ws((cuda::grad_norm_workspace_bytes(n) + sizeof(float) - 1) / sizeof(float));
    const double cpu_norm = cpu::grad_norm<float>(n, g.data());
    const double a = cuda::grad_norm(n, dg.get(), ws.get(), cuda::default_stream());
    const double b = cuda::grad_norm(n, dg.get(), ws.get(), cuda::default_stream());
    CHECK(a == b);
    CHECK(std::abs(a - cpu_norm) <= 1e-12 * cpu_norm);
    auto h = g;
    cpu::scale<float>(n, h.data(), 0.37);
    cuda::scale(n, dg.get(), 0.37, cuda::default_stream());
    CHECK(dg.download() == h);
    // the device-resident norm and clip: the same bits as the host round trip
    DeviceArray out(2);  // one double
    cuda::grad_norm_to(n, dg.get(), ws.get(), reinterpret_cast<double*>(out.get()), cuda::default_stream());
    double on_device = 0;
    cuda::memcpy_d2h(&on_device, out.get(), sizeof(double), cuda::default_stream());
    CHECK(on_device == cuda::grad_norm(n, dg.get(), ws.get(), cuda::default_stream()));
    const double max_norm = on_device / 3;
    cpu::clip_by_norm<float>(n, h.data(), &on_device, max_norm);
    cuda::clip_by_norm(n, dg.get(), reinterpret_cast<const double*>(out.get()), max_norm, cuda::default_stream());
    CHECK(dg.download() == h);
  }
}

TEST_CASE("nn::Optimizer and clip_grad_norm on CUDA tensors match the CPU") {
  for (const std::string name : {"sgd", "adam", "adamw", "radam"}) {
    CAPTURE(name);
    const int64_t n = 4099;
    Holder cpu_m(n), gpu_m(n);
    gpu_m.to(Device::cuda);
    nn::FlatParameters fc(cpu_m), fg(gpu_m);
    const auto p0 = randn(n, 3);
    fc.values().copy_from(Tensor::from_vector(p0, {n}));
    fg.values().copy_from(Tensor::from_vector(p0, {n}));
    nn::OptimizerOptions o;
    o.lr = 0.01, o.weight_decay = 0.01;
    auto oc = nn::make_optimizer(name, fc, o), og = nn::make_optimizer(name, fg, o);
    for (int t = 1; t <= 7; ++t) {
      const Tensor g = Tensor::from_vector(randn(n, 50 + t, 2.f), {n});
      fc.grads().copy_from(g);
      fg.grads().copy_from(g);
      const double nc = nn::clip_grad_norm(fc, 10.0);
      const double ng = t % 2 ? nn::clip_grad_norm(fg, 10.0) : nn::clip_grad_norm_tensor(fg, 10.0).item();
      CHECK(std::abs(nc - ng) <= 1e-12 * nc);
      oc->step();
      og->step();
    }
    expect_close(name + " params", fg.values().to_vector<float>(), fc.values().to_vector<float>(), 1e-6, 1e-5);
    // The state moves between devices.
    auto reload = nn::make_optimizer(name, fc, o);
    reload->load_state(og->state_tensors());
    CHECK(reload->step_count() == 7);
  }
}
