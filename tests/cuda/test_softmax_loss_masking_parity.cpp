// CUDA vs CPU parity for softmax / log_softmax, the losses and the masking block: odd sizes,
// GPU outputs pre-filled with NaN (an unwritten element fails), CPU outputs pre-filled with
// -7.77e7, tolerance |gpu - cpu| <= atol + rtol |cpu| stated at each check. Both sides get the
// very same float inputs; differences come from summation order and expf/logf rounding.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/loss.h"
#include "kernels/masking.h"
#include "kernels/softmax.h"
#include "tests/support/parity.h"

using namespace fer;

namespace {

cuda_stream stream() { return cuda::default_stream(); }

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

std::vector<int32_t> random_labels(int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(k - 1));
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& y : v) y = dist(gen);
  return v;
}

// int32 labels on the device (DeviceArray holds floats only).
class DeviceLabels {
 public:
  explicit DeviceLabels(const std::vector<int32_t>& host) {
    ptr_ = static_cast<int32_t*>(cuda::device_malloc(std::max<size_t>(host.size(), 1) * sizeof(int32_t)));
    cuda::memcpy_h2d(ptr_, host.data(), host.size() * sizeof(int32_t), stream());
  }
  DeviceLabels(const DeviceLabels&) = delete;
  DeviceLabels& operator=(const DeviceLabels&) = delete;
  ~DeviceLabels() { cuda::device_free_nothrow(ptr_); }
  const int32_t* get() const { return ptr_; }

 private:
  int32_t* ptr_ = nullptr;
};

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string dims(int64_t a, int64_t b, int64_t c) {
  std::ostringstream os;  // (not "(" + std::to_string(a): GCC 12 -Wrestrict false positive)
  os << "(" << a << "," << b << "," << c << ")";
  return os.str();
}

}  // namespace

TEST_CASE("softmax / log_softmax cuda == cpu on row and channel layouts") {
  struct L {
    int64_t outer, dim, inner;
  };
  std::vector<L> layouts = {
      {1, 7, 1}, {37, 7, 1}, {129, 7, 1},  // class softmax [N,K]
      {111, 50, 1},                        // attention rows (B*T, T)
      {5, 1000, 1},                        // long rows: lanes loop over k many times
      {3, 1, 1},                           // dim 1
  };
  for (int64_t n : {1, 37, 129})  // channel softmax of NCHW: (N, C, H*W)
    for (int64_t c : {3, 64})
      for (int64_t hw : {1, 49, 3136}) layouts.push_back({n, c, hw});
  for (const L& l : layouts) {
    const size_t count = static_cast<size_t>(l.outer * l.dim * l.inner);
    const auto x = random_floats(count, 101, -6.f, 6.f);
    const auto dy = random_floats(count, 102);
    test::DeviceArray gx(x), gdy(dy);
    for (const bool log : {false, true}) {
      const std::string name = std::string(log ? "log_softmax " : "softmax ") + dims(l.outer, l.dim, l.inner);
      auto y = test::cpu_output(count), dx = test::cpu_output(count);
      test::DeviceArray gy(count), gdx(count);
      if (log) {
        cpu::log_softmax_forward<float>(l.outer, l.dim, l.inner, x.data(), y.data());
        cuda::log_softmax_forward(l.outer, l.dim, l.inner, gx.get(), gy.get(), stream());
      } else {
        cpu::softmax_forward<float>(l.outer, l.dim, l.inner, x.data(), y.data());
        cuda::softmax_forward(l.outer, l.dim, l.inner, gx.get(), gy.get(), stream());
      }
      // forward: softmax values <= 1 (atol 1e-6, rtol 1e-5); log_softmax values ~ -log(dim) - 12
      // (atol 1e-5, rtol 1e-5)
      test::expect_close(name + " forward", gy.download(), y, log ? 1e-5 : 1e-6, 1e-5);
      // backward from the same y on both sides (the CPU forward output), so it is tested alone
      test::DeviceArray gy_cpu(y);
      if (log) {
        cpu::log_softmax_backward<float>(l.outer, l.dim, l.inner, y.data(), dy.data(), dx.data());
        cuda::log_softmax_backward(l.outer, l.dim, l.inner, gy_cpu.get(), gdy.get(), gdx.get(), stream());
      } else {
        cpu::softmax_backward<float>(l.outer, l.dim, l.inner, y.data(), dy.data(), dx.data());
        cuda::softmax_backward(l.outer, l.dim, l.inner, gy_cpu.get(), gdy.get(), gdx.get(), stream());
      }
      // backward: dx = y (dy - dot) or dy - exp(y) sum dy; the dot/sum is reduced in a different
      // order (atol 1e-5, rtol 1e-4 for both)
      test::expect_close(name + " backward", gdx.download(), dx, 1e-5, 1e-4);
    }
  }
}

