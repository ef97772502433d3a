// data/splits.cpp: the split plan (train / val / test index lists) from a validation spec.
#include "data/splits.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "data/sampler.h"
#include "kernels/common.h"

namespace fer::data {

namespace {

// "Training 28709, PublicTest 3589": what the data has, for error messages.
std::string present_splits(const Dataset& ds) {
  const auto counts = split_counts(ds);
  std::ostringstream os;
  bool first = true;
  for (int s = 0; s < kNumSplits; ++s) {
    if (counts[s] == 0) continue;
    os << (first ? "" : ", ") << split_name(static_cast<Split>(s)) << " " << counts[s];
    first = false;
  }
  return first ? std::string("no images") : os.str();
}

std::vector<int64_t> merged(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  return a;
}

}  // namespace

std::pair<std::vector<int64_t>, std::vector<int64_t>> stratified_split(const Dataset& ds,
                                                                       const std::vector<int64_t>& pool,
                                                                       double fraction, uint64_t seed) {
  FER_CHECK(fraction > 0 && fraction < 1, "split: fraction " << fraction << " must be in (0, 1)");
  std::vector<std::vector<int64_t>> by_class(ds.num_classes());
  for (int64_t i : pool) by_class[ds.labels[i]].push_back(i);
  std::vector<int64_t> val, rest;
  for (int c = 0; c < ds.num_classes(); ++c) {
    std::vector<int64_t>& members = by_class[c];
    std::sort(members.begin(), members.end());  // the choice depends on the set, not on pool order
    shuffle_in_place(members, seed, kStreamSplit | static_cast<uint64_t>(c));
    const size_t k = static_cast<size_t>(std::llround(fraction * static_cast<double>(members.size())));
    val.insert(val.end(), members.begin(), members.begin() + k);
    rest.insert(rest.end(), members.begin() + k, members.end());
  }
  std::sort(val.begin(), val.end());
  std::sort(rest.begin(), rest.end());
  return {val, rest};
}

SplitPlan plan_splits(const Dataset& ds, std::string_view val_spec, uint64_t seed) {
  SplitPlan plan;
  const auto training = indices_of_split(ds, Split::training);
  const auto public_test = indices_of_split(ds, Split::public_test);
  const auto private_test = indices_of_split(ds, Split::private_test);
  const auto test_unknown = indices_of_split(ds, Split::test);
  const auto unknown = indices_of_split(ds, Split::unknown);

  // The training pool.
  std::vector<int64_t> pool = training;
  std::string pool_name = "Training";
  if (pool.empty() && !unknown.empty()) {
    pool = unknown;
    pool_name = "unknown-split images";
    plan.notes.push_back("no Training images: the " + std::to_string(unknown.size()) +
                         " images without a recorded split (no Usage column?) form the training pool");
  }
  FER_CHECK(!pool.empty(), "split: the training split is empty: " << ds.origin << " has " << present_splits(ds)
                                                                  << " (hint: train/ folder or Usage=Training rows)");

  // Validation.
  std::string spec(val_spec);
  const bool auto_spec = spec.empty() || spec == "auto";
  if (auto_spec) spec = public_test.empty() ? "split:0.1" : "publictest";
  plan.train = pool;
  plan.train_desc = pool_name;
  if (spec == "publictest") {
    FER_CHECK(!public_test.empty(), "split: validation 'publictest' is empty: " << ds.origin << " has "
                                        << present_splits(ds) << " (hint: use --val split:0.1 for a seeded stratified split)");
    plan.val = public_test;
    plan.val_desc = "PublicTest";
  } else if (spec == "privatetest") {
    FER_CHECK(!private_test.empty(), "split: validation 'privatetest' is empty: " << ds.origin << " has "
                                         << present_splits(ds) << " (hint: use --val publictest or split:0.1)");
    plan.val = private_test;
    plan.val_desc = "PrivateTest";
  } else if (spec.rfind("split:", 0) == 0) {
    const std::string num = spec.substr(6);
    char* end = nullptr;
    const double f = num.empty() ? 0.0 : std::strtod(num.c_str(), &end);
    FER_CHECK(!num.empty() && end && *end == '\0' && f > 0 && f < 1,
              "split: '" << spec << "' needs a fraction 0 < F < 1 after 'split:', e.g. split:0.1");
    auto [val, rest] = stratified_split(ds, pool, f, seed);
    FER_CHECK(!val.empty(), "split: validation '" << spec << "' is empty: " << pool.size() << " " << pool_name
                                                  << " images are too few for fraction " << f);
    FER_CHECK(!rest.empty(), "split: '" << spec << "' leaves no training images");
    plan.val = std::move(val);
    plan.train = std::move(rest);
    std::ostringstream os;
    os << spec << " of " << pool_name << " (stratified, seed " << seed << ")";
    plan.val_desc = os.str();
    plan.train_desc = pool_name + " minus validation";
  } else if (spec == "none") {
    plan.val_desc = "none";
  } else {
    FER_FAIL("split: unknown validation spec '" << val_spec << "'; expected auto, publictest, privatetest, "
                                                << "split:F (0 < F < 1, e.g. split:0.1) or none");
  }

  // Test.
  if (spec == "privatetest") {
    plan.test = merged(public_test, test_unknown);
    plan.test_desc = test_unknown.empty() ? "PublicTest" : "PublicTest + test";
  } else if (!private_test.empty()) {
    plan.test = private_test;
    plan.test_desc = "PrivateTest";
  } else {
    plan.test = merged(public_test, test_unknown);
    plan.test_desc = public_test.empty() ? "test" : (test_unknown.empty() ? "PublicTest" : "PublicTest + test");
    if (plan.test.empty()) plan.test_desc = "none";
  }
  if (!plan.test.empty() && !plan.val.empty() && plan.test == plan.val)
    plan.notes.push_back("test = validation (" + plan.val_desc + "): the data has no separate test images "
                         "(no PrivateTest); report it as " + plan.val_desc);
  else if (!plan.test.empty() && spec == "publictest" && !test_unknown.empty())
    plan.notes.push_back("test includes the validation images (PublicTest) and the unprefixed test/ images");
  if (auto_spec) plan.notes.push_back("validation: auto -> " + spec);
  return plan;
}

}  // namespace fer::data
