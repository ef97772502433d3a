// data/knn.h: exact k nearest neighbours of 48x48 images in pixel space (SMOTE, Tomek links, ENN).
//
// Distance: squared Euclidean over the 2,304 bytes, an exact integer,
//     d(a, b) = sum_p (a_p - b_p)^2       0 <= d <= 2304 * 255^2 = 149,817,600 < 2^31
// Order: neighbours are sorted by (distance, dataset index): ties go to the smaller index, so the
// result is unique and does not depend on the order of `ref`, the thread count or the GEMM.
//
// Two ways to compute the same result:
//   loops  every distance exactly, int32 accumulators, OpenMP over queries. O(Q R 2304).
//   gemm   blocked (1024 queries x 2048 references): ||a||^2 + ||b||^2 - 2 a.b with a.b from the
//          float GEMM (kernels/gemm.h), an estimate e with a proven bound. The pixels are exact in
//          float and every product a_p b_p >= 0, so |fl(a.b) - a.b| <= gamma_K a.b <= gamma_K |a||b|
//          (any summation order, gamma_K = K u / (1 - K u), u = 2^-24, K = 2304: 1.4e-4), and the
//          norms are exact integers (combined in double, exactly). A reference is examined exactly
//          (integer distance) only when e - bound <= the current k-th exact distance of that query;
//          every other reference is provably farther. The result is therefore the exact one,
//          identical to `loops` (the unit tests check that, ties and duplicates included).
//          When query and ref are the same list (SMOTE, Tomek, ENN), the matrix is symmetric: only the
//          2048 x 2048 tiles on and above the block diagonal are multiplied, each serving both blocks.
//   automatic (default): loops below 2^20 query x reference pairs, gemm above.
// Speed on the 2-core dev machine (OpenBLAS): 28,709 x 28,709 Training images, k = 5, in tens of
// seconds (data/README.md has the measured figure); loops would take many minutes.
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace fer::data {

// Exact squared L2 distance of two 48x48 images.
int64_t squared_distance(const uint8_t* a, const uint8_t* b);

enum class KnnMethod { automatic, gemm, loops };

struct KnnOptions {
  // A query never gets its own dataset index as a neighbour (imblearn/sklearn drop the first column
  // of kneighbors(X) for that purpose; doing it by index keeps exact duplicates, which are at
  // distance 0, as neighbours of each other).
  bool exclude_self = true;
  KnnMethod method = KnnMethod::automatic;
};

struct Neighbours {
  int64_t queries = 0;         // number of query images
  int k = 0;                   // neighbours per query (columns)
  std::vector<int64_t> index;  // queries * k dataset indices, row q nearest first; -1 = fewer than k exist
  std::vector<int64_t> dist2;  // the exact squared distances; -1 where index is -1

  const int64_t* row(int64_t q) const { return index.data() + q * k; }
  const int64_t* row_dist2(int64_t q) const { return dist2.data() + q * k; }
};

// For each image at query[q], its k nearest among the images at ref (dataset indices of the same
// dataset; repeated entries in ref are an error). k >= 1; a row holds fewer than k real neighbours
// (padded with -1) only when ref has fewer than k candidates.
Neighbours knn(const Dataset& ds, const std::vector<int64_t>& ref, const std::vector<int64_t>& query, int k,
               const KnnOptions& options = {});

}  // namespace fer::data
