// tests/unit/test_data_sampler.cpp: class weights, samplers (permutations, determinism,
// resumability, balanced frequencies) and split plans (specs, stratification, errors).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "data/sampler.h"
#include "data/splits.h"
#include "data/synthetic.h"
#include "kernels/common.h"
#include "tests/unit/test_data_fixtures.h"

using namespace fer::data;

namespace {
// A dataset of blank images with the given labels and splits (pixels do not matter here).
Dataset labeled(const std::vector<int32_t>& labels, const std::vector<Split>& splits) {
  Dataset ds;
  ds.classes = fer7_classes();
  ds.origin = "test";
  std::vector<uint8_t> img(kImagePixels, 0);
  for (size_t i = 0; i < labels.size(); ++i) ds.push_back(img.data(), labels[i], splits[i], "img" + std::to_string(i));
  return ds;
}
// Labels with the FER2013 Training class counts (fer7 order).
std::vector<int32_t> fer_training_labels() {
  const int counts[7] = {3995, 436, 4097, 7215, 4830, 3171, 4965};
  std::vector<int32_t> y;
  for (int c = 0; c < 7; ++c) y.insert(y.end(), counts[c], c);
  return y;
}
std::vector<int64_t> iota_n(int64_t n) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}
}  // namespace

TEST_CASE("class weights: w_c = N / (K n_c); FER2013 Training counts give disgust 9.4066, happy 0.5684") {
  const auto y = fer_training_labels();
  const ClassWeights cw = inverse_frequency_weights(y, iota_n(static_cast<int64_t>(y.size())), 7);
  CHECK(cw.total == 28709);
  CHECK(cw.counts[1] == 436);
  CHECK(cw.weights[1] == doctest::Approx(9.4066).epsilon(1e-5));
  CHECK(cw.weights[3] == doctest::Approx(0.5684).epsilon(1e-4));
  CHECK(cw.weights[0] == doctest::Approx(28709.0 / (7 * 3995)));
  double weighted = 0;  // sum_c n_c w_c = N: the mean weight per image is 1
  for (int c = 0; c < 7; ++c) weighted += cw.counts[c] * cw.weights[c];
  CHECK(weighted == doctest::Approx(28709));
  CHECK(cw.warnings.empty());
}

TEST_CASE("class weights: an absent class gets 0 and a warning naming it; bad input is an error") {
  const Dataset ds = labeled({0, 0, 3, 3, 3, 6}, std::vector<Split>(6, Split::training));
  const ClassWeights cw = inverse_frequency_weights(ds, iota_n(6));
  CHECK(cw.weights[0] == doctest::Approx(6.0 / (7 * 2)));
  CHECK(cw.weights[1] == 0.0);
  REQUIRE(cw.warnings.size() == 4);
  CHECK(cw.warnings[0] == "class 1 (disgust) has no training images: weight 0 (it cannot be learned)");
  CHECK_THROWS_WITH_AS(inverse_frequency_weights(ds, {}), doctest::Contains("the split is empty"), fer::Error);
  CHECK_THROWS_WITH_AS(inverse_frequency_weights(ds, {9}), doctest::Contains("index 9 is outside 0..5"), fer::Error);
}

