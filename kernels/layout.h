// kernels/layout.h: data movement: slabs (concat / slice), permute, gather rows.
//
//   copy_slab    src viewed as [outer, src_dim, inner], dst as [outer, dst_dim, inner]:
//                  dst[o, dst_offset + l, i] = src[o, src_offset + l, i]   for l in [0, len)
//                One primitive for three ops along an axis (outer = product of the dims before it,
//                inner = product of the dims after it):
//                  concat forward   input k -> output at offset sum_{j<k} dim_j (src_offset 0)
//                  concat backward  output grad at that offset -> input k's grad (dst_offset 0)
//                  slice forward    x at [start, start+len) -> y (dst_offset 0); its backward is
//                                   fill(dx, 0) then copy_slab of dy into dx at `start`.
//   permute      y = x with its dims reordered: out dim d is input dim perm[d], i.e.
//                  y[o_0, ..., o_{n-1}] = x[c] with c[perm[d]] = o_d;  out_shape[d] = in_shape[perm[d]]
//                backward: dx = permute(dy, inverse(perm)), inverse[perm[d]] = d.
//   gather_rows  x [x_rows, row_size], idx [n_idx] -> y [n_idx, row_size]: y[r, :] = x[idx[r], :]
//                (index_select on axis 0: batching rows of a dataset). Any element type; int32 or
//                int64 indices. The CPU twin checks every index; on CUDA (which cannot throw from a
//                kernel) a row whose index is out of range is filled with all-ones bytes (NaN for
//                float), so the error shows; callers validate host indices with check_row_indices.
//
// Semantics: every output is written (=); copy_slab leaves dst outside the slab untouched. No op
// here allows its output to overlap its input. Layout: contiguous row-major (NCHW).
// Element types: copy_slab and permute: CPU float/double, CUDA float. gather_rows: CPU float,
// double, uint8, int32, int64; CUDA float, uint8, int32, int64; index type int32_t or int64_t.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

// Argument checks shared by both backends.
void check_copy_slab(int64_t outer, int64_t len, int64_t inner, int64_t src_dim, int64_t src_offset, int64_t dst_dim,
                     int64_t dst_offset);
// Throws fer::Error naming the first index outside [0, x_rows). idx is a host array.
template <typename I>
void check_row_indices(int64_t n_idx, const I* idx, int64_t x_rows);

constexpr int kMaxPermuteDims = 6;

// A validated permutation, collapsed like BroadcastShape (size-1 output dims dropped, output dims
// that are also adjacent and in order in the input merged). in_stride[d] is the input stride of
// collapsed output dim d. Plain data: passed by value to CUDA kernels.
struct PermutePlan {
  int ndim = 0;
  int64_t out[kMaxPermuteDims] = {};
  int64_t in_stride[kMaxPermuteDims] = {};
  int64_t numel = 0;
};
// Checks that perm is a permutation of 0..ndim-1 and ndim <= kMaxPermuteDims.
PermutePlan make_permute(int ndim, const int64_t* in_shape, const int* perm);
PermutePlan make_permute(const std::vector<int64_t>& in_shape, const std::vector<int>& perm);
// inv[perm[d]] = d: the permutation that undoes perm (the backward of permute).
std::vector<int> inverse_permutation(const std::vector<int>& perm);

namespace layout {
// Input offset of output element e: decompose e over the collapsed output dims.
FER_HD int64_t permute_offset(const PermutePlan& p, int64_t e) {
  int64_t off = 0;
  for (int d = p.ndim - 1; d >= 0; --d) {
    const int64_t q = e / p.out[d];
    off += (e - q * p.out[d]) * p.in_stride[d];
    e = q;
  }
  return off;
}
}  // namespace layout

namespace cpu {

template <typename T>
void copy_slab(int64_t outer, int64_t len, int64_t inner, const T* src, int64_t src_dim, int64_t src_offset, T* dst,
               int64_t dst_dim, int64_t dst_offset);
template <typename T>
void permute(const PermutePlan& plan, const T* x, T* y);
template <typename T, typename I>
void gather_rows(int64_t n_idx, int64_t row_size, const T* x, int64_t x_rows, const I* idx, T* y);

}  // namespace cpu

namespace cuda {

void copy_slab(int64_t outer, int64_t len, int64_t inner, const float* src, int64_t src_dim, int64_t src_offset,
               float* dst, int64_t dst_dim, int64_t dst_offset, cuda_stream stream);
void permute(const PermutePlan& plan, const float* x, float* y, cuda_stream stream);
// idx is a device array.
template <typename T, typename I>
void gather_rows(int64_t n_idx, int64_t row_size, const T* x, int64_t x_rows, const I* idx, T* y, cuda_stream stream);

}  // namespace cuda

}  // namespace fer
