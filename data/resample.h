// data/resample.h: class rebalancing of the TRAINING split (ROS, SMOTE, SMOTE+Tomek, SMOTE+ENN) and
// the leak guard that keeps resampled images out of evaluation (R004's mistake).
//
// R004 oversampled the whole of FER2013 and split afterwards (80/10/10), so copies of training
// faces (ROS) and interpolations of training faces (SMOTE) landed in its test split, and it reported
// 86-87% top-1, 96-97% top-3 (against 66% without). Here resampling takes the training indices only and returns a new training set;
// evaluation images are never touched. `check_no_leak` refuses an evaluation set whose pixels occur
// in the training set; `r004_resample_then_split` reproduces the flawed protocol so that the leak
// can be measured (data/README.md has the figures on FER2013).
//
// Semantics follow imbalanced-learn (imblearn) with sampling_strategy='auto':
//   target     oversampling raises every class except the majority to the majority count n_max
//              (a class with 0 training images cannot be raised: a note says so).
//   ros        RandomOverSampler: class c gets n_max - n_c copies of its members, drawn uniformly
//              with replacement: copy s is member uniform_index(seed, kStreamRos | c, s, n_c).
//   smote      SMOTE(k_neighbors = k): for synthetic sample s of class c, r = uniform_index(seed,
//              kStreamSmote | c, 2s, n_c * k'), base x = member r / k', neighbour x_nn = the
//              (r % k')-th of the k' nearest same-class neighbours of x (exact k-NN, data/knn.h;
//              k' = min(k, n_c - 1)), u = philox::uniform(seed, kStreamSmote | c, 2s + 1) in [0,1)
//              (24 bits), and pixel p = floor(x_p + u (x_nn,p - x_p) + 0.5) (round half up; exact in
//              double). imblearn draws (base, neighbour) the same way (one uniform over n_c * k) and
//              keeps floats; the only difference is the rounding to 8 bits. A class with a single
//              member cannot interpolate: its copies are made as in ros (a note says so).
//   smote_tomek  SMOTETomek: smote, then remove Tomek links with TomekLinks(sampling_strategy='all')
//              as imblearn's SMOTETomek does: a link is a pair of mutual nearest neighbours (1-NN over
//              the whole oversampled set) with different labels, and BOTH members are removed.
//   smote_enn  SMOTEENN: smote, then EditedNearestNeighbours(n_neighbors = 3, kind_sel = 'all',
//              sampling_strategy = 'all'): a sample is removed unless all of its 3 nearest
//              neighbours (over the whole oversampled set) carry its label. kind_sel = 'mode'
//              (keep when the most common neighbour label, ties to the smaller class, is its own)
//              is available through ResampleOptions::enn_kind.
// Standalone cleaning (tomek_removals / enn_removals) also takes imblearn's default strategy for
// those classes, 'auto' = 'not minority': only members of classes other than the minority class
// (fewest images, ties to the smaller index) are removed; for a Tomek link between two non-minority
// classes that still means both members.
// Neighbours exclude the sample itself by dataset index (so exact duplicates are each other's
// neighbours at distance 0); ties are broken by dataset index (data/knn.h).
// Everything depends only on (dataset, training indices, method, options): same seed, same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.h"

