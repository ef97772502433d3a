// data/resample_leak.cpp: the train/evaluation leak guard (pixel hashes) and R004's flawed protocol.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "data/pixel_hash.h"
#include "data/resample.h"
#include "data/sampler.h"
#include "kernels/common.h"

namespace fer::data {

namespace {

bool test_side(Split s) {
  return s == Split::public_test || s == Split::private_test || s == Split::test;
}

std::string example_line(const Dataset& train, int64_t t, const Dataset& eval_ds, int64_t e) {
  std::ostringstream os;
  os << eval_ds.sources[e] << " (" << split_name(eval_ds.splits[e]) << ", " << eval_ds.classes.names[eval_ds.labels[e]]
     << ") = train " << train.sources[t] << " (" << train.classes.names[train.labels[t]] << ")";
  return os.str();
}

// Appends the leaked images of one list to `rep`; returns how many of the list leaked.
int64_t scan(const Dataset& train, const Dataset& eval_ds, const std::vector<int64_t>& eval_indices, LeakReport& rep,
             std::vector<int64_t>* test_count, std::vector<int64_t>* val_count) {
  const std::vector<int64_t> m = match_images(train, nullptr, eval_ds, &eval_indices);
  int64_t n = 0;
  for (size_t k = 0; k < eval_indices.size(); ++k) {
    if (m[k] < 0) continue;
    const int64_t e = eval_indices[k];
    ++n;
    rep.leaked.push_back(e);
    if (test_count && val_count) (test_side(eval_ds.splits[e]) ? *test_count : *val_count).push_back(e);
    if (rep.examples.size() < 5) rep.examples.push_back(example_line(train, m[k], eval_ds, e));
  }
  rep.eval_images += static_cast<int64_t>(eval_indices.size());
  return n;
}

void finish(LeakReport& rep) {
  std::sort(rep.leaked.begin(), rep.leaked.end());
  rep.leaked.erase(std::unique(rep.leaked.begin(), rep.leaked.end()), rep.leaked.end());
}

}  // namespace

LeakReport leak_report(const Dataset& train, const Dataset& eval_ds, const std::vector<int64_t>& eval_indices) {
  LeakReport rep;
  std::vector<int64_t> t, v;
  scan(train, eval_ds, eval_indices, rep, &t, &v);
  rep.train_test_overlap = static_cast<int64_t>(t.size());
  rep.train_val_overlap = static_cast<int64_t>(v.size());
  finish(rep);
  return rep;
}

LeakReport leak_report(const Dataset& train, const Dataset& eval_ds, const std::vector<int64_t>& val_indices,
                       const std::vector<int64_t>& test_indices) {
  LeakReport rep;
  rep.train_val_overlap = scan(train, eval_ds, val_indices, rep, nullptr, nullptr);
  rep.train_test_overlap = scan(train, eval_ds, test_indices, rep, nullptr, nullptr);
  finish(rep);
  return rep;
}

void check_no_leak(const Dataset& train, const Dataset& eval_ds, const std::vector<int64_t>& eval_indices,
                   std::string_view what) {
  const LeakReport rep = leak_report(train, eval_ds, eval_indices);
  if (rep.leaked.empty()) return;
  std::ostringstream os;
  os << "leak guard: " << rep.leaked.size() << " of " << eval_indices.size() << " " << what
     << " images have pixels identical to images of the training set (" << train.size()
     << " images), so evaluating on them would score memorised faces; e.g. ";
  for (size_t i = 0; i < rep.examples.size() && i < 2; ++i) os << (i ? "; " : "") << rep.examples[i];
  os << ". Hint: resample only the training split, never before splitting (R004); FER2013's official "
        "PublicTest/PrivateTest already share images with Training: evaluate on without_leaks(...) and report "
        "it beside the whole split";
  FER_FAIL(os.str());
}

std::vector<int64_t> without_leaks(const Dataset& train, const Dataset& eval_ds,
                                   const std::vector<int64_t>& eval_indices) {
  const std::vector<int64_t> m = match_images(train, nullptr, eval_ds, &eval_indices);
  std::vector<int64_t> out;
  for (size_t k = 0; k < eval_indices.size(); ++k)
    if (m[k] < 0) out.push_back(eval_indices[k]);
  return out;
}

R004Split r004_resample_then_split(const Dataset& ds, const std::vector<int64_t>& pool, ResampleMethod method,
                                   const ResampleOptions& options, double val_fraction, double test_fraction) {
  FER_CHECK(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1,
            "r004_resample_then_split: fractions val " << val_fraction << " and test " << test_fraction
                                                       << " must be >= 0 with a sum below 1 (R004: 0.1 and 0.1)");
  R004Split out;
  out.resampled = resample(ds, pool, method, options);  // the mistake: resampling everything first
  const Dataset& all = out.resampled.train;
  const int64_t n = all.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  shuffle_in_place(order, options.seed, kStreamR004);
  const int64_t n_test = std::llround(test_fraction * static_cast<double>(n));
  const int64_t n_val = std::llround(val_fraction * static_cast<double>(n));
  out.test.assign(order.begin(), order.begin() + n_test);
  out.val.assign(order.begin() + n_test, order.begin() + n_test + n_val);
  out.train.assign(order.begin() + n_test + n_val, order.end());
  for (auto* v : {&out.train, &out.val, &out.test}) std::sort(v->begin(), v->end());
  out.leak = leak_report(subset(all, out.train), all, out.val, out.test);
  auto generated = [&](const std::vector<int64_t>& idx) {
    int64_t g = 0;
    for (int64_t i : idx) {
      const std::string& s = all.sources[i];
      g += (s.rfind("ros:", 0) == 0 || s.rfind("smote:", 0) == 0) ? 1 : 0;
    }
    return g;
  };
  out.generated_in_val = generated(out.val);
  out.generated_in_test = generated(out.test);
  return out;
}

}  // namespace fer::data
