// tools/common/roc_auc.h against hand-computed values and a brute-force pair count, the ROC curve
// points (sklearn's roc_curve with drop_intermediate=False) and their area == the AUC; and the
// test-time-augmentation views of tools/common/checkpoint_model.h (mirror, ten crops).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tools/common/checkpoint_model.h"
#include "kernels/common.h"
#include "tools/common/roc_auc.h"

using fer::tools::roc_auc;

namespace {

// P(pos > neg) + 0.5 P(pos == neg) over all pairs.
double brute_auc(const std::vector<double>& s, const std::vector<int32_t>& y) {
  double num = 0, den = 0;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = 0; j < s.size(); ++j)
      if (y[i] && !y[j]) {
        den += 1;
        num += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
      }
  return num / den;
}

}  // namespace

TEST_CASE("roc_auc: hand-computed values") {
  // sklearn's roc_auc_score example: pairs (0.35 vs 0.1, 0.4), (0.8 vs 0.1, 0.4) -> 3 of 4.
  CHECK(roc_auc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}) == doctest::Approx(0.75));
  // ties: positives {2, 3}, negatives {1, 2}: 1 + 0.5 + 1 + 1 = 3.5 of 4.
  CHECK(roc_auc({1, 2, 2, 3}, {0, 1, 0, 1}) == doctest::Approx(0.875));
  CHECK(roc_auc({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}) == doctest::Approx(0.5));
  CHECK(roc_auc({0.1, 0.2, 0.9, 0.8}, {0, 0, 1, 1}) == 1.0);
  CHECK(roc_auc({0.9, 0.8, 0.1, 0.2}, {0, 0, 1, 1}) == 0.0);
  // unequal class sizes: positive 0.6 beats 0.2, 0.5 and ties none; positive 0.3 beats 0.2 only -> 4 of 6.
  CHECK(roc_auc({0.2, 0.6, 0.5, 0.3, 0.7}, {0, 1, 0, 1, 0}) == doctest::Approx(3.0 / 6.0));
  CHECK(std::isnan(roc_auc({0.1, 0.2}, {1, 1})));
  CHECK(std::isnan(roc_auc({0.1, 0.2}, {0, 0})));
  CHECK_THROWS_WITH(roc_auc({0.1}, {0, 1}), doctest::Contains("1 scores but 2 labels"));
}

TEST_CASE("roc_auc: equals the pair count on random, tie-heavy scores") {
  std::mt19937 gen(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> s;
    std::vector<int32_t> y;
    for (int i = 0; i < 60; ++i) {
      s.push_back(std::floor(u(gen) * 8) / 8);  // 8 levels: many ties
      y.push_back(u(gen) < 0.3 ? 1 : 0);
    }
    y[0] = 1;
    y[1] = 0;
    CHECK(roc_auc(s, y) == doctest::Approx(brute_auc(s, y)).epsilon(1e-12));
  }
}

TEST_CASE("roc_auc_ovr: one AUC per class, NaN without positives, macro mean over the finite ones") {
  // 3 samples x 3 classes; class 2 has no true sample.
  const std::vector<int32_t> t = {0, 1, 0};
  const std::vector<float> p = {0.7f, 0.2f, 0.1f,   //
                                0.3f, 0.6f, 0.1f,   //
                                0.2f, 0.5f, 0.3f};  //
  const auto auc = fer::tools::roc_auc_ovr(t, p, 3);
  REQUIRE(auc.size() == 3);
  CHECK(auc[0] == doctest::Approx(0.5));  // positives 0.7, 0.2 vs negative 0.3: 1 of 2
  CHECK(auc[1] == doctest::Approx(1.0));  // positive 0.6 vs 0.2, 0.5
  CHECK(std::isnan(auc[2]));
  CHECK(fer::tools::mean_finite(auc) == doctest::Approx(0.75));
}

