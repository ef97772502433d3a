// kernels/loss.cu: the losses on the GPU (math in loss.h, derivations in notes/softmax_xent.md).
//
// Class losses (cross-entropy, focal, NLL): ONE block of 1024 threads does everything.
//   1. the normalizer W = sum_i w_{y_i}: each thread sums rows tid, tid+1024, ..., then a fixed
//      block tree (smx::block_sum);
//   2. one warp per row (rows warp, warp+32, ...): max and sum of exp over K through warp
//      shuffles, the row loss, and the gradient row, already divided by W (known from step 1);
//   3. lane 0 of each warp has summed its rows' losses in row order; a block tree adds the 32
//      partials and thread 0 writes loss = total / W.
// For FER (N <= a few thousand, K = 7) this is a single short launch with no workspace and no
// atomics, and bit-identical run to run. A row whose label is outside [0,K) gets NaN in its loss
// row and in W, and so the loss and every gradient row (each is divided by W); the kernel never
// reads outside the arrays.
// MSE: mean -> one block over all N*D elements (fixed stride per thread, block tree); per_sample
// -> one block per row; backward is elementwise.
#include "kernels/cuda_common.cuh"
#include "kernels/loss.h"
#include "kernels/softmax_reduce.cuh"

namespace fer::cuda {

namespace {

constexpr int kLossThreads = 1024;            // the one block of the class-loss kernels
constexpr int kLossWarps = kLossThreads / 32;  // rows processed concurrently

__device__ __forceinline__ bool label_ok(int32_t y, int64_t k) { return y >= 0 && y < k; }

// w_y (1 when unweighted), NaN for a bad label.
__device__ __forceinline__ float label_weight(int32_t y, int64_t k, const float* w) {
  if (!label_ok(y, k)) return smx::nan_f();
  return w ? w[y] : 1.f;
}

// W = sum_i w_{y_i} over the whole batch; all threads of the block call, all get W.
__device__ float batch_weight_sum(int64_t n, int64_t k, const int32_t* labels, const float* w, float* scratch) {
  float part = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) part += label_weight(labels[i], k, w);
  return smx::block_sum(part, scratch);
}

// Per-row stable log-sum-exp through one warp, kept in pieces as on the CPU: m = max_c z_c,
// s = sum_c exp(z_c - m); -log p_c = log s - (z_c - m), p_c = exp(z_c - m) / s.
// All 32 lanes call; all get the same values.
struct RowStats {
  float m, log_s, inv_s;
};
__device__ __forceinline__ RowStats warp_row_stats(const float* z, int64_t k, int lane) {
  float m = -INFINITY;
  for (int64_t c = lane; c < k; c += 32) m = fmaxf(m, z[c]);
  m = smx::warp_max(m);
  float s = 0.f;
  for (int64_t c = lane; c < k; c += 32) s += expf(z[c] - m);
  s = smx::warp_sum(s);
  return {m, logf(s), 1.f / s};
}

// Fused weighted, label-smoothed cross-entropy; one block (see the top of the file).
__global__ void __launch_bounds__(kLossThreads)
    softmax_xent_kernel(int64_t n, int64_t k, const float* logits, const int32_t* labels, const float* w, float eps,
                        float* loss, float* per_sample, float* dlogits) {
  __shared__ float scratch[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float W = batch_weight_sum(n, k, labels, w, scratch);
  float S = float(k);  // sum_c w_c; every warp computes it the same way
  if (w) {
    float part = 0.f;
    for (int64_t c = lane; c < k; c += 32) part += w[c];
    S = smx::warp_sum(part);
  }
  const float c_smooth = eps / float(k);
  float acc = 0.f;  // lane 0: this warp's row losses, in row order
  for (int64_t r = warp; r < n; r += kLossWarps) {  // r is warp-uniform
    const float* z = logits + r * k;
    const int32_t y = labels[r];
    const bool ok = label_ok(y, k);
    const RowStats st = warp_row_stats(z, k, lane);
    const float c_label = (1.f - eps) * label_weight(y, k, w);  // NaN for a bad label
    // l_r = (1-eps) w_y (-log p_y) + (eps/K) sum_c w_c (-log p_c), -log p_c = log s - (z_c - m)
    float row = c_label * (st.log_s - ((ok ? z[y] : 0.f) - st.m));
    if (eps > 0.f) {
      float part = 0.f;
      for (int64_t c = lane; c < k; c += 32) part += (w ? w[c] : 1.f) * (st.log_s - (z[c] - st.m));
      row += c_smooth * smx::warp_sum(part);
    }
    if (lane == 0) {
      acc += row;
      if (per_sample) per_sample[r] = row;
    }
    if (dlogits) {  // (a p_c - c_label [c==y] - (eps/K) w_c) / W, W known from step 1
      const float a = c_label + c_smooth * S;
      for (int64_t c = lane; c < k; c += 32) {
        const float p = expf(z[c] - st.m) * st.inv_s;
        dlogits[r * k + c] = loss::xent_grad_numerator(p, c == y, a, c_label, c_smooth * (w ? w[c] : 1.f)) / W;
      }
    }
  }
  const float total = smx::block_sum(acc, scratch);
  if (threadIdx.x == 0) *loss = total / W;
}

// Focal loss: the cross-entropy structure with the focal row terms (loss::focal_terms).
__global__ void __launch_bounds__(kLossThreads)
    focal_kernel(int64_t n, int64_t k, const float* logits, const int32_t* labels, const float* alpha, float gamma,
                 float* loss, float* per_sample, float* dlogits) {
  __shared__ float scratch[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float A = batch_weight_sum(n, k, labels, alpha, scratch);
  float acc = 0.f;
  for (int64_t r = warp; r < n; r += kLossWarps) {  // r is warp-uniform
    const float* z = logits + r * k;
    const int32_t y = labels[r];
    const bool ok = label_ok(y, k);
    const RowStats st = warp_row_stats(z, k, lane);
    float q = 0.f;  // 1 - p_t as the sum of the other classes' probabilities
    for (int64_t c = lane; c < k; c += 32)
      if (c != y) q += expf(z[c] - st.m) * st.inv_s;
    q = smx::warp_sum(q);
    float row, coef;
    loss::focal_terms(((ok ? z[y] : 0.f) - st.m) - st.log_s, q, gamma, label_weight(y, k, alpha), &row, &coef);
    if (lane == 0) {
      acc += row;
      if (per_sample) per_sample[r] = row;
    }
    if (dlogits) {
      for (int64_t c = lane; c < k; c += 32) {
        const float p = expf(z[c] - st.m) * st.inv_s;
        dlogits[r * k + c] = coef * (p - (c == y ? 1.f : 0.f)) / A;
      }
    }
  }
  const float total = smx::block_sum(acc, scratch);
  if (threadIdx.x == 0) *loss = total / A;
}

// NLL forward: one thread per row (a gather, no reduction over K).
__global__ void __launch_bounds__(kLossThreads)
    nll_forward_kernel(int64_t n, int64_t k, const float* logp, const int32_t* labels, const float* w, float* loss,
                       float* per_sample) {
  __shared__ float scratch[32];
  float acc = 0.f, wacc = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const int32_t y = labels[i];
    const float wy = label_weight(y, k, w);  // NaN for a bad label
    const float l = wy * -(label_ok(y, k) ? logp[i * k + y] : 0.f);
    if (per_sample) per_sample[i] = l;
    acc += l;
    wacc += wy;
  }
  const float total = smx::block_sum(acc, scratch);
  const float W = smx::block_sum(wacc, scratch);
  if (threadIdx.x == 0) *loss = total / W;
}

// NLL backward: W first, then every element of dlogp (0 except at the label).
__global__ void __launch_bounds__(kLossThreads)
    nll_backward_kernel(int64_t n, int64_t k, const int32_t* labels, const float* w, const float* dloss,
                        float* dlogp) {
  __shared__ float scratch[32];
  const float W = batch_weight_sum(n, k, labels, w, scratch);
  const float g = dloss ? *dloss : 1.f;
  for (int64_t e = threadIdx.x; e < n * k; e += blockDim.x) {
    const int64_t i = e / k, c = e % k;
    const int32_t y = labels[i];
    if (!label_ok(y, k)) dlogp[e] = smx::nan_f();
    else dlogp[e] = c == y ? -(w ? w[y] : 1.f) * g / W : 0.f;
  }
}

// MSE mean: one block, thread t sums elements t, t+1024, ...; block tree; out = sum / (N D).
__global__ void __launch_bounds__(kLossThreads)
    mse_mean_kernel(int64_t count, const float* x, const float* t, float* out) {
  __shared__ float scratch[32];
  float acc = 0.f;
  for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
    const float d = x[e] - t[e];
    acc += d * d;
  }
  const float total = smx::block_sum(acc, scratch);
  if (threadIdx.x == 0) out[0] = total / float(count);
}

// MSE per sample: one block per row (grid-stride over rows); out_i = sum_j (x - t)^2 / D.
__global__ void mse_rows_kernel(int64_t n, int64_t d, const float* x, const float* t, float* out) {
  __shared__ float scratch[32];
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {  // r is block-uniform (block_sum syncs)
    float acc = 0.f;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const float e = x[r * d + j] - t[r * d + j];
      acc += e * e;
    }
    const float total = smx::block_sum(acc, scratch);
    if (threadIdx.x == 0) out[r] = total / float(d);
  }
}

