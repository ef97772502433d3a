// kernels/conv2d_depthwise.cu: the direct path on the GPU for one input channel per group
// (kernels/conv2d_depthwise.h: depthwise convolutions and the 1-channel first layer).
//   forward  one thread per y element (n, o, i, j), neighbouring threads neighbouring j:
//            depthwise::forward_value, the CPU twin's function.
//   dx       one thread per x element, the gather depthwise::input_grad_value over the m output
//            channels that read it (o ascending, as the CPU): no atomics.
//   dw, db   one block of 256 threads per (channel, tap) and per channel: thread t sums the
//            products of the (n, i, j) positions t, t + 256, ... and a fixed shared-memory tree adds
//            the 256 partials. Deterministic; the CPU sums sequentially, so they differ by rounding.
#include "kernels/conv2d_depthwise.h"
#include "kernels/cuda_common.cuh"

namespace fer::cuda {

namespace {

constexpr int kReduceThreads = 256;

__global__ void depthwise_forward_kernel(Conv2dDims d, const float* x, const float* w, const float* bias, float* y) {
  const int64_t Ho = d.h_out(), Wo = d.w_out(), P = Ho * Wo, K = d.kernel_h * d.kernel_w, m = d.c_out / d.c_in;
  FER_CUDA_KERNEL_LOOP(e, d.n * d.c_out * P) {
    const int64_t plane = e / P, k = e % P, n = plane / d.c_out, o = plane % d.c_out;
    const float* x0 = x + (n * d.c_in + o / m) * d.h_in * d.w_in;
    y[e] = depthwise::forward_value(d, x0, w + o * K, bias ? bias[o] : 0.0f, k / Wo, k % Wo);
  }
}

__global__ void depthwise_input_grad_kernel(Conv2dDims d, const float* dy, const float* w, float* dx) {
  const int64_t HW = d.h_in * d.w_in, P = d.h_out() * d.w_out(), K = d.kernel_h * d.kernel_w, m = d.c_out / d.c_in;
  FER_CUDA_KERNEL_LOOP(e, d.n * d.c_in * HW) {
    const int64_t plane = e / HW, k = e % HW, n = plane / d.c_in, c = plane % d.c_in;
    float sum = 0.0f;
    for (int64_t o = c * m; o < (c + 1) * m; ++o)
      sum += depthwise::input_grad_value(d, dy + (n * d.c_out + o) * P, w + o * K, k / d.w_in, k % d.w_in);
    dx[e] = sum;
  }
}

__device__ float block_tree_sum(float v, float* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kReduceThreads / 2; s > 0; s >>= 1) {
    if (static_cast<int>(threadIdx.x) < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  return sh[0];
}

// blockIdx.x = o * kh*kw + tap; output channel o reads input channel o / m
__global__ void depthwise_weight_grad_kernel(Conv2dDims d, const float* x, const float* dy, float* dw) {
  __shared__ float sh[kReduceThreads];
  const int64_t K = d.kernel_h * d.kernel_w, o = blockIdx.x / K, tap = blockIdx.x % K, c = o / (d.c_out / d.c_in);
  const int64_t p = tap / d.kernel_w, q = tap % d.kernel_w;
  const int64_t Ho = d.h_out(), Wo = d.w_out(), P = Ho * Wo;
  float acc = 0.0f;
  for (int64_t e = threadIdx.x; e < d.n * P; e += kReduceThreads) {
    const int64_t n = e / P, k = e % P, i = k / Wo, j = k % Wo;
    const int64_t h = i * d.stride_h - d.pad_h + p, v = j * d.stride_w - d.pad_w + q;
    if (h < 0 || h >= d.h_in || v < 0 || v >= d.w_in) continue;
    acc += dy[(n * d.c_out + o) * P + k] * x[((n * d.c_in + c) * d.h_in + h) * d.w_in + v];
  }
  const float total = block_tree_sum(acc, sh);
  if (threadIdx.x == 0) dw[blockIdx.x] = total;
}

// blockIdx.x = o
__global__ void depthwise_bias_grad_kernel(Conv2dDims d, const float* dy, float* db) {
  __shared__ float sh[kReduceThreads];
  const int64_t o = blockIdx.x, P = d.h_out() * d.w_out();
  float acc = 0.0f;
  for (int64_t e = threadIdx.x; e < d.n * P; e += kReduceThreads) acc += dy[((e / P) * d.c_out + o) * P + e % P];
  const float total = block_tree_sum(acc, sh);
  if (threadIdx.x == 0) db[o] = total;
}

void check_depthwise(const char* op, const Conv2dDims& d) {
  conv2d_check(op, d);
  FER_CHECK(one_input_channel_per_group(d), op << ": expects one input channel per group (groups = in channels), got in="
                                                << d.c_in << " out=" << d.c_out << " groups=" << d.groups);
}

}  // namespace

void depthwise_conv2d_forward(const Conv2dDims& d, const float* x, const float* w, const float* bias, float* y,
                              cuda_stream s) {
  check_depthwise("cuda::depthwise_conv2d_forward", d);
  depthwise_forward_kernel<<<grid_for(d.y_size()), kBlock, 0, to_cuda(s)>>>(d, x, w, bias, y);
  FER_LAUNCH_CHECK();
}

void depthwise_conv2d_backward_input(const Conv2dDims& d, const float* dy, const float* w, float* dx, cuda_stream s) {
  check_depthwise("cuda::depthwise_conv2d_backward_input", d);
  depthwise_input_grad_kernel<<<grid_for(d.x_size()), kBlock, 0, to_cuda(s)>>>(d, dy, w, dx);
  FER_LAUNCH_CHECK();
}

void depthwise_conv2d_backward_weight(const Conv2dDims& d, const float* x, const float* dy, float* dw, float* dbias,
                                      cuda_stream s) {
  check_depthwise("cuda::depthwise_conv2d_backward_weight", d);
  if (dw) {
    depthwise_weight_grad_kernel<<<static_cast<unsigned>(d.c_out * d.kernel_h * d.kernel_w), kReduceThreads, 0,
                                   to_cuda(s)>>>(d, x, dy, dw);
    FER_LAUNCH_CHECK();
  }
  if (dbias) {
    depthwise_bias_grad_kernel<<<static_cast<unsigned>(d.c_out), kReduceThreads, 0, to_cuda(s)>>>(d, dy, dbias);
    FER_LAUNCH_CHECK();
  }
}

}  // namespace fer::cuda
