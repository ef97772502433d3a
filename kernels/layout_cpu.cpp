// kernels/layout_cpu.cpp: permutation plans (shared with CUDA) and the CPU twin of the layout ops
// (see layout.h). Loops write the output contiguously; copy_slab and gather_rows copy whole
// contiguous runs (len*inner and row_size elements) with std::copy.
#include <algorithm>
#include <sstream>

#include "kernels/layout.h"

namespace fer {

namespace {
constexpr int64_t kParallelMin = 32768;

std::string dims_string(const int64_t* v, int n) {
  std::ostringstream os;
  os << "(";
  for (int d = 0; d < n; ++d) os << (d ? "," : "") << v[d];
  os << ")";
  return os.str();
}
std::string perm_string(const int* v, int n) {
  std::ostringstream os;
  os << "(";
  for (int d = 0; d < n; ++d) os << (d ? "," : "") << v[d];
  os << ")";
  return os.str();
}
}  // namespace

void check_copy_slab(int64_t outer, int64_t len, int64_t inner, int64_t src_dim, int64_t src_offset, int64_t dst_dim,
                     int64_t dst_offset) {
  FER_CHECK(outer >= 0 && len >= 0 && inner >= 0,
            "copy_slab: negative size [outer, len, inner] = [" << outer << ", " << len << ", " << inner << "]");
  FER_CHECK(src_offset >= 0 && src_offset + len <= src_dim,
            "copy_slab: source range [" << src_offset << ", " << src_offset + len << ") is outside its axis of size "
                                        << src_dim << "; hint: check the slice start/length");
  FER_CHECK(dst_offset >= 0 && dst_offset + len <= dst_dim,
            "copy_slab: destination range [" << dst_offset << ", " << dst_offset + len
                                             << ") is outside its axis of size " << dst_dim
                                             << "; hint: the concat output axis must hold every input");
}

template <typename I>
void check_row_indices(int64_t n_idx, const I* idx, int64_t x_rows) {
  for (int64_t r = 0; r < n_idx; ++r) {
    FER_CHECK(idx[r] >= 0 && static_cast<int64_t>(idx[r]) < x_rows,
              "gather_rows: index " << static_cast<int64_t>(idx[r]) << " at position " << r << " is outside [0, "
                                    << x_rows << "); hint: indices must address rows of the source");
  }
}
template void check_row_indices<int32_t>(int64_t, const int32_t*, int64_t);
template void check_row_indices<int64_t>(int64_t, const int64_t*, int64_t);

PermutePlan make_permute(int ndim, const int64_t* in_shape, const int* perm) {
  FER_CHECK(ndim >= 0 && ndim <= kMaxPermuteDims,
            "permute: " << ndim << " dims; at most " << kMaxPermuteDims << " are supported; hint: merge dims first");
  // A permutation names every input dim exactly once.
  bool seen[kMaxPermuteDims] = {};
  bool ok = true;
  for (int d = 0; d < ndim; ++d) {
    ok = ok && perm[d] >= 0 && perm[d] < ndim && !seen[perm[d]];
    if (ok) seen[perm[d]] = true;
  }
  FER_CHECK(ok, "permute: " << perm_string(perm, ndim) << " is not a permutation of 0.." << ndim - 1 << " (input shape "
                            << dims_string(in_shape, ndim) << ")");
  // Contiguous strides of the input.
  int64_t stride[kMaxPermuteDims];
  int64_t r = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    FER_CHECK(in_shape[d] >= 0, "permute: negative size in shape " << dims_string(in_shape, ndim));
    stride[d] = r;
    r *= in_shape[d];
  }
  PermutePlan p;
  p.numel = r;
  if (r == 0) return p;
  // Output dim d reads input dim perm[d]; drop size-1 dims, merge d into the previous kept dim q
  // when in_stride[q] == in_stride[d] * size[d] (they are adjacent and in order in the input).
  for (int d = 0; d < ndim; ++d) {
    // Output dim d has the size of input dim perm[d] and steps through x with its stride.
    const int64_t size = in_shape[perm[d]], st = stride[perm[d]];
    if (size == 1) continue;
    const int q = p.ndim - 1;
    if (q >= 0 && p.in_stride[q] == st * size) {
      p.out[q] *= size;
      p.in_stride[q] = st;
    } else {
      p.out[p.ndim] = size;
      p.in_stride[p.ndim] = st;
      ++p.ndim;
    }
  }
  return p;
}

