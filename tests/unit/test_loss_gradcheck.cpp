// Losses (kernels/loss.h): gradient checks in double (every backward, every variant), values
// computed by hand, stability for huge logits and the argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/loss.h"
#include "kernels/softmax.h"
#include "tests/support/gradcheck.h"

using namespace fer;

namespace {

constexpr int64_t kN = 5, kK = 7;  // odd sizes
const std::vector<int32_t> kLabels = {3, 0, 6, 3, 5};

// Positive class weights in [0.2, 2].
std::vector<double> class_weights() { return test::random_vector(kK, 77, 0.2, 2.0); }

double ce_loss(const std::vector<double>& z, const double* w, double eps) {
  double loss = 0;
  cpu::softmax_cross_entropy<double>(kN, kK, z.data(), kLabels.data(), w, eps, &loss, nullptr, nullptr);
  return loss;
}

double focal(const std::vector<double>& z, const double* alpha, double gamma) {
  double loss = 0;
  cpu::focal_loss<double>(kN, kK, z.data(), kLabels.data(), alpha, gamma, &loss, nullptr, nullptr);
  return loss;
}

}  // namespace

TEST_CASE("cross-entropy dlogits match finite differences (weights x label smoothing)") {
  const auto w = class_weights();
  for (const bool weighted : {false, true}) {
    for (const double eps : {0.0, 0.15, 1.0}) {
      const std::string what = std::string("xent ") + (weighted ? "weighted" : "unweighted") +
                               " eps=" + std::to_string(eps);
      CAPTURE(what);
      const double* wp = weighted ? w.data() : nullptr;
      auto z = test::random_vector(kN * kK, 5, -3, 3);
      double loss = 0;
      std::vector<double> per_sample(kN), dz(kN * kK);
      cpu::softmax_cross_entropy<double>(kN, kK, z.data(), kLabels.data(), wp, eps, &loss, per_sample.data(),
                                         dz.data());
      test::check_gradient(what + " dlogits", z, [&] { return ce_loss(z, wp, eps); }, dz);
      // per_sample is PyTorch's reduction='none': the loss is its sum over W = sum_i w_{y_i}
      double W = 0, sum = 0;
      for (int64_t i = 0; i < kN; ++i) {
        W += weighted ? w[kLabels[i]] : 1.0;
        sum += per_sample[i];
      }
      CHECK(loss == doctest::Approx(sum / W).epsilon(1e-14));
    }
  }
}

TEST_CASE("cross-entropy on a hand-computed example") {
  // logits [[1,2,3],[1,0,-1]], labels [2,0], class weights [1,2,0.5].
  // softmax([1,2,3]) = [0.0900306, 0.2447285, 0.6652410]; softmax([1,0,-1]) is the same, reversed.
  // -log p at the label: row 0: -log 0.6652410 = 0.4076060; row 1: -log 0.6652410 = 0.4076060.
  // weights at the labels: w[2] = 0.5, w[0] = 1 -> W = 1.5.
  // loss = (0.5 * 0.4076060 + 1 * 0.4076060) / 1.5 = 0.4076060 (both rows happen to be equal).
  // dlogits row 0 = 0.5 (p - e_2) / 1.5, row 1 = 1 (p - e_0) / 1.5.
  const double z[6] = {1, 2, 3, 1, 0, -1};
  const int32_t y[2] = {2, 0};
  const double w[3] = {1, 2, 0.5};
  double loss = 0, per[2], dz[6];
  cpu::softmax_cross_entropy<double>(2, 3, z, y, w, 0.0, &loss, per, dz);
  CHECK(loss == doctest::Approx(0.4076059644443803).epsilon(1e-13));
  CHECK(per[0] == doctest::Approx(0.20380298222219007).epsilon(1e-13));
  CHECK(per[1] == doctest::Approx(0.40760596444438035).epsilon(1e-13));
  const double expect_dz[6] = {0.030010191056793492, 0.0815761570182659,  -0.11158634807505934,
                               -0.22317269615011873, 0.16315231403653177, 0.060020382113586956};
  for (int e = 0; e < 6; ++e) CHECK(dz[e] == doctest::Approx(expect_dz[e]).epsilon(1e-12));

  // label smoothing 0.1 with the same weights (PyTorch's formula):
  //   l_i = 0.9 w_{y_i} (-log p_{i,y_i}) + (0.1/3) sum_c w_c (-log p_ic)
  //   row 0: -log p = [2.4076060, 1.4076060, 0.4076060] -> sum_c w_c (..) = 5.4266209
  //   row 1: -log p = [0.4076060, 1.4076060, 2.4076060] -> sum_c w_c (..) = 4.4266209
  //   loss = (0.9 * 0.6114089 + (0.1/3) * 9.8532417) / 1.5 = 0.5858063
  cpu::softmax_cross_entropy<double>(2, 3, z, y, w, 0.1, &loss, per, dz);
  CHECK(loss == doctest::Approx(0.5858062958024014).epsilon(1e-13));
  CHECK(per[0] == doctest::Approx(0.3643100465184821).epsilon(1e-13));
  CHECK(per[1] == doctest::Approx(0.5143993971851201).epsilon(1e-13));
  CHECK(dz[2] == doctest::Approx(-0.05979786115173391).epsilon(1e-12));
  CHECK(dz[3] == doctest::Approx(-0.17133668553039852).epsilon(1e-12));

  // unweighted: plain mean of the two row losses
  cpu::softmax_cross_entropy<double>(2, 3, z, y, nullptr, 0.0, &loss, nullptr, nullptr);
  CHECK(loss == doctest::Approx(0.40760596444438024).epsilon(1e-13));
}