namespace fer::data {

// Philox stream ids owned by resampling (see data/sampler.h for the convention).
inline constexpr uint64_t kStreamRos = 0x524F5353ull << 32;    // "ROSS" | class
inline constexpr uint64_t kStreamSmote = 0x534D4F54ull << 32;  // "SMOT" | class
inline constexpr uint64_t kStreamR004 = 0x52303034ull << 32;   // "R004": the flawed split's shuffle

enum class ResampleMethod { none, ros, smote, smote_tomek, smote_enn };
// "none" | "ros" | "smote" | "smote_tomek" | "smote_enn" ('-' accepted for '_', any case); anything
// else is a fer::Error listing the names.
ResampleMethod resample_method_from_name(std::string_view name);
const char* resample_method_name(ResampleMethod method);

enum class EnnKind { all, mode };                   // imblearn's kind_sel
enum class CleaningStrategy { all, not_minority };  // imblearn's 'all' and 'auto' for cleaning

struct ResampleOptions {
  int k = 5;          // SMOTE neighbours (imblearn k_neighbors)
  uint64_t seed = 0;  // Philox key of every draw
  // target: every class up to the majority count (imblearn's 'auto'); no other target yet.
  int enn_k = 3;                    // ENN neighbours (imblearn n_neighbors)
  EnnKind enn_kind = EnnKind::all;  // imblearn's default
};

struct Resampled {
  // The new training set: the images at train_indices in that order (minus removed ones), then the
  // generated ones, class by class (ascending class index), in draw order. Generated images have
  // split Training and sources "ros:<class>:<n>=<source copied>" or "smote:<class>:<n>" (n counts
  // per class from 0, class = its name).
  Dataset train;
  int64_t added = 0;                                 // images generated (ROS copies, SMOTE samples)
  int64_t removed = 0;                               // images removed by Tomek/ENN cleaning (original or generated)
  std::vector<int64_t> counts_before, counts_after;  // per class
  std::vector<std::string> notes;                    // what was done, in words, with numbers
};

// Resamples the images at train_indices (dataset indices; each at most once) of ds. Nothing outside
// train_indices is read. Errors: an index out of range or repeated, k < 1, enn_k < 1.
Resampled resample(const Dataset& ds, const std::vector<int64_t>& train_indices, ResampleMethod method,
                   const ResampleOptions& options = {});

// Cleaning on its own: the dataset indices (ascending) among `indices` that the rule removes.
std::vector<int64_t> tomek_removals(const Dataset& ds, const std::vector<int64_t>& indices,
                                    CleaningStrategy strategy = CleaningStrategy::not_minority);
std::vector<int64_t> enn_removals(const Dataset& ds, const std::vector<int64_t>& indices, int k = 3,
                                  EnnKind kind = EnnKind::all,
                                  CleaningStrategy strategy = CleaningStrategy::not_minority);

// ---- Leak guard (data/resample_leak.cpp) ---------------------------------------------------------

// Evaluation images whose pixels are byte-identical to some image of the training set.
struct LeakReport {
  int64_t train_test_overlap = 0;     // leaked test images
  int64_t train_val_overlap = 0;      // leaked validation images
  int64_t eval_images = 0;            // evaluation images examined
  std::vector<int64_t> leaked;        // eval_ds indices of all leaked images, ascending
  std::vector<std::string> examples;  // up to 5: "<eval source> (<split>, <label>) = train <source> (<label>)"
};

// One evaluation list: an image counts as test when its official split is test-side (PublicTest,
// PrivateTest, test) and as validation when it is Training/unknown (a validation set carved out of
// the training pool, e.g. split:F or R004's random split).
LeakReport leak_report(const Dataset& train, const Dataset& eval_ds, const std::vector<int64_t>& eval_indices);
// Validation and test given separately (an image in both lists counts in both).
LeakReport leak_report(const Dataset& train, const Dataset& eval_ds, const std::vector<int64_t>& val_indices,
                       const std::vector<int64_t>& test_indices);

// The guard: throws fer::Error when any image at eval_indices of eval_ds has pixels that occur in
// `train` (the resampled training set), naming how many, `what` (e.g. "PublicTest") and examples.
// On FER2013 the official PublicTest already shares 280 images with Training (DATA.md): evaluate on
// without_leaks(...) and report that figure beside the whole-split one.
void check_no_leak(const Dataset& train, const Dataset& eval_ds, const std::vector<int64_t>& eval_indices,
                   std::string_view what = "evaluation");
// eval_indices minus the images whose pixels occur in `train` (order kept).
std::vector<int64_t> without_leaks(const Dataset& train, const Dataset& eval_ds,
                                   const std::vector<int64_t>& eval_indices);

// R004's flawed protocol, reproduced to measure its leak: resample the whole pool (e.g. every
// image), THEN split it at random (Philox(seed, kStreamR004) shuffle; test = the first
// round(test_fraction n), val = the next round(val_fraction n), train = the rest; each ascending).
struct R004Split {
  Resampled resampled;                    // the whole pool, resampled; the indices below point into resampled.train
  std::vector<int64_t> train, val, test;  // ascending
  LeakReport leak;                        // val/test images pixel-identical to an image of the train part
  int64_t generated_in_val = 0;           // generated images (ROS copies, SMOTE samples) that landed in val
  int64_t generated_in_test = 0;          // ... and in test (a SMOTE sample interpolates training faces)
};
R004Split r004_resample_then_split(const Dataset& ds, const std::vector<int64_t>& pool, ResampleMethod method,
                                   const ResampleOptions& options = {}, double val_fraction = 0.1,
                                   double test_fraction = 0.1);

}  // namespace fer::data
