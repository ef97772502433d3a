// data/sampler.cpp: inverse-frequency class weights, Philox shuffles and the three samplers.
#include "data/sampler.h"

#include <sstream>
#include <utility>

#include "kernels/common.h"
#include "kernels/philox.h"

namespace fer::data {

uint64_t uniform_index(uint64_t seed, uint64_t stream, uint64_t offset, uint64_t m) {
  return (static_cast<uint64_t>(philox::random_u32(seed, stream, offset)) * m) >> 32;
}

void shuffle_in_place(std::vector<int64_t>& v, uint64_t seed, uint64_t stream) {
  const uint64_t n = v.size();
  FER_CHECK(n <= (uint64_t{1} << 32), "shuffle: " << n << " elements is more than 2^32");
  // Classic Fisher-Yates from the back: swap v[i] with v[j], j uniform in [0, i].
  for (uint64_t t = 0; t + 1 < n; ++t) {
    const uint64_t i = n - 1 - t;
    const uint64_t j = uniform_index(seed, stream, t, i + 1);
    std::swap(v[i], v[j]);
  }
}

ClassWeights inverse_frequency_weights(const Dataset& ds, const std::vector<int64_t>& indices) {
  ClassWeights cw = inverse_frequency_weights(ds.labels, indices, ds.num_classes());
  cw.warnings.clear();  // the same warnings, naming the classes
  for (int c = 0; c < ds.num_classes(); ++c)
    if (cw.counts[c] == 0)
      cw.warnings.push_back("class " + std::to_string(c) + " (" + ds.classes.names[c] +
                            ") has no training images: weight 0 (it cannot be learned)");
  return cw;
}

ClassWeights inverse_frequency_weights(const std::vector<int32_t>& labels, const std::vector<int64_t>& indices,
                                       int num_classes) {
  FER_CHECK(num_classes > 0, "class weights: num_classes must be positive, got " << num_classes);
  ClassWeights cw;
  cw.counts.assign(num_classes, 0);
  for (int64_t i : indices) {
    FER_CHECK(i >= 0 && i < static_cast<int64_t>(labels.size()),
              "class weights: index " << i << " is outside 0.." << static_cast<int64_t>(labels.size()) - 1);
    const int32_t y = labels[i];
    FER_CHECK(y >= 0 && y < num_classes, "class weights: label " << y << " of image " << i << " is outside 0.."
                                                                 << num_classes - 1);
    cw.counts[y]++;
  }
  cw.total = static_cast<int64_t>(indices.size());
  FER_CHECK(cw.total > 0, "class weights: the split is empty (no images to count classes on)");
  cw.weights.assign(num_classes, 0.0);
  for (int c = 0; c < num_classes; ++c) {
    if (cw.counts[c] == 0) {
      std::ostringstream os;
      os << "class " << c << " has no training images: weight 0 (it cannot be learned)";
      cw.warnings.push_back(os.str());
      continue;
    }
    cw.weights[c] = static_cast<double>(cw.total) / (static_cast<double>(num_classes) * static_cast<double>(cw.counts[c]));
  }
  return cw;
}

SamplerKind sampler_from_name(std::string_view name) {
  if (name == "sequential") return SamplerKind::sequential;
  if (name == "shuffled" || name == "shuffle") return SamplerKind::shuffled;
  if (name == "balanced") return SamplerKind::balanced;
  FER_FAIL("sampler: unknown sampler '" << name << "'; expected sequential, shuffled or balanced");
}

const char* sampler_name(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::sequential: return "sequential";
    case SamplerKind::shuffled: return "shuffled";
    case SamplerKind::balanced: return "balanced";
  }
  return "?";
}

Sampler::Sampler(SamplerKind kind, std::vector<int64_t> pool, const std::vector<int32_t>& labels, int num_classes,
                 uint64_t seed, int64_t epoch_size)
    : kind_(kind), pool_(std::move(pool)), seed_(seed) {
  FER_CHECK(!pool_.empty(), "sampler: the pool of images to sample from is empty");
  FER_CHECK(epoch_size >= 0, "sampler: epoch_size must be >= 0 (0 = pool size), got " << epoch_size);
  epoch_size_ = (kind_ == SamplerKind::balanced && epoch_size > 0) ? epoch_size : static_cast<int64_t>(pool_.size());
  if (kind_ == SamplerKind::balanced) {
    std::vector<std::vector<int64_t>> members(num_classes);
    for (int64_t i : pool_) {
      FER_CHECK(i >= 0 && i < static_cast<int64_t>(labels.size()),
                "sampler: pool index " << i << " is outside 0.." << static_cast<int64_t>(labels.size()) - 1);
      FER_CHECK(labels[i] >= 0 && labels[i] < num_classes,
                "sampler: label " << labels[i] << " of image " << i << " is outside 0.." << num_classes - 1);
      members[labels[i]].push_back(i);
    }
    for (auto& m : members)
      if (!m.empty()) by_class_.push_back(std::move(m));
  }
}

std::vector<int64_t> Sampler::epoch(int64_t epoch) const {
  FER_CHECK(epoch >= 0, "sampler: epoch must be >= 0, got " << epoch);
  const uint64_t e = static_cast<uint64_t>(epoch) & 0xFFFFFFFFull;
  switch (kind_) {
    case SamplerKind::sequential: return pool_;
    case SamplerKind::shuffled: {
      std::vector<int64_t> order = pool_;
      shuffle_in_place(order, seed_, kStreamShuffle | e);
      return order;
    }
    case SamplerKind::balanced: {
      // Draw t uses offsets 2t (which class) and 2t+1 (which member of it).
      std::vector<int64_t> order(epoch_size_);
      const uint64_t stream = kStreamBalanced | e;
      const uint64_t k = by_class_.size();
      for (int64_t t = 0; t < epoch_size_; ++t) {
        const auto& members = by_class_[uniform_index(seed_, stream, 2 * static_cast<uint64_t>(t), k)];
        order[t] = members[uniform_index(seed_, stream, 2 * static_cast<uint64_t>(t) + 1, members.size())];
      }
      return order;
    }
  }
  return {};
}

}  // namespace fer::data