TEST_CASE("roc_curve: hand-computed points, tied scores, undefined curves") {
  using fer::tools::roc_curve;
  const double inf = std::numeric_limits<double>::infinity();
  // sklearn's roc_curve example: descending 0.8 (pos), 0.4 (neg), 0.35 (pos), 0.1 (neg).
  const auto a = roc_curve({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1});
  REQUIRE(a.defined());
  CHECK(a.thresholds == std::vector<double>{inf, 0.8, 0.4, 0.35, 0.1});
  CHECK(a.fpr == std::vector<double>{0, 0, 0.5, 0.5, 1});
  CHECK(a.tpr == std::vector<double>{0, 0.5, 0.5, 1, 1});
  CHECK(fer::tools::roc_curve_area(a) == doctest::Approx(0.75));
  // Ties make one (diagonal) step: 3 (pos); 2 (pos and neg); 1 (neg).
  const auto t = roc_curve({1, 2, 2, 3}, {0, 1, 0, 1});
  CHECK(t.thresholds == std::vector<double>{inf, 3, 2, 1});
  CHECK(t.fpr == std::vector<double>{0, 0, 0.5, 1});
  CHECK(t.tpr == std::vector<double>{0, 0.5, 1, 1});
  CHECK(fer::tools::roc_curve_area(t) == doctest::Approx(0.875));
  // All scores equal: one step straight from (0, 0) to (1, 1).
  const auto e = roc_curve({0.5, 0.5, 0.5}, {1, 0, 0});
  CHECK(e.thresholds == std::vector<double>{inf, 0.5});
  CHECK(e.fpr == std::vector<double>{0, 1});
  CHECK(e.tpr == std::vector<double>{0, 1});
  CHECK(fer::tools::roc_curve_area(e) == doctest::Approx(0.5));
  // Unequal class sizes (3 negatives, 2 positives): 0.7 n, 0.6 p, 0.5 n, 0.3 p, 0.2 n.
  const auto u = roc_curve({0.2, 0.6, 0.5, 0.3, 0.7}, {0, 1, 0, 1, 0});
  CHECK(u.fpr == std::vector<double>{0, 1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1});
  CHECK(u.tpr == std::vector<double>{0, 0, 0.5, 0.5, 1, 1});
  CHECK(fer::tools::roc_curve_area(u) == doctest::Approx(0.5));

  const auto np = roc_curve({0.1, 0.2}, {0, 0});
  CHECK_FALSE(np.defined());
  CHECK(np.undefined_reason == "no positives");
  CHECK(std::isnan(fer::tools::roc_curve_area(np)));
  CHECK(roc_curve({0.1, 0.2}, {1, 1}).undefined_reason == "no negatives");
  CHECK(roc_curve({}, {}).undefined_reason == "no samples");
  CHECK_THROWS_WITH(roc_curve({0.1}, {0, 1}), doctest::Contains("1 scores but 2 labels"));
}

TEST_CASE("roc_curve_ovr: one curve per class, none for a class without positives; the CSV") {
  const std::vector<int32_t> t = {0, 1, 0};  // class 2 has no true sample
  const std::vector<float> p = {0.7f, 0.2f, 0.1f,   //
                                0.3f, 0.6f, 0.1f,   //
                                0.2f, 0.5f, 0.3f};  //
  const auto c = fer::tools::roc_curve_ovr(t, p, 3);
  REQUIRE(c.size() == 3);
  // class 0: 0.7 (pos), 0.3 (neg), 0.2 (pos).
  CHECK(c[0].thresholds == std::vector<double>{std::numeric_limits<double>::infinity(), 0.7f, 0.3f, 0.2f});
  CHECK(c[0].fpr == std::vector<double>{0, 0, 1, 1});
  CHECK(c[0].tpr == std::vector<double>{0, 0.5, 0.5, 1});
  // class 1: 0.6 (pos), 0.5 (neg), 0.2 (neg).
  CHECK(c[1].fpr == std::vector<double>{0, 0, 0.5, 1});
  CHECK(c[1].tpr == std::vector<double>{0, 1, 1, 1});
  CHECK_FALSE(c[2].defined());
  CHECK(c[2].undefined_reason == "no positives");
  const std::string csv = fer::tools::roc_curves_to_csv(c, {"a", "b,c", "d"});
  CHECK(csv ==
        "class,threshold,fpr,tpr\n"
        "a,inf,0,0\na,0.6999999881,0,0.5\na,0.3000000119,1,0.5\na,0.200000003,1,1\n"
        "\"b,c\",inf,0,0\n\"b,c\",0.6000000238,0,1\n\"b,c\",0.5,0.5,1\n\"b,c\",0.200000003,1,1\n"
        "d,,,\n");
  CHECK_THROWS_WITH(fer::tools::roc_curves_to_csv(c, {"a"}), doctest::Contains("3 curves but 1 class names"));
}