// MSE backward, elementwise: dx = 2 (x - t) / count * g, g = dloss[0] (mean) or dloss[row].
__global__ void mse_backward_kernel(bool mean, int64_t n, int64_t d, const float* x, const float* t,
                                    const float* dloss, float* dx) {
  const float count = mean ? float(n * d) : float(d);
  FER_CUDA_KERNEL_LOOP(e, n * d) {
    const float g = dloss ? dloss[mean ? 0 : e / d] : 1.f;
    dx[e] = 2.f * (x[e] - t[e]) / count * g;
  }
}

}  // namespace

// Host launchers: argument checks on the host (labels live on the device and are not read
// here), then one launch each.
void softmax_cross_entropy(int64_t n, int64_t k, const float* logits, const int32_t* labels,
                           const float* class_weights, float label_smoothing, float* loss, float* per_sample,
                           float* dlogits, cuda_stream stream) {
  check_class_loss_args("cuda::softmax_cross_entropy", n, k);
  check_label_smoothing("cuda::softmax_cross_entropy", label_smoothing);
  FER_CHECK(loss != nullptr, "cuda::softmax_cross_entropy: the loss output is required (N=" << n << ", K=" << k
                                                                                            << ")");
  softmax_xent_kernel<<<1, kLossThreads, 0, to_cuda(stream)>>>(n, k, logits, labels, class_weights, label_smoothing,
                                                               loss, per_sample, dlogits);
  FER_LAUNCH_CHECK();
}