TEST_CASE("sampler: sequential and shuffled orders") {
  const std::vector<int64_t> pool = {5, 9, 2, 7, 11, 3, 8, 1, 4, 6};
  const std::vector<int32_t> labels(12, 0);
  const Sampler seq(SamplerKind::sequential, pool, labels, 7, 1);
  CHECK(seq.epoch(0) == pool);
  CHECK(seq.epoch(4) == pool);
  const Sampler sh(SamplerKind::shuffled, pool, labels, 7, 42);
  const auto e0 = sh.epoch(0), e1 = sh.epoch(1);
  auto sorted = [](std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  CHECK(sorted(e0) == sorted(pool));  // a permutation of the pool
  CHECK(sorted(e1) == sorted(pool));
  CHECK(e0 != e1);    // each epoch has its own order
  CHECK(e0 != pool);  // (fixed seed: this cannot flip from run to run)
  // Resumable: a fresh sampler with the same seed reproduces any epoch without replaying earlier ones.
  const Sampler again(SamplerKind::shuffled, pool, labels, 7, 42);
  CHECK(again.epoch(1) == e1);
  CHECK(again.epoch(0) == e0);
  CHECK(Sampler(SamplerKind::shuffled, pool, labels, 7, 43).epoch(0) != e0);
  // Uniformity of the shuffle: over many epochs, each element lands in each position about equally.
  std::vector<std::vector<int>> hits(10, std::vector<int>(10, 0));
  const std::vector<int64_t> p10 = iota_n(10);
  const Sampler u(SamplerKind::shuffled, p10, labels, 7, 7);
  const int epochs = 20000;
  for (int e = 0; e < epochs; ++e) {
    const auto o = u.epoch(e);
    for (int k = 0; k < 10; ++k) hits[o[k]][k]++;
  }
  int worst = 0;
  for (auto& row : hits)
    for (int h : row) worst = std::max(worst, std::abs(h - epochs / 10));
  CHECK(worst < 5 * 42);  // sigma = sqrt(20000 * 0.1 * 0.9) = 42.4
}

TEST_CASE("sampler: balanced draws every class equally often, members uniformly") {
  const auto y = fer_training_labels();
  const std::vector<int64_t> pool = iota_n(static_cast<int64_t>(y.size()));
  const Sampler bal(SamplerKind::balanced, pool, y, 7, 5, 70000);
  CHECK(bal.epoch_size() == 70000);
  const auto order = bal.epoch(3);
  REQUIRE(order.size() == 70000);
  std::vector<int64_t> per_class(7, 0);
  std::map<int64_t, int> disgust_hits;
  for (int64_t i : order) {
    REQUIRE((i >= 0 && i < static_cast<int64_t>(y.size())));
    per_class[y[i]]++;
    if (y[i] == 1) disgust_hits[i]++;
  }
  // Each class 10,000 expected; sigma = sqrt(70000 * 1/7 * 6/7) = 92.6.
  for (int c = 0; c < 7; ++c) {
    CAPTURE(c);
    CHECK(std::abs(per_class[c] - 10000) < 5 * 93);
  }
  // Disgust members (436) are each drawn about 10000/436 = 22.9 times: most of them are hit.
  CHECK(disgust_hits.size() > 420);
  CHECK(Sampler(SamplerKind::balanced, pool, y, 7, 5, 70000).epoch(3) == order);  // deterministic
  CHECK(bal.epoch(4) != order);
  // Default epoch size = pool size; only present classes are drawn.
  const Sampler small(SamplerKind::balanced, {0, 1, 2, 3}, {0, 0, 0, 5}, 7, 1);
  const auto o = small.epoch(0);
  CHECK(o.size() == 4);
  const auto many = Sampler(SamplerKind::balanced, {0, 1, 2, 3}, {0, 0, 0, 5}, 7, 1, 4000).epoch(0);
  CHECK(std::count(many.begin(), many.end(), 3) == doctest::Approx(2000).epsilon(0.08));
}

TEST_CASE("sampler: names and argument errors") {
  CHECK(sampler_from_name("balanced") == SamplerKind::balanced);
  CHECK(sampler_from_name("shuffle") == SamplerKind::shuffled);
  CHECK(std::string(sampler_name(SamplerKind::sequential)) == "sequential");
  CHECK_THROWS_WITH_AS(sampler_from_name("random"), doctest::Contains("expected sequential, shuffled or balanced"), fer::Error);
  CHECK_THROWS_WITH_AS(Sampler(SamplerKind::shuffled, {}, {}, 7, 1), doctest::Contains("pool"), fer::Error);
  CHECK_THROWS_WITH_AS(Sampler(SamplerKind::balanced, {0, 3}, {0, 1}, 7, 1), doctest::Contains("pool index 3"), fer::Error);
  for (uint64_t m : {1ull, 2ull, 7ull, 1000ull})
    for (uint64_t k = 0; k < 100; ++k) CHECK(uniform_index(9, 1, k, m) < m);
}

TEST_CASE("splits: auto/publictest on synthetic faces; test = validation is said out loud") {
  const Dataset ds = make_synthetic_faces(350, 1);
  const SplitPlan p = plan_splits(ds);
  CHECK(p.train == indices_of_split(ds, Split::training));
  CHECK(p.val == indices_of_split(ds, Split::public_test));
  CHECK(p.val_desc == "PublicTest");
  CHECK(p.test == p.val);
  bool noted = false;
  for (const auto& n : p.notes) noted |= n.find("test = validation (PublicTest)") != std::string::npos;
  CHECK(noted);
  const SplitPlan none = plan_splits(ds, "none");
  CHECK(none.val.empty());
  CHECK(none.train.size() == 280);
}

TEST_CASE("splits: split:F is stratified, seeded, disjoint and covers Training") {
  const Dataset ds = make_synthetic_faces(700, 2);  // 80 Training images per class
  const SplitPlan p = plan_splits(ds, "split:0.25", 9);
  const auto train_all = indices_of_split(ds, Split::training);
  CHECK(class_counts(ds, p.val) == std::vector<int64_t>(7, 20));
  CHECK(class_counts(ds, p.train) == std::vector<int64_t>(7, 60));
  std::vector<int64_t> both = p.train;
  both.insert(both.end(), p.val.begin(), p.val.end());
  std::sort(both.begin(), both.end());
  CHECK(both == train_all);
  CHECK(std::is_sorted(p.val.begin(), p.val.end()));
  CHECK(plan_splits(ds, "split:0.25", 9).val == p.val);
  CHECK(plan_splits(ds, "split:0.25", 10).val != p.val);
  CHECK(p.val_desc == "split:0.25 of Training (stratified, seed 9)");
  CHECK(p.test == indices_of_split(ds, Split::public_test));
}

TEST_CASE("splits: PrivateTest, unknown-only data and every error") {
  std::vector<int32_t> y;
  std::vector<Split> s;
  for (int i = 0; i < 70; ++i) {
    y.push_back(i % 7);
    s.push_back(i < 42 ? Split::training : i < 56 ? Split::public_test : Split::private_test);
  }
  const Dataset ds = labeled(y, s);
  const SplitPlan p = plan_splits(ds);
  CHECK(p.val_desc == "PublicTest");
  CHECK(p.test_desc == "PrivateTest");
  CHECK(p.test.front() == 56);
  const SplitPlan q = plan_splits(ds, "privatetest");
  CHECK(q.val.front() == 56);
  CHECK(q.test_desc == "PublicTest");

  const Dataset unk = labeled(std::vector<int32_t>(y.begin(), y.end()), std::vector<Split>(70, Split::unknown));
  const SplitPlan u = plan_splits(unk);  // no PublicTest -> split:0.1 of the unknown pool
  CHECK(u.val.size() == 7);
  CHECK(u.train.size() == 63);
  CHECK(u.test.empty());
  CHECK(u.test_desc == "none");

  const Dataset syn = make_synthetic_faces(70, 1);
  CHECK_THROWS_WITH_AS(plan_splits(syn, "privatetest"),
                       doctest::Contains("validation 'privatetest' is empty: synthetic(count=70, seed=1) has Training 56, "
                                         "PublicTest 14"),
                       fer::Error);
  CHECK_THROWS_WITH_AS(plan_splits(syn, "valid"),
                       doctest::Contains("unknown validation spec 'valid'; expected auto, publictest, privatetest, split:F"),
                       fer::Error);
  CHECK_THROWS_WITH_AS(plan_splits(syn, "split:1.5"), doctest::Contains("needs a fraction 0 < F < 1"), fer::Error);
  CHECK_THROWS_WITH_AS(plan_splits(syn, "split:abc"), doctest::Contains("needs a fraction 0 < F < 1"), fer::Error);
  CHECK_THROWS_WITH_AS(plan_splits(syn, "split:0.001"), doctest::Contains("validation 'split:0.001' is empty"), fer::Error);
  const Dataset only_test = labeled({0, 1}, {Split::public_test, Split::public_test});
  CHECK_THROWS_WITH_AS(plan_splits(only_test), doctest::Contains("the training split is empty"), fer::Error);
}

TEST_CASE("classes: fer7/fer6 sets and both source orders") {
  const ClassSet c7 = fer7_classes();
  CHECK(c7.names == std::vector<std::string>{"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"});
  CHECK(class_set_from_name("6").id == "fer6");
  CHECK(class_set_from_name("FER7").id == "fer7");
  CHECK_THROWS_WITH_AS(class_set_from_name("fer8"), doctest::Contains("expected fer7"), fer::Error);
  // Folder (alphabetical) order maps by name to the canonical order.
  const char* folders[7] = {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"};
  const int canonical[7] = {0, 1, 2, 3, 6, 4, 5};
  for (int k = 0; k < 7; ++k) CHECK(fer7_from_folder_name(folders[k]) == canonical[k]);
  CHECK(fer7_from_folder_name("contempt") == -1);
  CHECK(fer7_from_csv_label(6) == 6);
  CHECK(fer7_from_csv_label(7) == -1);
  CHECK(fer7_from_csv_label(-1) == -1);
  const ClassSet c6 = fer6_classes();
  CHECK(c6.from_fer7 == std::vector<int>{0, -1, 1, 2, 3, 4, 5});
  CHECK(c6.index_of("Neutral") == 5);
  CHECK(c6.index_of("disgust") == -1);
  const Dataset ds = labeled({0, 1, 2, 6}, std::vector<Split>(4, Split::training));
  const Dataset d6 = to_class_set(ds, c6);
  CHECK(d6.labels == std::vector<int32_t>{0, 1, 5});
  CHECK(d6.sources == std::vector<std::string>{"img0", "img2", "img3"});
  CHECK_THROWS_AS(to_class_set(d6, c6), fer::Error);
  CHECK(describe(ds).find("Training 4: angry=1 disgust=1 fear=1") != std::string::npos);
}
