// kernels/pool.cu: max/avg/global-average pooling on the GPU (see pool.h for the math).
//
// Parallelization:
//   forward   one thread per output element (n,c,oh,ow), grid-stride; it scans its window with the
//             shared pool::max_window / the same row-major sum as the CPU twin.
//   backward  one thread per INPUT element (n,c,ih,iw): a gather over the <= ceil(k/s)^2 windows that
//             can contain it (pool::windows_containing), summed in row-major window order. Each dx is
//             written by exactly one thread, so there are no atomics and the result is the CPU's,
//             bit for bit (same additions in the same order; no multiplications to fuse).
//   global    one warp per (n,c) row: lane l sums elements l, l+32, ...; then a fixed xor-shuffle tree.
//             Deterministic run to run; differs from the CPU's sequential sum by rounding only.
#include "kernels/cuda_common.cuh"
#include "kernels/pool.h"

namespace fer::cuda {

__global__ void maxpool2d_forward_kernel(Pool2dDims d, int64_t OH, int64_t OW, const float* x, float* y,
                                         int32_t* argmax) {
  const int64_t total = d.n * d.c * OH * OW;
  FER_CUDA_KERNEL_LOOP(o, total) {
    const int64_t ow = o % OW;  // o = (nc*OH + oh)*OW + ow: neighbouring threads, neighbouring columns
    const int64_t oh = (o / OW) % OH;
    const int64_t nc = o / (OW * OH);
    int64_t h0, h1, w0, w1;  // the clipped window, as on the CPU
    pool::window(oh, d.kernel_h, d.stride_h, d.pad_h, d.h, &h0, &h1);
    pool::window(ow, d.kernel_w, d.stride_w, d.pad_w, d.w, &w0, &w1);
    pool::max_window(x + nc * d.h * d.w, d.w, h0, h1, w0, w1, &y[o], &argmax[o]);
  }
}

__global__ void maxpool2d_backward_kernel(Pool2dDims d, int64_t OH, int64_t OW, const float* dy,
                                          const int32_t* argmax, float* dx) {
  const int64_t total = d.n * d.c * d.h * d.w;
  FER_CUDA_KERNEL_LOOP(i, total) {  // i = (nc*H + ih)*W + iw: one thread per INPUT element
    const int64_t iw = i % d.w;
    const int64_t ih = (i / d.w) % d.h;
    const int64_t nc = i / (d.w * d.h);
    int64_t oh0, oh1, ow0, ow1;  // the windows that can contain (ih, iw)
    pool::windows_containing(ih, d.kernel_h, d.stride_h, d.pad_h, OH, &oh0, &oh1);
    pool::windows_containing(iw, d.kernel_w, d.stride_w, d.pad_w, OW, &ow0, &ow1);
    const float* dy_plane = dy + nc * OH * OW;
    const int32_t* arg_plane = argmax + nc * OH * OW;
    const int32_t me = static_cast<int32_t>(ih * d.w + iw);
    float sum = 0.f;
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow)
        if (arg_plane[oh * OW + ow] == me) sum += dy_plane[oh * OW + ow];
    dx[i] = sum;
  }
}

__global__ void avgpool2d_forward_kernel(Pool2dDims d, bool count_include_pad, int64_t OH, int64_t OW,
                                         const float* x, float* y) {
  const int64_t total = d.n * d.c * OH * OW;
  FER_CUDA_KERNEL_LOOP(o, total) {
    const int64_t ow = o % OW;
    const int64_t oh = (o / OW) % OH;
    const int64_t nc = o / (OW * OH);
    int64_t h0, h1, w0, w1;
    pool::window(oh, d.kernel_h, d.stride_h, d.pad_h, d.h, &h0, &h1);
    pool::window(ow, d.kernel_w, d.stride_w, d.pad_w, d.w, &w0, &w1);
    const float* plane = x + nc * d.h * d.w;
    float sum = 0.f;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += plane[ih * d.w + iw];
    y[o] = sum / float(pool::avg_divisor(d, oh, ow, count_include_pad));
  }
}

__global__ void avgpool2d_backward_kernel(Pool2dDims d, bool count_include_pad, int64_t OH, int64_t OW,
                                          const float* dy, float* dx) {
  const int64_t total = d.n * d.c * d.h * d.w;
  FER_CUDA_KERNEL_LOOP(i, total) {
    const int64_t iw = i % d.w;
    const int64_t ih = (i / d.w) % d.h;
    const int64_t nc = i / (d.w * d.h);
    int64_t oh0, oh1, ow0, ow1;
    pool::windows_containing(ih, d.kernel_h, d.stride_h, d.pad_h, OH, &oh0, &oh1);
    pool::windows_containing(iw, d.kernel_w, d.stride_w, d.pad_w, OW, &ow0, &ow1);
    const float* dy_plane = dy + nc * OH * OW;
    float sum = 0.f;
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow)
        sum += dy_plane[oh * OW + ow] / float(pool::avg_divisor(d, oh, ow, count_include_pad));
    dx[i] = sum;
  }
}