TEST_CASE("cross-entropy with huge logits stays finite (float)") {
  // row 0: lse = 1e4 exactly (the other terms underflow), -log p_1 = 1e4 - 0 = 1e4
  // row 1: lse = 1e4 + log 2, -log p_2 = log 2
  const float z[6] = {1e4f, 0.f, -1e4f, -1e4f, 1e4f, 1e4f};
  const int32_t y[2] = {1, 2};
  float loss = 0, per[2], dz[6];
  cpu::softmax_cross_entropy<float>(2, 3, z, y, nullptr, 0.f, &loss, per, dz);
  CHECK(std::isfinite(loss));
  CHECK(loss == doctest::Approx((1e4 + std::log(2.0)) / 2).epsilon(1e-6));
  CHECK(per[0] == doctest::Approx(1e4).epsilon(1e-6));
  for (int e = 0; e < 6; ++e) CHECK(std::isfinite(dz[e]));
  CHECK(dz[0] == doctest::Approx(0.5));   // (p - onehot) / N = (1 - 0) / 2
  CHECK(dz[1] == doctest::Approx(-0.5));  // (0 - 1) / 2
  CHECK(dz[4] == doctest::Approx(0.25));  // (0.5 - 0) / 2
  CHECK(dz[5] == doctest::Approx(-0.25));
  // with smoothing and weights too
  const float w[3] = {1.f, 2.f, 0.5f};
  cpu::softmax_cross_entropy<float>(2, 3, z, y, w, 0.2f, &loss, per, dz);
  CHECK(std::isfinite(loss));
  for (int e = 0; e < 6; ++e) CHECK(std::isfinite(dz[e]));
}

TEST_CASE("cross-entropy equals nll_loss of log_softmax") {
  const auto w = class_weights();
  const auto z = test::random_vector(kN * kK, 8, -4, 4);
  std::vector<double> logp(kN * kK), per_ce(kN), per_nll(kN);
  cpu::log_softmax_forward<double>(kN, kK, 1, z.data(), logp.data());
  double ce = 0, nll = 0;
  cpu::softmax_cross_entropy<double>(kN, kK, z.data(), kLabels.data(), w.data(), 0.0, &ce, per_ce.data(), nullptr);
  cpu::nll_loss_forward<double>(kN, kK, logp.data(), kLabels.data(), w.data(), &nll, per_nll.data());
  CHECK(ce == doctest::Approx(nll).epsilon(1e-13));
  for (int64_t i = 0; i < kN; ++i) CHECK(per_ce[i] == doctest::Approx(per_nll[i]).epsilon(1e-13));
}

