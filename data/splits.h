// data/splits.h: which images train, validate and test, from the official splits and a spec string.
//
// train = the Training images (if the data has none but has images of split `unknown`, e.g. a CSV
//         without Usage column, those form the training pool instead; a note says so).
// val   = by spec:
//   "auto"        (default) "publictest" when the data has PublicTest images, else "split:0.1"
//   "publictest"  the PublicTest images
//   "privatetest" the PrivateTest images
//   "split:F"     0 < F < 1: a seeded stratified split of the training pool: per class c,
//                 round(F * n_c) images chosen by a Philox shuffle (seed, stream SPLT|c) move to
//                 validation, the rest stay in train
//   "none"        no validation set
// test  = PrivateTest when present (PublicTest when val is privatetest); otherwise all test-side
//         images (PublicTest + `test` from test/ without prefix), which may then be the validation
//         images too: the plan's notes say so, and the description names the split. May be empty.
// Every list is ascending dataset indices. An empty train or (requested) val set is a fer::Error
// that names the spec and lists the splits the data does have; an unknown spec is an error listing
// the valid ones.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.h"

namespace fer::data {

struct SplitPlan {
  std::vector<int64_t> train, val, test;        // dataset indices, ascending
  std::string train_desc, val_desc, test_desc;  // e.g. "Training", "PublicTest", "split:0.1 of Training (seed 7)"
  std::vector<std::string> notes;               // e.g. "test = validation (PublicTest): no PrivateTest images"
};

SplitPlan plan_splits(const Dataset& ds, std::string_view val_spec = "auto", uint64_t seed = 0);

// Seeded stratified split of `pool`: returns {val, rest}, val holding round(fraction * n_c) of each
// class c (chosen by a Philox shuffle with stream kStreamSplit | c), both ascending.
std::pair<std::vector<int64_t>, std::vector<int64_t>> stratified_split(const Dataset& ds,
                                                                       const std::vector<int64_t>& pool,
                                                                       double fraction, uint64_t seed);

}  // namespace fer::data
