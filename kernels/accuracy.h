// kernels/accuracy.h: how many rows of a logits matrix pick their label (training accuracy on the
// device, so a training step need not copy its logits to the host).
//
//   count_correct  correct = sum_i [ argmax_j logits[i, j] == labels[i] ]
//
// Shapes: logits [N, K] contiguous, labels [N] (int32, 0 <= label < K is NOT required: a label out
// of range simply never matches), correct: ONE int64 written (=).
// argmax: the first maximum wins (a later value must be strictly greater), as std::max_element on
// the host; a NaN never replaces the running maximum, and a NaN in column 0 stays the argmax. The
// CPU twin and the CUDA kernel use the same per-row function, so they count the same rows.
// CUDA: one block of 256 threads strides over the rows and adds its per-thread counts with a fixed
// tree (integers: exact, and no host synchronisation; the count stays on the device).
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

namespace accuracy {
// The argmax of one row of k values (k >= 1), first maximum wins.
template <typename T>
FER_HD int64_t row_argmax(const T* row, int64_t k) {
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (row[best] < row[j]) best = j;
  return best;
}
}  // namespace accuracy

// Throws fer::Error naming `op` unless n >= 0 and k >= 1.
void check_count_correct(const char* op, int64_t n, int64_t k);

namespace cpu {
template <typename T>
void count_correct(int64_t n, int64_t k, const T* logits, const int32_t* labels, int64_t* correct);
}  // namespace cpu

namespace cuda {
void count_correct(int64_t n, int64_t k, const float* logits, const int32_t* labels, int64_t* correct,
                   cuda_stream stream);
}  // namespace cuda

}  // namespace fer