TEST_CASE("nll_loss backward matches finite differences") {
  const auto w = class_weights();
  for (const bool weighted : {false, true}) {
    CAPTURE(weighted);
    const double* wp = weighted ? w.data() : nullptr;
    auto q = test::random_vector(kN * kK, 9, -4, 0);  // log-probabilities (any values work: nll is linear)
    const double g = 1.7;                             // upstream gradient
    std::vector<double> dq(kN * kK, -99.0);
    cpu::nll_loss_backward<double>(kN, kK, kLabels.data(), wp, &g, dq.data());
    auto loss = [&] {
      double l = 0;
      cpu::nll_loss_forward<double>(kN, kK, q.data(), kLabels.data(), wp, &l, nullptr);
      return g * l;
    };
    test::check_gradient(std::string("nll dlogp weighted=") + (weighted ? "1" : "0"), q, loss, dq);
  }
}

TEST_CASE("mse_loss backward matches finite differences (mean and per-sample)") {
  const int64_t n = 3, d = 11;
  const auto t = test::random_vector(n * d, 13);
  for (const MseReduction r : {MseReduction::mean, MseReduction::per_sample}) {
    const bool mean = r == MseReduction::mean;
    CAPTURE(mean);
    auto x = test::random_vector(n * d, 14);
    const auto g = mean ? std::vector<double>{0.8} : test::random_vector(n, 15);  // upstream gradient
    std::vector<double> dx(n * d);
    cpu::mse_loss_backward<double>(r, n, d, x.data(), t.data(), g.data(), dx.data());
    auto loss = [&] {
      std::vector<double> out(mean ? 1 : n);
      cpu::mse_loss_forward<double>(r, n, d, x.data(), t.data(), out.data());
      return test::dot(out, g);
    };
    test::check_gradient(std::string("mse dx ") + (mean ? "mean" : "per_sample"), x, loss, dx);
  }
  // values: x - t = [1, -2 | 3, 0] -> per-sample [(1+4)/2, 9/2], mean 14/4
  const double x[4] = {1, -2, 3, 0}, t0[4] = {0, 0, 0, 0};
  double per[2], mean = 0;
  cpu::mse_loss_forward<double>(MseReduction::per_sample, 2, 2, x, t0, per);
  cpu::mse_loss_forward<double>(MseReduction::mean, 2, 2, x, t0, &mean);
  CHECK(per[0] == 2.5);
  CHECK(per[1] == 4.5);
  CHECK(mean == 3.5);
  double dx[4];
  cpu::mse_loss_backward<double>(MseReduction::mean, 2, 2, x, t0, nullptr, dx);  // dloss = 1
  CHECK(dx[1] == doctest::Approx(-1.0));                                          // 2 * (-2) / 4
}

TEST_CASE("focal loss dlogits match finite differences (gamma x alpha)") {
  const auto alpha = class_weights();
  for (const bool with_alpha : {false, true}) {
    for (const double gamma : {0.0, 0.5, 2.0, 3.7}) {
      const std::string what = std::string("focal ") + (with_alpha ? "alpha" : "no alpha") +
                               " gamma=" + std::to_string(gamma);
      CAPTURE(what);
      const double* ap = with_alpha ? alpha.data() : nullptr;
      auto z = test::random_vector(kN * kK, 6, -3, 3);
      double loss = 0;
      std::vector<double> dz(kN * kK);
      cpu::focal_loss<double>(kN, kK, z.data(), kLabels.data(), ap, gamma, &loss, nullptr, dz.data());
      test::check_gradient(what + " dlogits", z, [&] { return focal(z, ap, gamma); }, dz);
    }
  }
}

