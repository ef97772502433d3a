// data/sampler.h: class weights and the epoch orders a training loop walks (all seeded, Philox).
//
// Class weights (inverse frequency on the training split), K = number of classes of the set:
//     w_c = N / (K * n_c)        N = training images, n_c = training images of class c
//   FER2013 Training (N = 28,709, K = 7): disgust 9.4066, happy 0.5684. A class with n_c = 0 gets
//   w_c = 0 and a warning (it cannot be learned and its loss term would divide by zero).
// Samplers: an epoch is a list of dataset indices drawn from a pool (e.g. the training indices).
//   sequential  the pool in its order, every epoch.
//   shuffled    a permutation of the pool: Fisher-Yates driven by Philox(seed, stream SHUF|epoch).
//   balanced    epoch_size draws WITH replacement, P(j) = w_j / sum_i w_i with w_j = N / n_{class(j)}:
//               every class present in the pool is equally likely, members of a class equally
//               likely within it. Drawn exactly that way: class = uniform over present classes,
//               then member = uniform within the class (Philox(seed, stream BALA|epoch)).
// An epoch's order depends only on (seed, epoch number, pool, labels): resuming at epoch e gives
// the very orders of the uninterrupted run, with no generator state to save.
// Uniform integers in [0, m) are (u32 * m) >> 32: bias below m / 2^32 (< 1e-5 for FER sizes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.h"

namespace fer::data {

// Philox stream ids owned by data/ (high 32 bits = an ASCII tag, low 32 bits = a sub-stream).
inline constexpr uint64_t kStreamShuffle = 0x53485546ull << 32;    // "SHUF" | epoch
inline constexpr uint64_t kStreamBalanced = 0x42414C41ull << 32;   // "BALA" | epoch
inline constexpr uint64_t kStreamSplit = 0x53504C54ull << 32;      // "SPLT" | class
inline constexpr uint64_t kStreamSynthetic = 0x53594E46ull << 32;  // "SYNF" | image index

// Uniform integer in [0, m) from the 32-bit Philox number (seed, stream, offset); m <= 2^32.
uint64_t uniform_index(uint64_t seed, uint64_t stream, uint64_t offset, uint64_t m);
// Fisher-Yates shuffle of v driven by Philox(seed, stream): step t (i = n-1-t) uses offset t.
void shuffle_in_place(std::vector<int64_t>& v, uint64_t seed, uint64_t stream);

struct ClassWeights {
  std::vector<double> weights;        // per class, w_c = N / (K n_c); 0 for a class absent from the split
  std::vector<int64_t> counts;        // n_c
  int64_t total = 0;                  // N
  std::vector<std::string> warnings;  // one line per absent class
};
// Inverse-frequency weights over the images at `indices` (normally the training split).
ClassWeights inverse_frequency_weights(const Dataset& ds, const std::vector<int64_t>& indices);
ClassWeights inverse_frequency_weights(const std::vector<int32_t>& labels, const std::vector<int64_t>& indices,
                                       int num_classes);

enum class SamplerKind { sequential, shuffled, balanced };
// "sequential" | "shuffled" (or "shuffle") | "balanced"; anything else is a fer::Error.
SamplerKind sampler_from_name(std::string_view name);
const char* sampler_name(SamplerKind kind);

class Sampler {
 public:
  // pool: dataset indices to draw from; labels: the dataset's labels (indexed by dataset index);
  // epoch_size: draws per epoch for `balanced` (0 = pool size); sequential/shuffled use the pool size.
  Sampler(SamplerKind kind, std::vector<int64_t> pool, const std::vector<int32_t>& labels, int num_classes,
          uint64_t seed, int64_t epoch_size = 0);

  // The dataset indices of epoch `epoch` (0-based), in visiting order.
  std::vector<int64_t> epoch(int64_t epoch) const;
  int64_t epoch_size() const { return epoch_size_; }
  SamplerKind kind() const { return kind_; }

 private:
  SamplerKind kind_;
  std::vector<int64_t> pool_;
  std::vector<std::vector<int64_t>> by_class_;  // balanced: pool members per present class
  uint64_t seed_;
  int64_t epoch_size_;
};

}  // namespace fer::data