TEST_CASE("softmax cuda is deterministic and works in place") {
  const int64_t outer = 37, dim = 64, inner = 49;
  const size_t count = outer * dim * inner;
  const auto x = random_floats(count, 111, -6.f, 6.f);
  test::DeviceArray gx(x), gy1(count), gy2(count);
  cuda::softmax_forward(outer, dim, inner, gx.get(), gy1.get(), stream());
  cuda::softmax_forward(outer, dim, inner, gx.get(), gy2.get(), stream());
  const auto y1 = gy1.download();
  CHECK(bitwise_equal(y1, gy2.download()));
  cuda::softmax_forward(outer, dim, inner, gx.get(), gx.get(), stream());  // y == x
  CHECK(bitwise_equal(y1, gx.download()));
}

TEST_CASE("softmax cross-entropy cuda == cpu (weights x label smoothing, odd N, K)") {
  const auto w7 = random_floats(7, 201, 0.2f, 2.f);
  struct S {
    int64_t n, k;
    float scale;  // logits in [-scale, scale]
  };
  const S shapes[] = {{1, 7, 5.f}, {37, 7, 5.f}, {129, 7, 5.f}, {2000, 7, 5.f}, {37, 40, 5.f}, {129, 7, 1e4f}};
  for (const S& s : shapes) {
    const auto w = s.k == 7 ? w7 : random_floats(s.k, 202, 0.2f, 2.f);
    const auto z = random_floats(s.n * s.k, 203, -s.scale, s.scale);
    const auto labels = random_labels(s.n, s.k, 204);
    test::DeviceArray gz(z), gw(w);
    DeviceLabels gl(labels);
    for (const bool weighted : {false, true}) {
      for (const float eps : {0.f, 0.1f}) {
        const std::string name = "xent N=" + std::to_string(s.n) + " K=" + std::to_string(s.k) +
                                 " scale=" + std::to_string(s.scale) + (weighted ? " weighted" : "") +
                                 " eps=" + std::to_string(eps);
        const float* wp = weighted ? w.data() : nullptr;
        auto loss = test::cpu_output(1), per = test::cpu_output(s.n), dz = test::cpu_output(s.n * s.k);
        cpu::softmax_cross_entropy<float>(s.n, s.k, z.data(), labels.data(), wp, eps, loss.data(), per.data(),
                                          dz.data());
        test::DeviceArray gloss(1), gper(s.n), gdz(s.n * s.k);
        cuda::softmax_cross_entropy(s.n, s.k, gz.get(), gl.get(), weighted ? gw.get() : nullptr, eps, gloss.get(),
                                    gper.get(), gdz.get(), stream());
        // loss and per-sample losses: O(1..1e4) values, sums in a different order (atol 1e-5, rtol 1e-5)
        test::expect_close(name + " loss", gloss.download(), loss, 1e-5, 1e-5);
        test::expect_close(name + " per_sample", gper.download(), per, 1e-5, 1e-5);
        // dlogits = (a p - ...) / W with W ~ N: p carries a few ulp (expf, the order of s), and
        // a p - c_label can cancel near p = 1 (atol 1e-6 / N, rtol 1e-4)
        test::expect_close(name + " dlogits", gdz.download(), dz, 1e-6 / double(s.n), 1e-4);
        // loss only (per_sample and dlogits skipped): the same loss, bit for bit
        test::DeviceArray gloss2(1);
        cuda::softmax_cross_entropy(s.n, s.k, gz.get(), gl.get(), weighted ? gw.get() : nullptr, eps,
                                    gloss2.get(), nullptr, nullptr, stream());
        CHECK(bitwise_equal(gloss.download(), gloss2.download()));
      }
    }
  }
}

TEST_CASE("softmax cross-entropy cuda: a bad device label gives NaN, not a crash") {
  const int64_t n = 37, k = 7;
  const auto z = random_floats(n * k, 211, -3.f, 3.f);
  auto labels = random_labels(n, k, 212);
  labels[5] = 7;  // == K: out of range
  test::DeviceArray gz(z), gloss(1), gper(n), gdz(n * k);
  DeviceLabels gl(labels);
  cuda::softmax_cross_entropy(n, k, gz.get(), gl.get(), nullptr, 0.f, gloss.get(), gper.get(), gdz.get(), stream());
  const auto loss = gloss.download(), per = gper.download();
  CHECK(std::isnan(loss[0]));
  CHECK(std::isnan(per[5]));
  CHECK(std::isfinite(per[4]));
  CHECK_THROWS_AS(check_labels("cross_entropy", n, k, labels.data()), fer::Error);  // the host-side check
}