PermutePlan make_permute(const std::vector<int64_t>& in_shape, const std::vector<int>& perm) {
  FER_CHECK(in_shape.size() == perm.size(), "permute: shape " << dims_string(in_shape.data(), int(in_shape.size()))
                                                              << " has " << in_shape.size() << " dims but perm "
                                                              << perm_string(perm.data(), int(perm.size())) << " has "
                                                              << perm.size());
  return make_permute(static_cast<int>(in_shape.size()), in_shape.data(), perm.data());
}

std::vector<int> inverse_permutation(const std::vector<int>& perm) {
  const int n = static_cast<int>(perm.size());
  std::vector<int64_t> ones(perm.size(), 1);
  make_permute(n, ones.data(), perm.data());  // validates perm (the shape does not matter)
  // Output dim d came from input dim perm[d]; undoing it sends dim perm[d] back to d.
  std::vector<int> inv(perm.size());
  for (int d = 0; d < n; ++d) inv[perm[d]] = d;
  return inv;
}

namespace cpu {

template <typename T>
void copy_slab(int64_t outer, int64_t len, int64_t inner, const T* src, int64_t src_dim, int64_t src_offset, T* dst,
               int64_t dst_dim, int64_t dst_offset) {
  check_copy_slab(outer, len, inner, src_dim, src_offset, dst_dim, dst_offset);
  const int64_t run = len * inner;  // [len, inner] is contiguous in both views
#pragma omp parallel for schedule(static) if (outer * run > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
    // src[o, src_offset .. src_offset+len, :] -> dst[o, dst_offset .. dst_offset+len, :]
    const T* s = src + (o * src_dim + src_offset) * inner;
    std::copy(s, s + run, dst + (o * dst_dim + dst_offset) * inner);
  }
}

template <typename T>
void permute(const PermutePlan& plan, const T* x, T* y) {
  if (plan.numel == 0) return;
  if (plan.ndim == 0) {  // every dim has size 1
    y[0] = x[0];
    return;
  }
  // Rows of the last collapsed output dim: y contiguous, x read with that dim's input stride.
  const int last = plan.ndim - 1;
  const int64_t len = plan.out[last], step = plan.in_stride[last], rows = plan.numel / len;
  PermutePlan head = plan;  // the dims before the last, to locate each row's start
  head.ndim = last;
  // Row r of y is y[r*len .. (r+1)*len); its elements sit `step` apart in x.
#pragma omp parallel for schedule(static) if (plan.numel > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = x + layout::permute_offset(head, r);
    T* dst = y + r * len;
    for (int64_t k = 0; k < len; ++k) dst[k] = src[k * step];
  }
}

template <typename T, typename I>
void gather_rows(int64_t n_idx, int64_t row_size, const T* x, int64_t x_rows, const I* idx, T* y) {
  FER_CHECK(n_idx >= 0 && row_size >= 0 && x_rows >= 0,
            "gather_rows: negative size (n_idx=" << n_idx << ", row_size=" << row_size << ", x_rows=" << x_rows << ")");
  check_row_indices(n_idx, idx, x_rows);  // before the parallel loop: no throwing inside it
#pragma omp parallel for schedule(static) if (n_idx * row_size > kParallelMin)
  for (int64_t r = 0; r < n_idx; ++r) {
    const T* s = x + static_cast<int64_t>(idx[r]) * row_size;  // row idx[r] of x
    std::copy(s, s + row_size, y + r * row_size);              // becomes row r of y
  }
}

// Explicit instantiations (see layout.h for the element types).
template void copy_slab<float>(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, float*, int64_t, int64_t);
template void copy_slab<double>(int64_t, int64_t, int64_t, const double*, int64_t, int64_t, double*, int64_t, int64_t);
template void permute<float>(const PermutePlan&, const float*, float*);
template void permute<double>(const PermutePlan&, const double*, double*);
#define FER_INSTANTIATE_GATHER(T)                                                                 \
  template void gather_rows<T, int32_t>(int64_t, int64_t, const T*, int64_t, const int32_t*, T*); \
  template void gather_rows<T, int64_t>(int64_t, int64_t, const T*, int64_t, const int64_t*, T*);
FER_INSTANTIATE_GATHER(float)
FER_INSTANTIATE_GATHER(double)
FER_INSTANTIATE_GATHER(uint8_t)
FER_INSTANTIATE_GATHER(int32_t)
FER_INSTANTIATE_GATHER(int64_t)
#undef FER_INSTANTIATE_GATHER

}  // namespace cpu
}  // namespace fer