TEST_CASE("roc_curve_ovr: the trapezoid area of each curve equals roc_auc_ovr on random, tie-heavy data") {
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int k = 5;
  for (int trial = 0; trial < 10; ++trial) {
    const size_t n = 40 + 10 * static_cast<size_t>(trial);
    std::vector<int32_t> t(n);
    std::vector<float> p(n * k);
    for (size_t i = 0; i < n; ++i) {
      t[i] = static_cast<int32_t>(u(gen) * (k - 1));  // class k-1 never occurs
      for (int c = 0; c < k; ++c)
        p[i * k + static_cast<size_t>(c)] = static_cast<float>(trial % 2 ? std::floor(u(gen) * 6) / 6 : u(gen));
    }
    const auto auc = fer::tools::roc_auc_ovr(t, p, k);
    const auto curves = fer::tools::roc_curve_ovr(t, p, k);
    REQUIRE(curves.size() == static_cast<size_t>(k));
    for (int c = 0; c < k; ++c) {
      const auto& cv = curves[static_cast<size_t>(c)];
      INFO("trial " << trial << " class " << c);
      if (std::isnan(auc[static_cast<size_t>(c)])) {
        CHECK_FALSE(cv.defined());
        continue;
      }
      REQUIRE(cv.defined());
      CHECK(fer::tools::roc_curve_area(cv) == doctest::Approx(auc[static_cast<size_t>(c)]).epsilon(1e-12));
      CHECK(cv.fpr.front() == 0);
      CHECK(cv.tpr.front() == 0);
      CHECK(cv.fpr.back() == 1);
      CHECK(cv.tpr.back() == 1);
      for (size_t i = 1; i < cv.fpr.size(); ++i) {
        CHECK(cv.thresholds[i] < cv.thresholds[i - 1]);
        CHECK(cv.fpr[i] >= cv.fpr[i - 1]);
        CHECK(cv.tpr[i] >= cv.tpr[i - 1]);
      }
    }
    CHECK_FALSE(curves[k - 1].defined());
  }
}

TEST_CASE("TTA views: hflip_images mirrors rows, ten_crop_images follows torchvision's TenCrop order") {
  // x [1, 1, 4, 4], x[r][c] = 4 r + c.
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  const fer::Tensor x = fer::Tensor::from_vector(v, {1, 1, 4, 4});
  const auto f = fer::tools::hflip_images(x).to_vector<float>();
  CHECK(f == std::vector<float>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12});
  const fer::Tensor y = fer::tools::ten_crop_images(x, 2);
  REQUIRE(y.shape() == fer::Shape{10, 1, 2, 2});
  const auto c = y.to_vector<float>();
  auto view = [&](int k) { return std::vector<float>(c.begin() + 4 * k, c.begin() + 4 * k + 4); };
  CHECK(view(0) == std::vector<float>{0, 1, 4, 5});      // top-left
  CHECK(view(1) == std::vector<float>{2, 3, 6, 7});      // top-right
  CHECK(view(2) == std::vector<float>{8, 9, 12, 13});    // bottom-left
  CHECK(view(3) == std::vector<float>{10, 11, 14, 15});  // bottom-right
  CHECK(view(4) == std::vector<float>{5, 6, 9, 10});     // centre
  CHECK(view(5) == std::vector<float>{3, 2, 7, 6});      // top-left of the mirror
  CHECK(view(9) == std::vector<float>{6, 5, 10, 9});     // centre of the mirror
}

TEST_CASE("roc_auc / roc_curve: a NaN score is a clear error, not a hang") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> scores = {0.2, nan, 0.7, 0.7};
  const std::vector<int32_t> labels = {0, 1, 1, 0};
  CHECK_THROWS_WITH_AS(fer::tools::roc_auc(scores, labels), doctest::Contains("roc_auc: score 1 is NaN"), fer::Error);
  CHECK_THROWS_WITH_AS(fer::tools::roc_curve(scores, labels), doctest::Contains("roc_curve: score 1 is NaN"), fer::Error);
  const std::vector<float> probs = {0.5f, 0.5f, std::numeric_limits<float>::quiet_NaN(), 0.5f};
  CHECK_THROWS_AS(fer::tools::roc_auc_ovr({0, 1}, probs, 2), fer::Error);
  CHECK_THROWS_AS(fer::tools::roc_curve_ovr({0, 1}, probs, 2), fer::Error);
  // +-infinity orders fine
  CHECK(fer::tools::roc_auc({-std::numeric_limits<double>::infinity(), 0.1, std::numeric_limits<double>::infinity()},
                            {0, 0, 1}) == 1.0);
}
