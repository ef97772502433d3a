// kernels/optim.cu: optimizer updates on the GPU (see optim.h).
//
// Updates: one thread per element (grid-stride), running the shared optim::*_element formulas with
// the per-step scalars computed on the host in double and read from device memory (so a captured
// graph sees each step's values), exactly as the CPU twin does; the results
// match it up to FMA contraction and the device's sqrt/division rounding (a few ulps).
// grad_norm, two passes, no atomics:
//   pass 1: B = norm_blocks(n) blocks of 256 threads; thread t of block b sums g^2 (in double) over
//           g[b*256 + t + k*B*256], k = 0, 1, ...; the block adds its 256 sums with a fixed tree and
//           writes partial[b].
//   pass 2: one block adds the B partials the same way and writes sqrt(total) (double) to the
//           workspace slot after the partials, which is copied to the host.
// B depends on n only, so the summation tree, and the result, is the same on every run.
#include "kernels/cuda_common.cuh"
#include "kernels/optim.h"

namespace fer::cuda {

namespace {

constexpr int kNormBlock = 256;         // threads per block in both passes (a power of two)
constexpr int64_t kPerThread = 16;      // pass 1 aims at >= 16 elements per thread
constexpr int64_t kMaxPartials = 1024;  // at most this many pass-1 blocks

int64_t norm_blocks(int64_t n) {
  const int64_t b = ceil_div(n, kNormBlock * kPerThread);
  return b < 1 ? 1 : (b > kMaxPartials ? kMaxPartials : b);
}

// Sum of v over the block by a fixed tree; every thread gets the total. sh has kNormBlock slots.
__device__ double block_sum(double v, double* sh) {
  const int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = kNormBlock / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] += sh[t + s];
    __syncthreads();
  }
  const double total = sh[0];
  __syncthreads();
  return total;
}

__global__ void norm_partials_kernel(int64_t n, const float* g, double* partial) {
  __shared__ double sh[kNormBlock];
  double acc = 0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kNormBlock;
  for (int64_t i = blockIdx.x * int64_t(kNormBlock) + threadIdx.x; i < n; i += step) {
    const double v = static_cast<double>(g[i]);
    acc += v * v;
  }
  const double total = block_sum(acc, sh);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void norm_final_kernel(int64_t blocks, const double* partial, double* out) {
  __shared__ double sh[kNormBlock];
  double acc = 0;
  for (int64_t b = threadIdx.x; b < blocks; b += kNormBlock) acc += partial[b];
  const double total = block_sum(acc, sh);
  if (threadIdx.x == 0) out[0] = sqrt(total);
}

// The per-step scalars are read from device memory (written by the host before the launch, or
// before a captured graph's replay); every thread reads the same few doubles.
__global__ void sgd_kernel(int64_t n, float* p, const float* g, float* buf, const double* s, float mom, float damp,
                           float wd, bool nesterov) {
  const float lr = static_cast<float>(s[0]);
  const bool first = s[1] != 0.0;
  FER_CUDA_KERNEL_LOOP(i, n) {
    optim::sgd_element(p + i, g[i], buf ? buf + i : nullptr, lr, mom, damp, wd, nesterov, first);
  }
}
__global__ void adam_kernel(int64_t n, float* p, const float* g, float* m, float* v, float* vmax, float b1, float b2,
                            float eps, const double* s) {
  const float step_size = static_cast<float>(s[0]), bc2_sqrt = static_cast<float>(s[1]),
              decay = static_cast<float>(s[2]), l2 = static_cast<float>(s[3]);
  FER_CUDA_KERNEL_LOOP(i, n) {
    optim::adam_element(p + i, g[i], m + i, v + i, vmax ? vmax + i : nullptr, b1, b2, eps, step_size, bc2_sqrt, decay,
                        l2);
  }
}
__global__ void radam_kernel(int64_t n, float* p, const float* g, float* m, float* v, float b1, float b2, float eps,
                             const double* s) {
  const float lr = static_cast<float>(s[0]), bc1 = static_cast<float>(s[1]), bc2_sqrt = static_cast<float>(s[2]),
              rect = static_cast<float>(s[3]), decay = static_cast<float>(s[5]), l2 = static_cast<float>(s[6]);
  const bool rectified = s[4] != 0.0;
  FER_CUDA_KERNEL_LOOP(i, n) {
    optim::radam_element(p + i, g[i], m + i, v + i, b1, b2, eps, lr, bc1, bc2_sqrt, rect, rectified, decay, l2);
  }
}
__global__ void scale_kernel(int64_t n, float* g, float f) {
  FER_CUDA_KERNEL_LOOP(i, n) {
    g[i] = g[i] * f;
  }
}

// g *= clip_factor(*total, max_norm); every thread reads the same total (no host round trip).
__global__ void clip_by_norm_kernel(int64_t n, float* g, const double* total, double max_norm) {
  const double f = optim::clip_factor(*total, max_norm);
  if (f == 1.0) return;
  const float ff = static_cast<float>(f);
  FER_CUDA_KERNEL_LOOP(i, n) {
    g[i] = g[i] * ff;
  }
}

}  // namespace

