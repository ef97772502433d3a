// kernels/augment.cu: augmentation and ten-crop on the GPU (see augment.h for the pipeline).
//
// augment: grid (x: blocks per image, y: image). Thread 0 of a block draws its image's parameters
// with the shared draw_augment_params() and turns them into the inverse map (augment_map()), kept in
// shared memory; after a barrier the block's threads stride over that image's output pixels and
// call the same augment_pixel() as the CPU twin. Drawing once per block (not per pixel) costs a few
// hundred flops per block, next to thousands of pixels. All math goes through the explicitly rounded
// helpers of augment_math.h, so the numbers are the CPU's (float) bit for bit in practice.
// ten_crop: one thread per output element, grid-stride, a pure gather.
// random_erase: like augment, a block row per image; thread 0 draws the box (the same
// draw_augment_params / augment_map as the CPU twin), the block's threads write the box's pixels.
#include <algorithm>

#include "kernels/augment.h"
#include "kernels/cuda_common.cuh"

namespace fer::cuda {

namespace {

__global__ void augment_kernel(AugmentSpec spec, const uint8_t* images, int64_t in_h, int64_t in_w,
                               const uint64_t* keys, uint64_t seed, int64_t out_c, int64_t out_h, int64_t out_w,
                               float mean, float std_, float* out) {
  __shared__ AugmentMap<float> map;
  const int64_t b = blockIdx.y;
  const uint64_t key = keys[b];
  if (threadIdx.x == 0) {
    const AugmentParams p = draw_augment_params(spec, seed, key);
    map = augment_map<float>(spec, p, in_h, in_w, out_h, out_w);
  }
  __syncthreads();
  const AugmentMap<float> m = map;
  const int64_t plane = out_h * out_w;
  const uint8_t* img = images + b * in_h * in_w;
  float* y = out + b * out_c * plane;
  const float erase_value = static_cast<float>(spec.erase_value);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < plane; i += int64_t(blockDim.x) * gridDim.x) {
    const int64_t oy = i / out_w, ox = i % out_w;
    const float v = augment_erased(m, oy, ox) ? erase_value
                                              : augment_pixel<float>(m, img, in_h, in_w, out_w, oy, ox, seed, key, mean, std_);
    for (int64_t c = 0; c < out_c; ++c) y[c * plane + i] = v;
  }
}

__global__ void draw_params_kernel(AugmentSpec spec, int64_t batch, const uint64_t* keys, uint64_t seed,
                                   AugmentParams* params) {
  FER_CUDA_KERNEL_LOOP(b, batch) { params[b] = draw_augment_params(spec, seed, keys[b]); }
}

__global__ void ten_crop_kernel(int64_t batch, int64_t c, int64_t h, int64_t w, const float* x, int64_t crop_h,
                                int64_t crop_w, float* y) {
  const int64_t crop = crop_h * crop_w;
  FER_CUDA_KERNEL_LOOP(idx, batch * 10 * c * crop) {
    const int64_t j = idx % crop_w, i = (idx / crop_w) % crop_h, ch = (idx / crop) % c, bv = idx / (crop * c);
    int64_t y0 = 0, x0 = 0;
    bool flip = false;
    augment::ten_crop_origin(static_cast<int>(bv % 10), h, w, crop_h, crop_w, &y0, &x0, &flip);
    y[idx] = x[((bv / 10) * c + ch) * h * w + (y0 + i) * w + augment::ten_crop_col(j, x0, w, flip)];
  }
}

__global__ void random_erase_kernel(AugmentSpec spec, int64_t c, int64_t h, int64_t w, const uint64_t* keys,
                                    uint64_t seed, float* x) {
  __shared__ AugmentMap<float> map;
  const int64_t b = blockIdx.y;
  if (threadIdx.x == 0) {
    const AugmentParams p = draw_augment_params(spec, seed, keys[b]);
    map = augment_map<float>(spec, p, h, w, h, w);  // an empty box when p.erase == 0
  }
  __syncthreads();
  const AugmentMap<float> m = map;
  // rounding can put the box's end one past the edge: clip it (the CPU twin does the same)
  const int64_t bw = (m.ex1 < w ? m.ex1 : w) - m.ex0, bh = (m.ey1 < h ? m.ey1 : h) - m.ey0;
  const float value = static_cast<float>(spec.erase_value);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < c * bh * bw; i += int64_t(blockDim.x) * gridDim.x) {
    const int64_t ch = i / (bh * bw), oy = m.ey0 + (i / bw) % bh, ox = m.ex0 + i % bw;
    x[((b * c + ch) * h + oy) * w + ox] = value;
  }
}

}  // namespace

void augment_batch(const AugmentSpec& spec, int64_t batch, const uint8_t* images, int64_t in_h, int64_t in_w,
                   const uint64_t* keys, uint64_t seed, int64_t out_c, int64_t out_h, int64_t out_w, float mean,
                   float std, float* out, cuda_stream stream) {
  check_augment_batch("cuda::augment_batch", spec, batch, in_h, in_w, out_c, out_h, out_w, std);
  if (batch == 0) return;
  FER_CHECK(batch <= 65535, "cuda::augment_batch: batch " << batch << " exceeds 65535 images per call (a grid dimension); hint: a smaller --batch-size (--ten-crop and --tta rmn10 make 10 images per sample)");
  const int64_t plane = out_h * out_w;
  const unsigned blocks_x = static_cast<unsigned>(std::min<int64_t>((plane + kBlock - 1) / kBlock, 1024));
  const dim3 grid(blocks_x, static_cast<unsigned>(batch));
  augment_kernel<<<grid, kBlock, 0, to_cuda(stream)>>>(spec, images, in_h, in_w, keys, seed, out_c, out_h, out_w,
                                                       mean, std, out);
  FER_LAUNCH_CHECK();
}

void draw_augment_params_batch(const AugmentSpec& spec, int64_t batch, const uint64_t* keys, uint64_t seed,
                               AugmentParams* params, cuda_stream stream) {
  check_augment_spec("cuda::draw_augment_params_batch", spec);
  if (batch == 0) return;
  draw_params_kernel<<<grid_for(batch), kBlock, 0, to_cuda(stream)>>>(spec, batch, keys, seed, params);
  FER_LAUNCH_CHECK();
}

void ten_crop(int64_t batch, int64_t c, int64_t h, int64_t w, const float* x, int64_t crop_h, int64_t crop_w,
              float* y, cuda_stream stream) {
  check_ten_crop("cuda::ten_crop", batch, c, h, w, crop_h, crop_w);
  const int64_t n = batch * 10 * c * crop_h * crop_w;
  if (n == 0) return;
  ten_crop_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(batch, c, h, w, x, crop_h, crop_w, y);
  FER_LAUNCH_CHECK();
}

void random_erase(const AugmentSpec& spec, int64_t batch, int64_t c, int64_t h, int64_t w, const uint64_t* keys,
                  uint64_t seed, float* x, cuda_stream stream) {
  check_random_erase("cuda::random_erase", spec, batch, c, h, w);
  if (batch == 0) return;
  FER_CHECK(batch <= 65535, "cuda::random_erase: batch " << batch << " exceeds 65535 images per call (a grid dimension); hint: a smaller --batch-size (--ten-crop and --tta rmn10 make 10 images per sample)");
  const int64_t plane = h * w;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>((c * plane + kBlock - 1) / kBlock, 64)),
                  static_cast<unsigned>(batch));
  random_erase_kernel<<<grid, kBlock, 0, to_cuda(stream)>>>(erase_only(spec), c, h, w, keys, seed, x);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