// One warp per row of x [rows, hw]; kWarpsPerBlock rows per block, grid-stride over rows.
constexpr int kWarpsPerBlock = 8;

__global__ void global_avgpool_forward_kernel(int64_t rows, int64_t hw, const float* x, float* y) {
  const int lane = threadIdx.x % 32;
  const int64_t warp = blockIdx.x * int64_t(kWarpsPerBlock) + threadIdx.x / 32;
  const int64_t warps_total = int64_t(gridDim.x) * kWarpsPerBlock;
  for (int64_t r = warp; r < rows; r += warps_total) {  // uniform within the warp: all lanes iterate
    const float* row = x + r * hw;
    float sum = 0.f;
    for (int64_t i = lane; i < hw; i += 32) sum += row[i];  // coalesced: lanes read consecutive elements
    // butterfly: after offsets 16,8,4,2,1 every lane holds the same total, added in a fixed order
    for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) y[r] = sum / float(hw);
  }
}

__global__ void global_avgpool_backward_kernel(int64_t rows, int64_t hw, const float* dy, float* dx) {
  FER_CUDA_KERNEL_LOOP(i, rows * hw) { dx[i] = dy[i / hw] / float(hw); }
}

void maxpool2d_forward(const Pool2dDims& d, const float* x, float* y, int32_t* argmax, cuda_stream stream) {
  check_pool2d("cuda::maxpool2d_forward", d);
  const int64_t OH = d.out_h(), OW = d.out_w();
  maxpool2d_forward_kernel<<<grid_for(d.n * d.c * OH * OW), kBlock, 0, to_cuda(stream)>>>(d, OH, OW, x, y,
                                                                                           argmax);
  FER_LAUNCH_CHECK();
}

void maxpool2d_backward(const Pool2dDims& d, const float* dy, const int32_t* argmax, float* dx,
                        cuda_stream stream) {
  check_pool2d("cuda::maxpool2d_backward", d);
  const int64_t OH = d.out_h(), OW = d.out_w();
  maxpool2d_backward_kernel<<<grid_for(d.x_size()), kBlock, 0, to_cuda(stream)>>>(d, OH, OW, dy, argmax, dx);
  FER_LAUNCH_CHECK();
}

void avgpool2d_forward(const Pool2dDims& d, bool count_include_pad, const float* x, float* y,
                       cuda_stream stream) {
  check_pool2d("cuda::avgpool2d_forward", d);
  const int64_t OH = d.out_h(), OW = d.out_w();
  avgpool2d_forward_kernel<<<grid_for(d.n * d.c * OH * OW), kBlock, 0, to_cuda(stream)>>>(d, count_include_pad,
                                                                                           OH, OW, x, y);
  FER_LAUNCH_CHECK();
}

void avgpool2d_backward(const Pool2dDims& d, bool count_include_pad, const float* dy, float* dx,
                        cuda_stream stream) {
  check_pool2d("cuda::avgpool2d_backward", d);
  const int64_t OH = d.out_h(), OW = d.out_w();
  avgpool2d_backward_kernel<<<grid_for(d.x_size()), kBlock, 0, to_cuda(stream)>>>(d, count_include_pad, OH, OW,
                                                                                   dy, dx);
  FER_LAUNCH_CHECK();
}

void global_avgpool_forward(int64_t n, int64_t c, int64_t hw, const float* x, float* y, cuda_stream stream) {
  FER_CHECK(n >= 1 && c >= 1 && hw >= 1, "cuda::global_avgpool_forward: shape [N,C,HW] = [" << n << "," << c << ","
                                                                                            << hw
                                                                                            << "] must be positive");
  const int64_t rows = n * c;
  const unsigned blocks = grid_for(rows, kWarpsPerBlock);  // ceil(rows / warps per block), capped
  global_avgpool_forward_kernel<<<blocks, kWarpsPerBlock * 32, 0, to_cuda(stream)>>>(rows, hw, x, y);
  FER_LAUNCH_CHECK();
}

void global_avgpool_backward(int64_t n, int64_t c, int64_t hw, const float* dy, float* dx, cuda_stream stream) {
  FER_CHECK(n >= 1 && c >= 1 && hw >= 1, "cuda::global_avgpool_backward: shape [N,C,HW] = [" << n << "," << c << ","
                                                                                             << hw
                                                                                             << "] must be positive");
  global_avgpool_backward_kernel<<<grid_for(n * c * hw), kBlock, 0, to_cuda(stream)>>>(n * c, hw, dy, dx);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
