// tools/common/roc_auc.h against hand-computed values and a brute-force pair count; and the
// test-time-augmentation views of tools/common/checkpoint_model.h (mirror, ten crops).
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tools/common/checkpoint_model.h"
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
