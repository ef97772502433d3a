// tests/unit/test_resample.cpp: exact pixel-space k-NN (GEMM path == integer loops, ties, duplicates),
// ROS / SMOTE / Tomek / ENN on hand-made datasets, determinism by seed, the leak guard, and R004's
// resample-then-split protocol leaking.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <sstream>
#include <string>

#include "data/knn.h"
#include "data/pixel_hash.h"
#include "data/resample.h"
#include "data/sampler.h"
#include "kernels/common.h"
#include "kernels/philox.h"

using namespace fer::data;

namespace {

constexpr uint64_t kTestStream = 0x54455354ull << 32;  // "TEST"

Dataset empty_fer7() {
  Dataset ds;
  ds.classes = fer7_classes();
  ds.origin = "test";
  return ds;
}

std::string name_of(const char* prefix, int64_t i) {
  std::ostringstream os;
  os << prefix << i;
  return os.str();
}

// A constant image (all 2,304 pixels = v): d(v, w) = 2304 (v - w)^2, so distances order like |v - w|.
void push_constant(Dataset& ds, int v, int32_t label, Split split = Split::training) {
  std::vector<uint8_t> img(kImagePixels, static_cast<uint8_t>(v));
  ds.push_back(img.data(), label, split, name_of("const", v));
}

// A random image: pixel p uniform in [lo, lo + span) from Philox(seed, TEST | id).
std::vector<uint8_t> random_image(uint64_t seed, uint64_t id, int lo, int span) {
  std::vector<uint8_t> img(kImagePixels);
  for (int p = 0; p < kImagePixels; ++p)
    img[p] = static_cast<uint8_t>(lo + static_cast<int>(uniform_index(seed, kTestStream | id, p, span)));
  return img;
}

// n random images of class `label` (ids id0, id0+1, ...).
void push_random(Dataset& ds, int n, int32_t label, uint64_t id0, Split split = Split::training) {
  for (int i = 0; i < n; ++i)
    ds.push_back(random_image(7, id0 + i, 0, 256).data(), label, split, name_of("rand", static_cast<int64_t>(id0 + i)));
}

std::vector<int64_t> iota_n(int64_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

// Brute-force oracle: all distances, sort by (distance, index).
std::vector<std::pair<int64_t, int64_t>> oracle(const Dataset& ds, const std::vector<int64_t>& ref, int64_t q,
                                                bool exclude_self) {
  std::vector<std::pair<int64_t, int64_t>> all;
  for (int64_t j : ref) {
    if (exclude_self && j == q) continue;
    int64_t s = 0;
    for (int p = 0; p < kImagePixels; ++p) {
      const int64_t d = int64_t{ds.image(q)[p]} - int64_t{ds.image(j)[p]};
      s += d * d;
    }
    all.emplace_back(s, j);
  }
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

TEST_CASE("knn: gemm path equals the integer loops and a sort, near-identical bright images, ties, duplicates") {
  Dataset ds = empty_fer7();
  // Bright images (norms ~ 7e7, where float rounding of a.b is far larger than the distances between
  // these images): a base and variants differing in one or two pixels by 1..3 levels.
  const std::vector<uint8_t> base = random_image(3, 1000, 120, 136);
  for (int v = 0; v < 60; ++v) {
    std::vector<uint8_t> img = base;
    img[(v * 37) % kImagePixels] = static_cast<uint8_t>(img[(v * 37) % kImagePixels] - 1 - v % 3);
    if (v % 2) img[(v * 91 + 5) % kImagePixels] = static_cast<uint8_t>(img[(v * 91 + 5) % kImagePixels] - 1);
    ds.push_back(img.data(), v % 7, Split::training, name_of("var", v));
  }
  // Exact duplicates (distance 0 between different indices) and random images.
  ds.push_back(base.data(), 0, Split::training, "base");
  ds.push_back(base.data(), 3, Split::training, "base again");
  ds.push_back(ds.image(5), 2, Split::training, "copy of 5");
  push_random(ds, 150, 4, 2000);
  // Constant images: equal distances (ties) to both sides.
  for (int v : {40, 44, 48, 52, 56}) push_constant(ds, v, 6);
  const std::vector<int64_t> all = iota_n(ds.size());
  // References in a scrambled order: the result must not depend on it.
  std::vector<int64_t> ref = all;
  std::reverse(ref.begin(), ref.end());
  std::rotate(ref.begin(), ref.begin() + 17, ref.end());
  for (bool self : {true, false}) {
    for (int k : {1, 5, 12}) {
      KnnOptions g, l;
      g.exclude_self = l.exclude_self = self;
      g.method = KnnMethod::gemm;
      l.method = KnnMethod::loops;
      const Neighbours a = knn(ds, ref, all, k, g);
      const Neighbours b = knn(ds, ref, all, k, l);
      CHECK(a.index == b.index);
      CHECK(a.dist2 == b.dist2);
      for (int64_t q = 0; q < ds.size(); q += 7) {
        const auto o = oracle(ds, all, q, self);
        for (int t = 0; t < k; ++t) {
          CHECK(a.row(q)[t] == o[t].second);
          CHECK(a.row_dist2(q)[t] == o[t].first);
        }
      }
    }
  }
  // Duplicates are each other's neighbours at distance 0; with self allowed the image itself comes first.
  const Neighbours nn = knn(ds, all, all, 2);
  CHECK(nn.row(60)[0] == 61);
  CHECK(nn.row_dist2(60)[0] == 0);
  CHECK(nn.row(61)[0] == 60);
  KnnOptions with_self;
  with_self.exclude_self = false;
  const Neighbours ws = knn(ds, all, {62}, 2, with_self);
  CHECK(ws.row(0)[0] == 5);  // equal distance 0 to itself (62) and to 5: the smaller index first
  CHECK(ws.row(0)[1] == 62);
  // Tie: constant 48 is at the same distance from 44 and 52; the smaller index wins.
  const int64_t c48 = ds.size() - 3;
  const Neighbours t = knn(ds, all, {c48}, 2);
  CHECK(t.row(0)[0] == c48 - 1);
  CHECK(t.row(0)[1] == c48 + 1);
  CHECK(t.row_dist2(0)[0] == 2304 * 16);
}

TEST_CASE("knn: one list against itself over several 2048-blocks (symmetric tiles) matches the loops") {
  Dataset ds = empty_fer7();
  std::vector<std::vector<uint8_t>> bases;
  for (int b = 0; b < 4; ++b) bases.push_back(random_image(5, 3000 + b, 110, 146));
  for (int i = 0; i < 2600; ++i) {
    if (i % 50 == 49) {  // an exact duplicate of an earlier image
      ds.push_back(ds.image(i / 2), i % 7, Split::training, name_of("dup", i));
      continue;
    }
    std::vector<uint8_t> img = bases[i % 4];
    for (int t = 0; t < 3; ++t) {
      const int p = static_cast<int>(uniform_index(5, kTestStream | 9000, 3 * i + t, kImagePixels));
      img[p] = static_cast<uint8_t>(img[p] - 1 - (i + t) % 4);
    }
    ds.push_back(img.data(), i % 7, Split::training, name_of("v", i));
  }
  const std::vector<int64_t> all = iota_n(ds.size());
  KnnOptions g;
  g.method = KnnMethod::gemm;
  const Neighbours a = knn(ds, all, all, 3, g);
  std::vector<int64_t> spot;
  for (int64_t q = 0; q < ds.size(); q += 23) spot.push_back(q);
  spot.push_back(ds.size() - 1);
  KnnOptions l;
  l.method = KnnMethod::loops;
  const Neighbours b = knn(ds, all, spot, 3, l);
  int64_t mismatches = 0;
  for (size_t t = 0; t < spot.size(); ++t)
    for (int c = 0; c < 3; ++c)
      mismatches += (a.row(spot[t])[c] != b.row(static_cast<int64_t>(t))[c] ||
                     a.row_dist2(spot[t])[c] != b.row_dist2(static_cast<int64_t>(t))[c]);
  CHECK(mismatches == 0);
  CHECK(a.row(99)[0] == 24);  // image 99 copies 49, itself a copy of 24: distance 0, smallest index first
  CHECK(a.row_dist2(99)[0] == 0);
}

TEST_CASE("knn: padding when fewer than k candidates, bad arguments") {
  Dataset ds = empty_fer7();
  for (int v : {0, 10, 20}) push_constant(ds, v, 0);
  const Neighbours nn = knn(ds, {0, 1, 2}, {0}, 4);
  CHECK(nn.row(0)[0] == 1);
  CHECK(nn.row(0)[1] == 2);
  CHECK(nn.row(0)[2] == -1);
  CHECK(nn.row_dist2(0)[3] == -1);
  CHECK(squared_distance(ds.image(0), ds.image(2)) == 2304 * 400);
  CHECK_THROWS_WITH_AS(knn(ds, {0, 1, 1}, {0}, 1), doctest::Contains("listed twice"), fer::Error);
  CHECK_THROWS_WITH_AS(knn(ds, {0, 5}, {0}, 1), doctest::Contains("outside 0..2"), fer::Error);
  CHECK_THROWS_WITH_AS(knn(ds, {0, 1}, {0}, 0), doctest::Contains("k must be >= 1"), fer::Error);
}

TEST_CASE("resample: method names") {
  CHECK(resample_method_from_name("none") == ResampleMethod::none);
  CHECK(resample_method_from_name("ROS") == ResampleMethod::ros);
  CHECK(resample_method_from_name("smote") == ResampleMethod::smote);
  CHECK(resample_method_from_name("smote-tomek") == ResampleMethod::smote_tomek);
  CHECK(resample_method_from_name("smote_enn") == ResampleMethod::smote_enn);
  CHECK(std::string(resample_method_name(ResampleMethod::smote_tomek)) == "smote_tomek");
  CHECK_THROWS_WITH_AS(resample_method_from_name("adasyn"),
                       doctest::Contains("expected one of none, ros, smote, smote_tomek, smote_enn"), fer::Error);
}

TEST_CASE("resample: ROS equalises the counts with copies of each class's own training images") {
  Dataset ds = empty_fer7();
  push_random(ds, 9, 3, 0);                        // happy: majority
  push_random(ds, 2, 1, 100);                      // disgust
  push_random(ds, 5, 0, 200);                      // angry
  push_random(ds, 4, 0, 300, Split::public_test);  // not training: must stay out
  std::vector<int64_t> train;
  for (int64_t i = 0; i < ds.size(); ++i)
    if (ds.splits[i] == Split::training) train.push_back(i);
  ResampleOptions opt;
  opt.seed = 11;
  const Resampled r = resample(ds, train, ResampleMethod::ros, opt);
  CHECK(r.counts_before == std::vector<int64_t>{5, 2, 0, 9, 0, 0, 0});
  CHECK(r.counts_after == std::vector<int64_t>{9, 9, 0, 9, 0, 0, 0});
  CHECK(r.added == 4 + 7);
  CHECK(r.removed == 0);
  REQUIRE(r.train.size() == 16 + 11);
  r.train.validate();
  // Originals first, in the given order; then copies, all Training, each identical to a training
  // image of its own class (never to a PublicTest image).
  for (int64_t i = 0; i < 16; ++i) CHECK(std::memcmp(r.train.image(i), ds.image(train[i]), kImagePixels) == 0);
  const std::vector<int64_t> m = match_images(ds, &train, r.train, nullptr);
  for (int64_t i = 0; i < r.train.size(); ++i) {
    REQUIRE(m[i] >= 0);
    CHECK(ds.labels[m[i]] == r.train.labels[i]);
    CHECK(r.train.splits[i] == Split::training);
  }
  CHECK(r.train.sources[16].rfind("ros:angry:0=rand", 0) == 0);
  CHECK(r.train.sources[20].rfind("ros:disgust:0=rand", 0) == 0);
  // A class without training images is named in the notes.
  bool noted = false;
  for (const auto& n : r.notes) noted |= n.find("fear has no training images") != std::string::npos;
  CHECK(noted);
  // Nothing to do for `none`.
  const Resampled none = resample(ds, train, ResampleMethod::none, opt);
  CHECK(none.train.size() == 16);
  CHECK(none.counts_after == none.counts_before);
  CHECK_THROWS_WITH_AS(resample(ds, {0, 1, 0}, ResampleMethod::ros, opt), doctest::Contains("listed twice"),
                       fer::Error);
}

TEST_CASE("resample: SMOTE samples lie on segments between a training image and one of its k same-class neighbours") {
  Dataset ds = empty_fer7();
  push_random(ds, 12, 6, 0);   // neutral: majority
  push_random(ds, 6, 2, 100);  // fear
  push_random(ds, 3, 5, 200);  // surprise: k = 2 only (3 members)
  ResampleOptions opt;
  opt.seed = 5;
  opt.k = 3;
  const std::vector<int64_t> train = iota_n(ds.size());
  const Resampled r = resample(ds, train, ResampleMethod::smote, opt);
  CHECK(r.counts_after == std::vector<int64_t>{0, 0, 12, 0, 0, 12, 12});
  CHECK(r.added == 6 + 9);
  REQUIRE(r.train.size() == 21 + 15);
  r.train.validate();
  CHECK(r.train.sources[21] == "smote:fear:0");
  CHECK(r.train.sources[35] == "smote:surprise:8");
  int on_segment = 0, strictly_inside = 0;
  for (int64_t s = 21; s < r.train.size(); ++s) {
    const int32_t c = r.train.labels[s];
    CHECK(r.train.splits[s] == Split::training);
    std::vector<int64_t> members;
    for (int64_t i : train)
      if (ds.labels[i] == c) members.push_back(i);
    const int kk = std::min<int>(opt.k, static_cast<int>(members.size()) - 1);
    const Neighbours nn = knn(ds, members, members, kk);
    const uint8_t* z = r.train.image(s);
    bool found = false;
    for (size_t b = 0; b < members.size() && !found; ++b) {
      for (int t = 0; t < kk && !found; ++t) {
        const uint8_t* x = ds.image(members[b]);
        const uint8_t* y = ds.image(nn.row(static_cast<int64_t>(b))[t]);
        // Least-squares u of z ~ x + u (y - x), then every pixel within the rounding (0.5).
        double num = 0, den = 0;
        for (int p = 0; p < kImagePixels; ++p) {
          num += (double(z[p]) - x[p]) * (double(y[p]) - x[p]);
          den += (double(y[p]) - x[p]) * (double(y[p]) - x[p]);
        }
        const double u = num / den;
        if (u < -1e-9 || u > 1 + 1e-9) continue;
        double worst = 0;
        for (int p = 0; p < kImagePixels; ++p)
          worst = std::max(worst, std::fabs(z[p] - (x[p] + u * (double(y[p]) - x[p]))));
        if (worst <= 0.6) {  // 0.5 rounding + the least-squares error of u (a wrong segment is off by tens)
          found = true;
          strictly_inside += (u > 0.01 && u < 0.99) ? 1 : 0;
        }
      }
    }
    CHECK_MESSAGE(found, "synthetic image " << s << " (" << r.train.sources[s] << ") is on no neighbour segment");
    on_segment += found ? 1 : 0;
  }
  CHECK(on_segment == 15);
  CHECK(strictly_inside >= 10);  // u ~ U[0,1): most samples are real interpolations, not copies
}

TEST_CASE("resample: same seed, same bytes; another seed, other samples") {
  Dataset ds = empty_fer7();
  push_random(ds, 10, 3, 0);
  push_random(ds, 4, 1, 100);
  const std::vector<int64_t> train = iota_n(ds.size());
  for (ResampleMethod m : {ResampleMethod::ros, ResampleMethod::smote, ResampleMethod::smote_enn}) {
    ResampleOptions a, b;
    a.seed = b.seed = 42;
    const Resampled r1 = resample(ds, train, m, a);
    const Resampled r2 = resample(ds, train, m, b);
    CHECK(r1.train.pixels == r2.train.pixels);
    CHECK(r1.train.sources == r2.train.sources);
    b.seed = 43;
    const Resampled r3 = resample(ds, train, m, b);
    CHECK(r3.train.pixels != r1.train.pixels);
    // The order of the training list does not change the generated images.
    std::vector<int64_t> rev = train;
    std::reverse(rev.begin(), rev.end());
    const Resampled r4 = resample(ds, rev, m, a);
    REQUIRE(r4.train.size() == r1.train.size());
    const int64_t n = static_cast<int64_t>(train.size());
    if (m != ResampleMethod::smote_enn)
      CHECK(std::memcmp(r4.train.image(n), r1.train.image(n), (r1.train.size() - n) * size_t{kImagePixels}) == 0);
  }
}

TEST_CASE("resample: Tomek links on a constructed line of constant images") {
  // Values (distance order = |v - w|):  angry 0 10 30 | happy 34 47 62 80 95.
  // 1-NN: 0<->10 (same class), 30<->34 (a Tomek link), 47->34, 62->47, 80<->95 (same class).
  Dataset ds = empty_fer7();
  for (int v : {0, 10, 30}) push_constant(ds, v, 0);
  for (int v : {34, 47, 62, 80, 95}) push_constant(ds, v, 3);
  const std::vector<int64_t> all = iota_n(ds.size());
  CHECK(tomek_removals(ds, all, CleaningStrategy::all) == std::vector<int64_t>{2, 3});
  // imblearn 'auto' = not minority: angry (3 images) is the minority, only the happy member goes.
  CHECK(tomek_removals(ds, all) == std::vector<int64_t>{3});
  // Between two non-minority classes both members go: add a smaller third class far away.
  push_constant(ds, 200, 5);
  CHECK(tomek_removals(ds, iota_n(ds.size())) == std::vector<int64_t>{2, 3});
}

TEST_CASE("resample: ENN (k = 3) on constructed clusters, kind_sel all and mode, strategies") {
  // angry 0 3 7 12 | happy outlier 16 | happy 100..105 | angry outlier 130.
  Dataset ds = empty_fer7();
  for (int v : {0, 3, 7, 12}) push_constant(ds, v, 0);       // 0..3
  push_constant(ds, 16, 3);                                  // 4: neighbours 12 7 3, all angry
  for (int v = 100; v <= 105; ++v) push_constant(ds, v, 3);  // 5..10
  push_constant(ds, 130, 0);                                 // 11: neighbours 105 104 103, all happy
  const std::vector<int64_t> all = iota_n(ds.size());
  // angry 12 has neighbours 16 (happy), 7, 3: removed by 'all', kept by 'mode'.
  CHECK(enn_removals(ds, all, 3, EnnKind::all, CleaningStrategy::all) == std::vector<int64_t>{3, 4, 11});
  CHECK(enn_removals(ds, all, 3, EnnKind::mode, CleaningStrategy::all) == std::vector<int64_t>{4, 11});
  // 'auto' (not minority): angry (5) is the minority, only happy images may go.
  CHECK(enn_removals(ds, all, 3, EnnKind::all, CleaningStrategy::not_minority) == std::vector<int64_t>{4});
}

TEST_CASE("resample: SMOTE+Tomek and SMOTE+ENN remove what the cleaning rule says, after oversampling") {
  Dataset ds = empty_fer7();
  push_random(ds, 8, 3, 0);
  push_random(ds, 3, 0, 100);
  push_constant(ds, 0, 0);
  push_constant(ds, 0, 3);  // the same pixels under two labels: a Tomek link at distance 0
  ResampleOptions opt;
  opt.seed = 3;
  opt.k = 2;
  const std::vector<int64_t> train = iota_n(ds.size());
  const Resampled plain = resample(ds, train, ResampleMethod::smote, opt);
  for (ResampleMethod m : {ResampleMethod::smote_tomek, ResampleMethod::smote_enn}) {
    const Resampled r = resample(ds, train, m, opt);
    const std::vector<int64_t> expect =
        m == ResampleMethod::smote_tomek
            ? tomek_removals(plain.train, iota_n(plain.train.size()), CleaningStrategy::all)
            : enn_removals(plain.train, iota_n(plain.train.size()), 3, EnnKind::all, CleaningStrategy::all);
    CHECK(r.added == plain.added);
    CHECK(r.removed == static_cast<int64_t>(expect.size()));
    CHECK(r.train.size() == plain.train.size() - r.removed);
    std::set<int64_t> gone(expect.begin(), expect.end());
    if (m == ResampleMethod::smote_tomek) {
      CHECK(gone.count(11) == 1);  // the conflicting pair
      CHECK(gone.count(12) == 1);
    }
    int64_t at = 0;
    for (int64_t i = 0; i < plain.train.size(); ++i)
      if (!gone.count(i)) CHECK(r.train.sources[at++] == plain.train.sources[i]);
  }
}

TEST_CASE("leak guard: fires on a planted duplicate, not otherwise; resampling the training split alone is clean") {
  Dataset ds = empty_fer7();
  push_random(ds, 10, 3, 0);
  push_random(ds, 3, 1, 100);
  push_random(ds, 5, 3, 500, Split::public_test);
  push_random(ds, 2, 1, 600, Split::public_test);
  const std::vector<int64_t> train = indices_of_split(ds, Split::training);
  const std::vector<int64_t> test = indices_of_split(ds, Split::public_test);
  for (ResampleMethod m : {ResampleMethod::ros, ResampleMethod::smote}) {
    const Resampled r = resample(ds, train, m, {});
    CHECK_NOTHROW(check_no_leak(r.train, ds, test, "PublicTest"));
    const LeakReport rep = leak_report(r.train, ds, test);
    CHECK(rep.leaked.empty());
    CHECK(rep.eval_images == 7);
    CHECK(without_leaks(r.train, ds, test) == test);
  }
  // Plant a copy of training image 11 (disgust) into PublicTest.
  Dataset leaky = ds;
  leaky.push_back(ds.image(11), 1, Split::public_test, "planted");
  const std::vector<int64_t> test2 = indices_of_split(leaky, Split::public_test);
  const Resampled r = resample(leaky, train, ResampleMethod::ros, {});
  CHECK_THROWS_WITH_AS(check_no_leak(r.train, leaky, test2, "PublicTest"),
                       doctest::Contains("leak guard: 1 of 8 PublicTest images"), fer::Error);
  const LeakReport rep = leak_report(r.train, leaky, test2);
  CHECK(rep.train_test_overlap == 1);
  CHECK(rep.train_val_overlap == 0);
  CHECK(rep.leaked == std::vector<int64_t>{leaky.size() - 1});
  REQUIRE(rep.examples.size() == 1);
  CHECK(rep.examples[0].find("planted (PublicTest, disgust) = train rand101 (disgust)") != std::string::npos);
  CHECK(without_leaks(r.train, leaky, test2) == test);
  // Validation carved out of Training counts as validation; separate lists count separately.
  const LeakReport v = leak_report(r.train, leaky, std::vector<int64_t>{0, 1});
  CHECK(v.train_val_overlap == 2);
  CHECK(v.train_test_overlap == 0);
  const LeakReport both = leak_report(r.train, leaky, std::vector<int64_t>{0}, test2);
  CHECK(both.train_val_overlap == 1);
  CHECK(both.train_test_overlap == 1);
  CHECK(both.leaked.size() == 2);
}

TEST_CASE("leak guard: R004's protocol (resample everything, then split) leaks; without resampling it does not") {
  Dataset ds = empty_fer7();
  push_random(ds, 80, 3, 0);
  push_random(ds, 8, 1, 1000);
  push_random(ds, 20, 0, 2000);
  const std::vector<int64_t> pool = iota_n(ds.size());
  ResampleOptions opt;
  opt.seed = 9;
  const R004Split none = r004_resample_then_split(ds, pool, ResampleMethod::none, opt);
  CHECK(none.train.size() + none.val.size() + none.test.size() == 108);
  CHECK(none.test.size() == 11);
  CHECK(none.val.size() == 11);
  CHECK(none.leak.leaked.empty());  // all images distinct: an honest random split
  const R004Split ros = r004_resample_then_split(ds, pool, ResampleMethod::ros, opt);
  CHECK(ros.resampled.train.size() == 240);
  CHECK(ros.test.size() == 24);
  // 72 disgust images are copies of 8: almost every disgust test image has a twin in train.
  CHECK(ros.leak.train_test_overlap >= 5);
  CHECK(ros.leak.train_val_overlap >= 5);
  CHECK(ros.generated_in_test > 0);
  MESSAGE("R004 with ROS on 108 images: " << ros.leak.train_test_overlap << " of " << ros.test.size() << " test and "
                                          << ros.leak.train_val_overlap << " of " << ros.val.size()
                                          << " validation images are pixel copies of training images");
  const R004Split sm = r004_resample_then_split(ds, pool, ResampleMethod::smote, opt);
  CHECK(sm.generated_in_test > 0);  // SMOTE samples (interpolated training faces) in the test split
  // The same split is reproducible.
  const R004Split ros2 = r004_resample_then_split(ds, pool, ResampleMethod::ros, opt);
  CHECK(ros2.test == ros.test);
  CHECK_THROWS_WITH_AS(r004_resample_then_split(ds, pool, ResampleMethod::ros, opt, 0.5, 0.5),
                       doctest::Contains("sum below 1"), fer::Error);
}
