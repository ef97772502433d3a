// kernels/upsample.cu: bilinear (align_corners=False) and nearest up-sampling on the GPU
// (see upsample.h for the math).
//
// Parallelization: forward, one thread per output element; backward, one thread per INPUT element
// that gathers over the output rows/columns that can touch it (upsample::bilinear_dst_range /
// nearest_dst_range) - one writer per dx, no atomics, deterministic. The taps are the shared
// upsample::bilinear_taps with the product rounded alone (__fmul_rn), so the GPU picks the same
// taps as the CPU; the interpolation sums may be contracted into FMAs, so values agree to a few ulp.
#include "kernels/cuda_common.cuh"
#include "kernels/upsample.h"

namespace fer::cuda {

__global__ void upsample_bilinear2d_forward_kernel(Upsample2dDims d, float scale_h, float scale_w, const float* x,
                                                   float* y) {
  const int64_t H = d.h, W = d.w, OH = d.out_h, OW = d.out_w;
  FER_CUDA_KERNEL_LOOP(o, d.n * d.c * OH * OW) {
    const int64_t ow = o % OW;
    const int64_t oh = (o / OW) % OH;
    const int64_t nc = o / (OW * OH);
    int64_t h0, h1, w0, w1;  // same taps as the CPU (the source coordinate is computed without FMA)
    float lh0, lh1, lw0, lw1;
    upsample::bilinear_taps(oh, H, scale_h, &h0, &h1, &lh0, &lh1);
    upsample::bilinear_taps(ow, W, scale_w, &w0, &w1, &lw0, &lw1);
    const float* plane = x + nc * H * W;
    y[o] = lh0 * (lw0 * plane[h0 * W + w0] + lw1 * plane[h0 * W + w1]) +
           lh1 * (lw0 * plane[h1 * W + w0] + lw1 * plane[h1 * W + w1]);
  }
}

__global__ void upsample_bilinear2d_backward_kernel(Upsample2dDims d, float scale_h, float scale_w,
                                                    const float* dy, float* dx) {
  const int64_t H = d.h, W = d.w, OH = d.out_h, OW = d.out_w;
  FER_CUDA_KERNEL_LOOP(i, d.n * d.c * H * W) {
    const int64_t iw = i % W;
    const int64_t ih = (i / W) % H;
    const int64_t nc = i / (W * H);
    int64_t oh0, oh1, ow0, ow1;  // supersets of the outputs touching (ih, iw), filtered by the weights
    upsample::bilinear_dst_range(ih, H, OH, &oh0, &oh1);
    upsample::bilinear_dst_range(iw, W, OW, &ow0, &ow1);
    const float* dy_plane = dy + nc * OH * OW;
    float sum = 0.f;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const float ah = upsample::bilinear_weight(oh, ih, H, scale_h);
      if (ah == 0.f) continue;
      float row = 0.f;
      for (int64_t ow = ow0; ow < ow1; ++ow)
        row += upsample::bilinear_weight(ow, iw, W, scale_w) * dy_plane[oh * OW + ow];
      sum += ah * row;
    }
    dx[i] = sum;
  }
}

__global__ void upsample_nearest2d_forward_kernel(Upsample2dDims d, const float* x, float* y) {
  const int64_t H = d.h, W = d.w, OH = d.out_h, OW = d.out_w;
  FER_CUDA_KERNEL_LOOP(o, d.n * d.c * OH * OW) {
    const int64_t ow = o % OW;
    const int64_t oh = (o / OW) % OH;
    const int64_t nc = o / (OW * OH);
    y[o] = x[nc * H * W + upsample::nearest_src(oh, H, OH) * W + upsample::nearest_src(ow, W, OW)];
  }
}

__global__ void upsample_nearest2d_backward_kernel(Upsample2dDims d, const float* dy, float* dx) {
  const int64_t H = d.h, W = d.w, OH = d.out_h, OW = d.out_w;
  FER_CUDA_KERNEL_LOOP(i, d.n * d.c * H * W) {
    const int64_t iw = i % W;
    const int64_t ih = (i / W) % H;
    const int64_t nc = i / (W * H);
    int64_t oh0, oh1, ow0, ow1;  // the block of outputs that copied (ih, iw)
    upsample::nearest_dst_range(ih, H, OH, &oh0, &oh1);
    upsample::nearest_dst_range(iw, W, OW, &ow0, &ow1);
    const float* dy_plane = dy + nc * OH * OW;
    float sum = 0.f;
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow) sum += dy_plane[oh * OW + ow];
    dx[i] = sum;
  }
}

void upsample_bilinear2d_forward(const Upsample2dDims& d, const float* x, float* y, cuda_stream stream) {
  check_upsample2d("cuda::upsample_bilinear2d_forward", d);
  const float scale_h = float(d.h) / float(d.out_h), scale_w = float(d.w) / float(d.out_w);
  upsample_bilinear2d_forward_kernel<<<grid_for(d.y_size()), kBlock, 0, to_cuda(stream)>>>(d, scale_h, scale_w, x,
                                                                                            y);
  FER_LAUNCH_CHECK();
}

void upsample_bilinear2d_backward(const Upsample2dDims& d, const float* dy, float* dx, cuda_stream stream) {
  check_upsample2d("cuda::upsample_bilinear2d_backward", d);
  const float scale_h = float(d.h) / float(d.out_h), scale_w = float(d.w) / float(d.out_w);
  upsample_bilinear2d_backward_kernel<<<grid_for(d.x_size()), kBlock, 0, to_cuda(stream)>>>(d, scale_h, scale_w,
                                                                                             dy, dx);
  FER_LAUNCH_CHECK();
}

void upsample_nearest2d_forward(const Upsample2dDims& d, const float* x, float* y, cuda_stream stream) {
  check_upsample2d("cuda::upsample_nearest2d_forward", d);
  upsample_nearest2d_forward_kernel<<<grid_for(d.y_size()), kBlock, 0, to_cuda(stream)>>>(d, x, y);
  FER_LAUNCH_CHECK();
}

void upsample_nearest2d_backward(const Upsample2dDims& d, const float* dy, float* dx, cuda_stream stream) {
  check_upsample2d("cuda::upsample_nearest2d_backward", d);
  upsample_nearest2d_backward_kernel<<<grid_for(d.x_size()), kBlock, 0, to_cuda(stream)>>>(d, dy, dx);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