void focal_loss(int64_t n, int64_t k, const float* logits, const int32_t* labels, const float* alpha, float gamma,
                float* loss, float* per_sample, float* dlogits, cuda_stream stream) {
  check_class_loss_args("cuda::focal_loss", n, k);
  check_focal_gamma("cuda::focal_loss", gamma);
  FER_CHECK(loss != nullptr, "cuda::focal_loss: the loss output is required (N=" << n << ", K=" << k << ")");
  focal_kernel<<<1, kLossThreads, 0, to_cuda(stream)>>>(n, k, logits, labels, alpha, gamma, loss, per_sample,
                                                        dlogits);
  FER_LAUNCH_CHECK();
}

void nll_loss_forward(int64_t n, int64_t k, const float* logp, const int32_t* labels, const float* class_weights,
                      float* loss, float* per_sample, cuda_stream stream) {
  check_class_loss_args("cuda::nll_loss_forward", n, k);
  FER_CHECK(loss != nullptr, "cuda::nll_loss_forward: the loss output is required (N=" << n << ", K=" << k << ")");
  nll_forward_kernel<<<1, kLossThreads, 0, to_cuda(stream)>>>(n, k, logp, labels, class_weights, loss, per_sample);
  FER_LAUNCH_CHECK();
}

void nll_loss_backward(int64_t n, int64_t k, const int32_t* labels, const float* class_weights, const float* dloss,
                       float* dlogp, cuda_stream stream) {
  check_class_loss_args("cuda::nll_loss_backward", n, k);
  nll_backward_kernel<<<1, kLossThreads, 0, to_cuda(stream)>>>(n, k, labels, class_weights, dloss, dlogp);
  FER_LAUNCH_CHECK();
}

void mse_loss_forward(MseReduction reduction, int64_t n, int64_t d, const float* x, const float* target, float* out,
                      cuda_stream stream) {
  check_mse_args("cuda::mse_loss_forward", n, d);
  if (reduction == MseReduction::mean) {
    mse_mean_kernel<<<1, kLossThreads, 0, to_cuda(stream)>>>(n * d, x, target, out);
  } else {
    const unsigned blocks = static_cast<unsigned>(n < 65535 * 16 ? n : 65535 * 16);
    mse_rows_kernel<<<blocks, kBlock, 0, to_cuda(stream)>>>(n, d, x, target, out);
  }
  FER_LAUNCH_CHECK();
}

void mse_loss_backward(MseReduction reduction, int64_t n, int64_t d, const float* x, const float* target,
                       const float* dloss, float* dx, cuda_stream stream) {
  check_mse_args("cuda::mse_loss_backward", n, d);
  mse_backward_kernel<<<grid_for(n * d), kBlock, 0, to_cuda(stream)>>>(reduction == MseReduction::mean, n, d, x,
                                                                       target, dloss, dx);
  FER_LAUNCH_CHECK();
}

}  // namespace fer::cuda