void sgd_apply(int64_t n, float* params, const float* grads, float* momentum_buf, const SgdConfig& c,
               const double* scalars, cuda_stream stream) {
  check_sgd("sgd_apply", n, c, 1, momentum_buf != nullptr);
  if (n == 0) return;
  sgd_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, params, grads, momentum_buf, scalars,
                                                          static_cast<float>(c.momentum),
                                                          static_cast<float>(c.dampening),
                                                          static_cast<float>(c.weight_decay), c.nesterov);
  FER_LAUNCH_CHECK();
}
void adam_apply(int64_t n, float* params, const float* grads, float* exp_avg, float* exp_avg_sq, const AdamConfig& c,
                const double* scalars, cuda_stream stream, float* max_exp_avg_sq) {
  check_adam("adam_apply", n, c, 1, max_exp_avg_sq != nullptr);
  if (n == 0) return;
  adam_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(
      n, params, grads, exp_avg, exp_avg_sq, c.amsgrad ? max_exp_avg_sq : nullptr, static_cast<float>(c.beta1),
      static_cast<float>(c.beta2), static_cast<float>(c.eps), scalars);
  FER_LAUNCH_CHECK();
}
void radam_apply(int64_t n, float* params, const float* grads, float* exp_avg, float* exp_avg_sq, const AdamConfig& c,
                 const double* scalars, cuda_stream stream) {
  check_adam("radam_apply", n, c, 1, false);
  FER_CHECK(!c.amsgrad, "radam_apply: amsgrad is an Adam option; hint: set amsgrad = false for RAdam");
  if (n == 0) return;
  radam_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, params, grads, exp_avg, exp_avg_sq,
                                                            static_cast<float>(c.beta1), static_cast<float>(c.beta2),
                                                            static_cast<float>(c.eps), scalars);
  FER_LAUNCH_CHECK();
}
size_t grad_norm_workspace_bytes(int64_t n) {
  return static_cast<size_t>(norm_blocks(n) + 1) * sizeof(double);
}

void grad_norm_to(int64_t n, const float* grads, void* workspace, double* norm_out, cuda_stream stream) {
  FER_CHECK(n >= 0, "grad_norm: negative element count n=" << n);
  FER_CHECK(workspace != nullptr, "grad_norm: workspace is null; hint: pass grad_norm_workspace_bytes(n) = "
                                      << grad_norm_workspace_bytes(n) << " bytes of device memory");
  FER_CHECK(norm_out != nullptr, "grad_norm: the result pointer is null");
  if (n == 0) {
    memset_device(norm_out, 0, sizeof(double), stream);  // all-zero bytes are +0.0
    return;
  }
  const int64_t blocks = norm_blocks(n);
  double* partial = static_cast<double*>(workspace);
  norm_partials_kernel<<<static_cast<unsigned>(blocks), kNormBlock, 0, to_cuda(stream)>>>(n, grads, partial);
  FER_LAUNCH_CHECK();
  norm_final_kernel<<<1, kNormBlock, 0, to_cuda(stream)>>>(blocks, partial, norm_out);
  FER_LAUNCH_CHECK();
}

void clip_by_norm(int64_t n, float* grads, const double* total_norm, double max_norm, cuda_stream stream) {
  FER_CHECK(n >= 0, "clip_by_norm: negative element count n=" << n);
  FER_CHECK(total_norm != nullptr, "clip_by_norm: total_norm is null");
  if (n == 0) return;
  clip_by_norm_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, grads, total_norm, max_norm);
  FER_LAUNCH_CHECK();
}

double grad_norm(int64_t n, const float* grads, void* workspace, cuda_stream stream) {
  if (n == 0) return 0.0;
  double* result = static_cast<double*>(workspace) + norm_blocks(n);
  grad_norm_to(n, grads, workspace, result, stream);
  double host = 0;
  memcpy_d2h(&host, result, sizeof(double), stream);  // synchronizes
  return host;
}

void scale(int64_t n, float* grads, double factor, cuda_stream stream) {
  FER_CHECK(n >= 0, "scale: negative element count n=" << n);
  if (n == 0) return;
  scale_kernel<<<grid_for(n), kBlock, 0, to_cuda(stream)>>>(n, grads, static_cast<float>(factor));
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
