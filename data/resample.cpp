// data/resample.cpp: ROS, SMOTE, Tomek links and ENN on the training split (imblearn semantics).
#include "data/resample.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <sstream>
#include <utility>

#include "data/knn.h"
#include "data/sampler.h"
#include "kernels/common.h"
#include "kernels/philox.h"

namespace fer::data {

ResampleMethod resample_method_from_name(std::string_view name) {
  std::string s(name);
  for (char& ch : s) ch = ch == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (s == "none") return ResampleMethod::none;
  if (s == "ros") return ResampleMethod::ros;
  if (s == "smote") return ResampleMethod::smote;
  if (s == "smote_tomek" || s == "smotetomek") return ResampleMethod::smote_tomek;
  if (s == "smote_enn" || s == "smoteenn") return ResampleMethod::smote_enn;
  FER_FAIL("resample: unknown method '" << name << "'; expected one of none, ros, smote, smote_tomek, smote_enn");
}

const char* resample_method_name(ResampleMethod method) {
  switch (method) {
    case ResampleMethod::none:
      return "none";
    case ResampleMethod::ros:
      return "ros";
    case ResampleMethod::smote:
      return "smote";
    case ResampleMethod::smote_tomek:
      return "smote_tomek";
    case ResampleMethod::smote_enn:
      return "smote_enn";
  }
  return "?";
}

namespace {

void check_index_list(const Dataset& ds, const std::vector<int64_t>& indices, const char* what) {
  for (int64_t i : indices)
    FER_CHECK(i >= 0 && i < ds.size(), what << ": index " << i << " is outside 0.." << ds.size() - 1);
  std::vector<int64_t> sorted = indices;
  std::sort(sorted.begin(), sorted.end());
  const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  FER_CHECK(dup == sorted.end(),
            what << ": index " << *dup
                 << " is listed twice; hint: pass each training image once (resample it, not the list)");
}

// Classes a cleaning rule may remove from: all, or all but the minority (fewest images among the
// classes present in `indices`; ties to the smaller class index).
std::vector<char> cleanable_classes(const Dataset& ds, const std::vector<int64_t>& indices, CleaningStrategy strategy) {
  std::vector<char> ok(ds.num_classes(), 1);
  if (strategy == CleaningStrategy::all) return ok;
  const std::vector<int64_t> counts = class_counts(ds, indices);
  int minority = -1;
  for (int c = 0; c < ds.num_classes(); ++c)
    if (counts[c] > 0 && (minority < 0 || counts[c] < counts[minority])) minority = c;
  if (minority >= 0) ok[minority] = 0;
  return ok;
}

std::vector<int64_t> count_in(const Dataset& ds) {
  return class_counts(ds);
}

std::string counts_text(const Dataset& ds, const std::vector<int64_t>& counts) {
  std::ostringstream os;
  for (int c = 0; c < ds.num_classes(); ++c) os << (c ? ", " : "") << ds.classes.names[c] << " " << counts[c];
  return os.str();
}

}  // namespace

std::vector<int64_t> tomek_removals(const Dataset& ds, const std::vector<int64_t>& indices, CleaningStrategy strategy) {
  check_index_list(ds, indices, "tomek_removals");
  const std::vector<char> ok = cleanable_classes(ds, indices, strategy);
  const Neighbours nn = knn(ds, indices, indices, 1);
  // Position of each dataset index in `indices`, to look up the neighbour's own neighbour.
  std::vector<int64_t> sorted(indices.size());
  std::iota(sorted.begin(), sorted.end(), int64_t{0});
  std::sort(sorted.begin(), sorted.end(), [&](int64_t a, int64_t b) { return indices[a] < indices[b]; });
  auto position = [&](int64_t idx) {
    const auto it =
        std::lower_bound(sorted.begin(), sorted.end(), idx, [&](int64_t pos, int64_t v) { return indices[pos] < v; });
    return *it;
  };
  std::vector<int64_t> out;
  for (size_t q = 0; q < indices.size(); ++q) {
    const int64_t i = indices[q];
    const int64_t j = nn.row(static_cast<int64_t>(q))[0];
    if (j < 0 || ds.labels[j] == ds.labels[i] || !ok[ds.labels[i]]) continue;
    if (nn.row(position(j))[0] == i) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> enn_removals(const Dataset& ds, const std::vector<int64_t>& indices, int k, EnnKind kind,
                                  CleaningStrategy strategy) {
  check_index_list(ds, indices, "enn_removals");
  FER_CHECK(k >= 1, "enn_removals: k must be >= 1, got " << k);
  const std::vector<char> ok = cleanable_classes(ds, indices, strategy);
  const Neighbours nn = knn(ds, indices, indices, k);
  std::vector<int64_t> out;
  std::vector<int> votes(ds.num_classes());
  for (size_t q = 0; q < indices.size(); ++q) {
    const int64_t i = indices[q];
    const int32_t y = ds.labels[i];
    if (!ok[y]) continue;
    const int64_t* row = nn.row(static_cast<int64_t>(q));
    bool keep;
    if (kind == EnnKind::all) {
      keep = true;
      for (int t = 0; t < k; ++t)
        if (row[t] >= 0 && ds.labels[row[t]] != y) keep = false;
    } else {
      std::fill(votes.begin(), votes.end(), 0);
      for (int t = 0; t < k; ++t)
        if (row[t] >= 0) votes[ds.labels[row[t]]]++;
      // scipy.stats.mode: the most frequent label, ties to the smallest.
      const int mode = static_cast<int>(std::max_element(votes.begin(), votes.end()) - votes.begin());
      keep = votes[mode] == 0 || mode == y;
    }
    if (!keep) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Resampled resample(const Dataset& ds, const std::vector<int64_t>& train_indices, ResampleMethod method,
                   const ResampleOptions& options) {
  check_index_list(ds, train_indices, "resample");
  FER_CHECK(options.k >= 1, "resample: k (SMOTE neighbours) must be >= 1, got " << options.k);
  FER_CHECK(options.enn_k >= 1, "resample: enn_k must be >= 1, got " << options.enn_k);
  const int K = ds.num_classes();
  Resampled res;
  res.counts_before = class_counts(ds, train_indices);
  res.train = subset(ds, train_indices);
  const int64_t n_orig = res.train.size();
  if (method == ResampleMethod::none) {
    res.counts_after = res.counts_before;
    std::ostringstream os;
    os << "resample none: " << n_orig << " training images as they are";
    res.notes.push_back(os.str());
    return res;
  }

  // Members of each class, ascending dataset index (independent of the order of train_indices).
  std::vector<std::vector<int64_t>> members(K);
  {
    std::vector<int64_t> sorted = train_indices;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i : sorted) members[ds.labels[i]].push_back(i);
  }
  int majority = 0;
  for (int c = 1; c < K; ++c)
    if (res.counts_before[c] > res.counts_before[majority]) majority = c;
  const int64_t n_max = res.counts_before[majority];
  {
    std::ostringstream os;
    os << resample_method_name(method) << ": target " << n_max << " images per class (majority "
       << ds.classes.names[majority] << ", imblearn 'auto'), before: " << counts_text(ds, res.counts_before);
    res.notes.push_back(os.str());
  }

  const bool smote = method != ResampleMethod::ros;
  for (int c = 0; c < K; ++c) {
    const std::vector<int64_t>& m = members[c];
    const int64_t n_c = static_cast<int64_t>(m.size());
    const int64_t need = n_max - n_c;
    if (need <= 0) continue;
    const std::string& name = ds.classes.names[c];
    if (n_c == 0) {
      std::ostringstream os;
      os << "class " << name << " has no training images: nothing to oversample, it stays at 0";
      res.notes.push_back(os.str());
      continue;
    }
    if (!smote || n_c == 1) {
      if (smote) {
        std::ostringstream os;
        os << "smote: class " << name << " has a single training image; its " << need
           << " new images are copies (nothing to interpolate with)";
        res.notes.push_back(os.str());
      }
      const uint64_t stream = kStreamRos | static_cast<uint64_t>(c);
      for (int64_t s = 0; s < need; ++s) {
        const int64_t j = m[uniform_index(options.seed, stream, static_cast<uint64_t>(s), static_cast<uint64_t>(n_c))];
        std::ostringstream src;
        src << "ros:" << name << ":" << s << "=" << ds.sources[j];
        res.train.push_back(ds.image(j), c, Split::training, src.str());
      }
      res.added += need;
      continue;
    }
    const int kk = static_cast<int>(std::min<int64_t>(options.k, n_c - 1));
    if (kk < options.k) {
      std::ostringstream os;
      os << "smote: class " << name << " has " << n_c << " training images, so k = " << kk << " instead of "
         << options.k;
      res.notes.push_back(os.str());
    }
    const Neighbours nn = knn(ds, m, m, kk);
    const uint64_t stream = kStreamSmote | static_cast<uint64_t>(c);
    const size_t first = res.train.pixels.size();
    res.train.pixels.resize(first + static_cast<size_t>(need) * kImagePixels);
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < need; ++s) {
      const uint64_t r = uniform_index(options.seed, stream, 2 * static_cast<uint64_t>(s),
                                       static_cast<uint64_t>(n_c) * static_cast<uint64_t>(kk));
      const int64_t base = static_cast<int64_t>(r / static_cast<uint64_t>(kk));
      const int col = static_cast<int>(r % static_cast<uint64_t>(kk));
      const double u = philox::uniform(options.seed, stream, 2 * static_cast<uint64_t>(s) + 1);
      const uint8_t* x = ds.image(m[base]);
      const uint8_t* y = ds.image(nn.row(base)[col]);
      uint8_t* out = res.train.pixels.data() + first + static_cast<size_t>(s) * kImagePixels;
      for (int p = 0; p < kImagePixels; ++p) {
        const double v = x[p] + u * (static_cast<double>(y[p]) - static_cast<double>(x[p]));
        out[p] = static_cast<uint8_t>(std::floor(v + 0.5));
      }
    }
    for (int64_t s = 0; s < need; ++s) {
      std::ostringstream src;
      src << "smote:" << name << ":" << s;
      res.train.labels.push_back(c);
      res.train.splits.push_back(Split::training);
      res.train.sources.push_back(src.str());
    }
    res.added += need;
  }
  {
    std::ostringstream os;
    if (smote)
      os << "smote: k = " << options.k << " same-class neighbours (exact pixel-space k-NN), new = x + u (x_nn - x),"
         << " u ~ U[0,1) (Philox, seed " << options.seed << "), rounded half up to 8 bits; ";
    else
      os << "ros: copies drawn uniformly with replacement within each class (Philox, seed " << options.seed << "); ";
    os << res.added << " images added";
    res.notes.push_back(os.str());
  }

  if (method == ResampleMethod::smote_tomek || method == ResampleMethod::smote_enn) {
    std::vector<int64_t> all(res.train.size());
    std::iota(all.begin(), all.end(), int64_t{0});
    const std::vector<int64_t> drop =
        method == ResampleMethod::smote_tomek
            ? tomek_removals(res.train, all, CleaningStrategy::all)
            : enn_removals(res.train, all, options.enn_k, options.enn_kind, CleaningStrategy::all);
    std::vector<char> gone(res.train.size(), 0);
    int64_t gone_orig = 0;
    for (int64_t i : drop) {
      gone[i] = 1;
      gone_orig += i < n_orig ? 1 : 0;
    }
    std::vector<int64_t> keep;
    keep.reserve(all.size() - drop.size());
    for (int64_t i : all)
      if (!gone[i]) keep.push_back(i);
    res.train = subset(res.train, keep);
    res.removed = static_cast<int64_t>(drop.size());
    std::ostringstream os;
    if (method == ResampleMethod::smote_tomek)
      os << "tomek: removed both members of every Tomek link (mutual 1-NN, different labels; imblearn SMOTETomek's"
         << " TomekLinks(sampling_strategy='all')): ";
    else
      os << "enn: removed every image whose " << options.enn_k << " nearest neighbours "
         << (options.enn_kind == EnnKind::all ? "do not all carry its label (kind_sel='all')"
                                              : "mostly carry another label (kind_sel='mode')")
         << ", imblearn SMOTEENN's EditedNearestNeighbours(sampling_strategy='all'): ";
    os << res.removed << " images (" << gone_orig << " original, " << res.removed - gone_orig << " generated)";
    res.notes.push_back(os.str());
  }
  res.counts_after = count_in(res.train);
  res.notes.push_back(std::string("after: ") + counts_text(ds, res.counts_after));
  return res;
}

}  // namespace fer::data