TEST_CASE("nll_loss cuda == cpu (forward and backward)") {
  for (int64_t n : {1, 37, 129}) {
    const int64_t k = 7;
    const auto z = random_floats(n * k, 221, -5.f, 5.f);
    std::vector<float> logp(n * k);
    cpu::log_softmax_forward<float>(n, k, 1, z.data(), logp.data());
    const auto w = random_floats(k, 222, 0.2f, 2.f);
    const auto labels = random_labels(n, k, 223);
    const std::vector<float> g = {0.7f};  // upstream gradient
    test::DeviceArray glogp(logp), gw(w), gg(g);
    DeviceLabels gl(labels);
    for (const bool weighted : {false, true}) {
      const std::string name = "nll N=" + std::to_string(n) + (weighted ? " weighted" : "");
      const float* wp = weighted ? w.data() : nullptr;
      const float* gwp = weighted ? gw.get() : nullptr;
      auto loss = test::cpu_output(1), per = test::cpu_output(n), dq = test::cpu_output(n * k);
      cpu::nll_loss_forward<float>(n, k, logp.data(), labels.data(), wp, loss.data(), per.data());
      cpu::nll_loss_backward<float>(n, k, labels.data(), wp, g.data(), dq.data());
      test::DeviceArray gloss(1), gper(n), gdq(n * k);
      cuda::nll_loss_forward(n, k, glogp.get(), gl.get(), gwp, gloss.get(), gper.get(), stream());
      cuda::nll_loss_backward(n, k, gl.get(), gwp, gg.get(), gdq.get(), stream());
      test::expect_close(name + " loss", gloss.download(), loss, 1e-6, 1e-5);          // sums of O(1) terms
      test::expect_close(name + " per_sample", gper.download(), per, 1e-6, 1e-6);      // one product each
      test::expect_close(name + " dlogp", gdq.download(), dq, 1e-7 / double(n), 1e-5);  // -w g / W
    }
  }
}

TEST_CASE("mse_loss cuda == cpu (mean and per-sample, forward and backward)") {
  struct S {
    int64_t n, d;
  };
  const S shapes[] = {{1, 1}, {37, 2304}, {129, 49}, {3, 100003}};
  for (const S& s : shapes) {
    const auto x = random_floats(s.n * s.d, 231);
    const auto t = random_floats(s.n * s.d, 232);
    test::DeviceArray gx(x), gt(t);
    for (const MseReduction r : {MseReduction::mean, MseReduction::per_sample}) {
      const bool mean = r == MseReduction::mean;
      const int64_t outs = mean ? 1 : s.n;
      const std::string name = "mse N=" + std::to_string(s.n) + " D=" + std::to_string(s.d) +
                               (mean ? " mean" : " per_sample");
      auto out = test::cpu_output(outs);
      cpu::mse_loss_forward<float>(r, s.n, s.d, x.data(), t.data(), out.data());
      test::DeviceArray gout(outs);
      cuda::mse_loss_forward(r, s.n, s.d, gx.get(), gt.get(), gout.get(), stream());
      // means of O(1) squares over up to 3e5 elements: the CPU's sequential float sum carries a
      // relative error ~1e-8 sqrt(D) (3e-6 for D = 1e5), the GPU's tree much less (atol 1e-6, rtol 5e-5)
      test::expect_close(name + " forward", gout.download(), out, 1e-6, 5e-5);
      const auto g = random_floats(outs, 233, 0.5f, 1.5f);
      test::DeviceArray gg(g);
      for (const bool with_g : {false, true}) {
        auto dx = test::cpu_output(s.n * s.d);
        cpu::mse_loss_backward<float>(r, s.n, s.d, x.data(), t.data(), with_g ? g.data() : nullptr, dx.data());
        test::DeviceArray gdx(s.n * s.d);
        cuda::mse_loss_backward(r, s.n, s.d, gx.get(), gt.get(), with_g ? gg.get() : nullptr, gdx.get(), stream());
        // elementwise, same expression (atol 1e-12, rtol 1e-6)
        test::expect_close(name + (with_g ? " backward dloss" : " backward"), gdx.download(), dx, 1e-12, 1e-6);
      }
    }
  }
}