TEST_CASE("focal loss values: gamma = 0 is weighted cross-entropy; a hand example") {
  const auto alpha = class_weights();
  const auto z = test::random_vector(kN * kK, 16, -3, 3);
  double fl = 0, ce = 0;
  std::vector<double> dfl(kN * kK), dce(kN * kK);
  cpu::focal_loss<double>(kN, kK, z.data(), kLabels.data(), alpha.data(), 0.0, &fl, nullptr, dfl.data());
  cpu::softmax_cross_entropy<double>(kN, kK, z.data(), kLabels.data(), alpha.data(), 0.0, &ce, nullptr, dce.data());
  CHECK(fl == doctest::Approx(ce).epsilon(1e-14));
  for (size_t e = 0; e < dfl.size(); ++e) CHECK(dfl[e] == doctest::Approx(dce[e]).epsilon(1e-12));
  // logits [1,2,3], label 2, gamma 2: p_t = 0.6652410, (1 - p_t)^2 (-log p_t) = 0.3347590^2 * 0.4076060
  const double z1[6] = {1, 2, 3, 1, 0, -1};
  const int32_t y1[2] = {2, 0};
  const double a1[3] = {1, 2, 0.5};
  double l1 = 0, per[2];
  cpu::focal_loss<double>(1, 3, z1, y1, nullptr, 2.0, &l1, per, nullptr);
  CHECK(l1 == doctest::Approx(0.04567779896788483).epsilon(1e-13));
  // both rows have the same p_t, so the alpha-weighted mean is that same value
  cpu::focal_loss<double>(2, 3, z1, y1, a1, 2.0, &l1, per, nullptr);
  CHECK(l1 == doctest::Approx(0.045677798967884875).epsilon(1e-13));
  CHECK(per[0] == doctest::Approx(0.5 * 0.04567779896788483).epsilon(1e-13));
}

TEST_CASE("focal loss stays finite when p_t rounds to 1 (gamma < 1)") {
  // p_t = 1 exactly: the naive (1 - p)^(gamma - 1) would be inf; the kernel uses its limit.
  const double z[3] = {1e4, 0, -1e4};
  const int32_t y[1] = {0};
  double loss = -1, dz[3];
  cpu::focal_loss<double>(1, 3, z, y, nullptr, 0.5, &loss, nullptr, dz);
  CHECK(loss == 0.0);
  for (double v : dz) CHECK(v == 0.0);
  const float zf[3] = {60.f, 0.f, -5.f};
  const int32_t yf[1] = {0};
  float lf = -1, dzf[3];
  cpu::focal_loss<float>(1, 3, zf, yf, nullptr, 0.3f, &lf, nullptr, dzf);
  CHECK(std::isfinite(lf));
  for (float v : dzf) CHECK(std::isfinite(v));
}

TEST_CASE("loss argument errors are clear") {
  const double z[6] = {1, 2, 3, 1, 0, -1};
  const int32_t bad[2] = {2, 3};
  double loss = 0;
  CHECK_THROWS_WITH_AS(cpu::softmax_cross_entropy<double>(2, 3, z, bad, nullptr, 0.0, &loss, nullptr, nullptr),
                       doctest::Contains("softmax_cross_entropy: label 3 at row 1 is outside [0, 3)"), fer::Error);
  const int32_t neg[2] = {-1, 0};
  CHECK_THROWS_WITH_AS(cpu::focal_loss<double>(2, 3, z, neg, nullptr, 2.0, &loss, nullptr, nullptr),
                       doctest::Contains("focal_loss: label -1 at row 0"), fer::Error);
  CHECK_THROWS_WITH_AS(cpu::nll_loss_backward<double>(2, 3, bad, nullptr, nullptr, &loss),
                       doctest::Contains("nll_loss_backward: label 3"), fer::Error);
  const int32_t ok[2] = {2, 0};
  CHECK_THROWS_WITH_AS(cpu::softmax_cross_entropy<double>(2, 3, z, ok, nullptr, 1.5, &loss, nullptr, nullptr),
                       doctest::Contains("label_smoothing must be in [0, 1]"), fer::Error);
  CHECK_THROWS_WITH_AS(cpu::focal_loss<double>(2, 3, z, ok, nullptr, -1.0, &loss, nullptr, nullptr),
                       doctest::Contains("focal gamma must be finite and >= 0"), fer::Error);
  CHECK_THROWS_WITH_AS(cpu::softmax_cross_entropy<double>(0, 3, z, ok, nullptr, 0.0, &loss, nullptr, nullptr),
                       doctest::Contains("N >= 1 and K >= 1"), fer::Error);
  CHECK_THROWS_WITH_AS(cpu::mse_loss_forward<double>(MseReduction::mean, 2, 0, z, z, &loss),
                       doctest::Contains("mse_loss_forward: inputs must be [N,D]"), fer::Error);
  CHECK_THROWS_AS(check_labels("tensor::cross_entropy", 2, 3, bad), fer::Error);
  CHECK_NOTHROW(check_labels("tensor::cross_entropy", 2, 3, ok));
}
