// tests/unit/test_data_hash.cpp: FNV-1a vectors, duplicate groups and split overlap on constructed
// duplicates (same pixels under the same and under different labels).
#include <doctest/doctest.h>

#include <cstring>

#include "data/pixel_hash.h"
#include "kernels/common.h"
#include "tests/unit/test_data_fixtures.h"

using namespace fer::data;
using fer::test::pattern;

namespace {
// Images by pattern id, with labels and splits.
Dataset build(const std::vector<int>& pats, const std::vector<int32_t>& labels, const std::vector<Split>& splits) {
  Dataset ds;
  ds.classes = fer7_classes();
  for (size_t i = 0; i < pats.size(); ++i)
    ds.push_back(pattern(pats[i]).data(), labels[i], splits[i], "img" + std::to_string(i));
  return ds;
}
}  // namespace

TEST_CASE("hash: FNV-1a 64 reference values") {
  CHECK(fnv1a64(nullptr, 0) == 0xcbf29ce484222325ull);
  const uint8_t a[] = {'a'};
  CHECK(fnv1a64(a, 1) == 0xaf63dc4c8601ec8cull);
  const uint8_t foobar[] = {'f', 'o', 'o', 'b', 'a', 'r'};
  CHECK(fnv1a64(foobar, 6) == 0x85944171f73967e8ull);
  CHECK(pixel_hash(pattern(1).data()) == fnv1a64(pattern(1).data(), kImagePixels));
  CHECK(pixel_hash(pattern(1).data()) != pixel_hash(pattern(2).data()));
}

TEST_CASE("hash: duplicate groups, conflicting labels, overlap between splits") {
  using S = Split;
  // index:          0  1  2  3  4  5  6
  // pattern:        A  B  A  C  B  A  D
  const Dataset ds = build({1, 2, 1, 3, 2, 1, 4}, {0, 3, 0, 5, 4, 0, 6},
                           {S::training, S::training, S::public_test, S::training, S::public_test, S::private_test,
                            S::public_test});
  const std::vector<uint64_t> h = pixel_hashes(ds);
  CHECK(h[0] == h[2]);
  CHECK(h[0] != h[1]);
  const DuplicateReport rep = find_duplicates(ds);
  REQUIRE(rep.groups.size() == 2);
  CHECK(rep.groups[0].members == std::vector<int64_t>{0, 2, 5});
  CHECK_FALSE(rep.groups[0].conflicting_labels);
  CHECK(rep.groups[1].members == std::vector<int64_t>{1, 4});
  CHECK(rep.groups[1].conflicting_labels);  // happy vs sad: a cross-label duplicate
  CHECK(rep.images_in_groups == 5);
  CHECK(rep.conflicting_groups == 1);
  CHECK(rep.redundant_images == 3);
  // Only among some images.
  const DuplicateReport sub = find_duplicates(ds, {0, 1, 3, 4, 6});
  REQUIRE(sub.groups.size() == 1);
  CHECK(sub.groups[0].members == std::vector<int64_t>{1, 4});
  // Which evaluation images also occur in Training.
  CHECK(find_overlap(ds, indices_of_split(ds, S::training), indices_of_split(ds, S::public_test)) ==
        std::vector<int64_t>{2, 4});
  const auto ov = training_overlap(ds);
  REQUIRE(ov.size() == 2);
  CHECK(ov[0].split == S::public_test);
  CHECK(ov[0].images == 3);
  CHECK(ov[0].in_training == std::vector<int64_t>{2, 4});
  CHECK(ov[1].split == S::private_test);
  CHECK(ov[1].in_training == std::vector<int64_t>{5});
}

TEST_CASE("hash: match_images across datasets; near-identical images are not duplicates") {
  using S = Split;
  const Dataset ref = build({1, 2, 3, 2}, {0, 1, 2, 3}, {S::training, S::training, S::training, S::training});
  std::vector<uint8_t> almost = pattern(3);
  almost[100] ^= 1;  // one bit differs
  Dataset query = build({2, 5}, {0, 0}, {S::unknown, S::unknown});
  query.push_back(almost.data(), 0, S::unknown, "almost");
  const auto m = match_images(ref, nullptr, query, nullptr);
  CHECK(m == std::vector<int64_t>{1, -1, -1});  // the smallest matching reference index
  const std::vector<int64_t> only3 = {3};
  CHECK(match_images(ref, &only3, query, nullptr) == std::vector<int64_t>{3, -1, -1});
  CHECK(find_duplicates(query).groups.empty());
  CHECK_THROWS_WITH_AS(find_duplicates(ref, {7}), doctest::Contains("index 7 is outside 0..3"), fer::Error);
}
