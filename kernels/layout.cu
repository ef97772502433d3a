// kernels/layout.cu: layout ops on the GPU (see layout.h).
//
// Parallelization: one thread per output element everywhere (grid-stride), so writes are
// coalesced. copy_slab: the [len, inner] run of each o is contiguous in src and dst, so thread e
// copies run element e % run of slab o = e / run. permute: the input offset comes from the
// collapsed plan (reads are strided for a transpose; a tiled shared-memory transpose is a possible
// later speed-up, not needed for FER sizes). gather_rows: thread e copies element e % row_size of
// row e / row_size. Pure copies: the results equal the CPU twin bit for bit.
#include <cstring>

#include "kernels/cuda_common.cuh"
#include "kernels/layout.h"

namespace fer::cuda {

namespace {

__global__ void copy_slab_kernel(int64_t outer, int64_t run, int64_t inner, const float* src, int64_t src_dim,
                                 int64_t src_offset, float* dst, int64_t dst_dim, int64_t dst_offset) {
  FER_CUDA_KERNEL_LOOP(e, outer * run) {
    // e -> slab o, position k in its contiguous [len, inner] run
    const int64_t o = e / run, k = e - o * run;
    dst[(o * dst_dim + dst_offset) * inner + k] = src[(o * src_dim + src_offset) * inner + k];
  }
}

__global__ void permute_kernel(PermutePlan plan, const float* x, float* y) {
  // Output element e reads the input element at the plan's offset (writes are coalesced).
  FER_CUDA_KERNEL_LOOP(e, plan.numel) {
    y[e] = x[layout::permute_offset(plan, e)];
  }
}

// poison: the all-ones value written for a row whose index is out of range.
template <typename T, typename I>
__global__ void gather_rows_kernel(int64_t n_idx, int64_t row_size, const T* x, int64_t x_rows, const I* idx, T* y,
                                   T poison) {
  FER_CUDA_KERNEL_LOOP(e, n_idx * row_size) {
    const int64_t r = e / row_size, k = e - r * row_size;  // output row r, column k
    const int64_t j = static_cast<int64_t>(idx[r]);        // the source row
    // An index out of range must not read outside x: write the poison value instead.
    y[e] = (j >= 0 && j < x_rows) ? x[j * row_size + k] : poison;
  }
}

}  // namespace

void copy_slab(int64_t outer, int64_t len, int64_t inner, const float* src, int64_t src_dim, int64_t src_offset,
               float* dst, int64_t dst_dim, int64_t dst_offset, cuda_stream stream) {
  check_copy_slab(outer, len, inner, src_dim, src_offset, dst_dim, dst_offset);
  const int64_t run = len * inner;
  if (outer * run == 0) return;
  copy_slab_kernel<<<grid_for(outer * run), kBlock, 0, to_cuda(stream)>>>(outer, run, inner, src, src_dim, src_offset,
                                                                          dst, dst_dim, dst_offset);
  FER_LAUNCH_CHECK();
}

void permute(const PermutePlan& plan, const float* x, float* y, cuda_stream stream) {
  if (plan.numel == 0) return;
  permute_kernel<<<grid_for(plan.numel), kBlock, 0, to_cuda(stream)>>>(plan, x, y);
  FER_LAUNCH_CHECK();
}

template <typename T, typename I>
void gather_rows(int64_t n_idx, int64_t row_size, const T* x, int64_t x_rows, const I* idx, T* y, cuda_stream stream) {
  FER_CHECK(n_idx >= 0 && row_size >= 0 && x_rows >= 0,
            "gather_rows: negative size (n_idx=" << n_idx << ", row_size=" << row_size << ", x_rows=" << x_rows << ")");
  if (n_idx * row_size == 0) return;
  T poison;  // all-ones bytes: NaN for float, 255 for uint8, -1 for signed integers
  std::memset(&poison, 0xFF, sizeof(T));
  gather_rows_kernel<T, I>
      <<<grid_for(n_idx * row_size), kBlock, 0, to_cuda(stream)>>>(n_idx, row_size, x, x_rows, idx, y, poison);
  FER_LAUNCH_CHECK();
}

#define FER_INSTANTIATE_GATHER(T)                                                                              \
  template void gather_rows<T, int32_t>(int64_t, int64_t, const T*, int64_t, const int32_t*, T*, cuda_stream); \
  template void gather_rows<T, int64_t>(int64_t, int64_t, const T*, int64_t, const int64_t*, T*, cuda_stream);
FER_INSTANTIATE_GATHER(float)
FER_INSTANTIATE_GATHER(uint8_t)
FER_INSTANTIATE_GATHER(int32_t)
FER_INSTANTIATE_GATHER(int64_t)
#undef FER_INSTANTIATE_GATHER

}  // namespace fer::cuda