TEST_CASE("focal loss cuda == cpu (gamma x alpha)") {
  const int64_t k = 7;
  const auto alpha = random_floats(k, 241, 0.2f, 2.f);
  test::DeviceArray galpha(alpha);
  for (int64_t n : {1, 37, 129}) {
    const auto z = random_floats(n * k, 242, -5.f, 5.f);
    const auto labels = random_labels(n, k, 243);
    test::DeviceArray gz(z);
    DeviceLabels gl(labels);
    for (const bool with_alpha : {false, true}) {
      for (const float gamma : {0.f, 0.5f, 2.f}) {
        const std::string name = "focal N=" + std::to_string(n) + (with_alpha ? " alpha" : "") +
                                 " gamma=" + std::to_string(gamma);
        auto loss = test::cpu_output(1), per = test::cpu_output(n), dz = test::cpu_output(n * k);
        cpu::focal_loss<float>(n, k, z.data(), labels.data(), with_alpha ? alpha.data() : nullptr, gamma,
                               loss.data(), per.data(), dz.data());
        test::DeviceArray gloss(1), gper(n), gdz(n * k);
        cuda::focal_loss(n, k, gz.get(), gl.get(), with_alpha ? galpha.get() : nullptr, gamma, gloss.get(),
                         gper.get(), gdz.get(), stream());
        // pow/exp/log rounding differs by a few ulp (atol 1e-6, rtol 1e-4 everywhere)
        test::expect_close(name + " loss", gloss.download(), loss, 1e-6, 1e-4);
        test::expect_close(name + " per_sample", gper.download(), per, 1e-6, 1e-4);
        test::expect_close(name + " dlogits", gdz.download(), dz, 1e-6 / double(n), 1e-4);  // as for xent
      }
    }
  }
}

TEST_CASE("masking block cuda == cpu (softmax and sigmoid mask, forward and backward)") {
  for (const MaskKind kind : {MaskKind::softmax, MaskKind::sigmoid}) {
    for (int64_t n : {1, 37, 129}) {
      for (int64_t c : {3, 64}) {
        for (int64_t hw : {1, 49, 3136}) {
          const size_t count = static_cast<size_t>(n * c * hw);
          const std::string name = std::string("masking ") + mask_kind_name(kind) + " " + dims(n, c, hw);
          const auto x = random_floats(count, 301, -2.f, 2.f);
          const auto z = random_floats(count, 302, -6.f, 6.f);
          const auto dy = random_floats(count, 303);
          auto y = test::cpu_output(count), m = test::cpu_output(count);
          auto dx = test::cpu_output(count), dz = test::cpu_output(count);
          cpu::masking_forward<float>(kind, n, c, hw, x.data(), z.data(), y.data(), m.data());
          cpu::masking_backward<float>(kind, n, c, hw, x.data(), z.data(), dy.data(), dx.data(), dz.data());
          test::DeviceArray gx(x), gz(z), gdy(dy), gy(count), gm(count), gdx(count), gdz(count);
          cuda::masking_forward(kind, n, c, hw, gx.get(), gz.get(), gy.get(), gm.get(), stream());
          cuda::masking_backward(kind, n, c, hw, gx.get(), gz.get(), gdy.get(), gdx.get(), gdz.get(), stream());
          // M in [0,1] and y = x (1 + M) (atol 1e-6, rtol 1e-5)
          test::expect_close(name + " mask", gm.download(), m, 1e-6, 1e-5);
          test::expect_close(name + " y", gy.download(), y, 1e-6, 1e-5);
          // dx = dy (1 + M) (atol 1e-6, rtol 1e-5); dz = M (g - sum g M) has a cancellation
          // (atol 1e-6, rtol 1e-4)
          test::expect_close(name + " dx", gdx.download(), dx, 1e-6, 1e-5);
          test::expect_close(name + " dz", gdz.download(), dz, 1e-6, 1e-4);
        }
      }
    }
  }
}

TEST_CASE("masking block cuda: optional outputs and determinism") {
  const int64_t n = 37, c = 64, hw = 49;
  const size_t count = n * c * hw;
  const auto x = random_floats(count, 311, -2.f, 2.f);
  const auto z = random_floats(count, 312, -6.f, 6.f);
  const auto dy = random_floats(count, 313);
  test::DeviceArray gx(x), gz(z), gdy(dy);
  for (const MaskKind kind : {MaskKind::softmax, MaskKind::sigmoid}) {
    CAPTURE(mask_kind_name(kind));
    test::DeviceArray gy1(count), gy2(count), gdx1(count), gdz1(count), gdx2(count), gdz2(count);
    cuda::masking_forward(kind, n, c, hw, gx.get(), gz.get(), gy1.get(), nullptr, stream());
    cuda::masking_backward(kind, n, c, hw, gx.get(), gz.get(), gdy.get(), gdx1.get(), gdz1.get(), stream());
    cuda::masking_forward(kind, n, c, hw, gx.get(), gz.get(), gy2.get(), nullptr, stream());
    cuda::masking_backward(kind, n, c, hw, gx.get(), gz.get(), gdy.get(), gdx2.get(), nullptr, stream());
    cuda::masking_backward(kind, n, c, hw, gx.get(), gz.get(), gdy.get(), nullptr, gdz2.get(), stream());
    CHECK(bitwise_equal(gy1.download(), gy2.download()));
    CHECK(bitwise_equal(gdx1.download(), gdx2.download()));
    CHECK(bitwise_equal(gdz1.download(), gdz2.download()));
  }
}
