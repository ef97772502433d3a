// kernels/optim.h: fused optimizer updates over n contiguous elements, gradient norm and scaling.
//
// PyTorch semantics exactly (torch.optim.SGD / Adam / AdamW / RAdam, single-tensor path), step t
// counted from 1, g = grads[i], p = params[i]:
//
//   sgd    d = g + wd*p                                           (wd = weight_decay, L2)
//          momentum != 0:  b = (t == 1) ? d : momentum*b + (1 - dampening)*d
//                          d = nesterov ? d + momentum*b : b
//          p = p - lr*d
//   adam   decoupled (AdamW):  p = p * (1 - lr*wd)    else  g = g + wd*p
//          m = beta1*m + (1 - beta1)*g;   v = beta2*v + (1 - beta2)*g*g
//          amsgrad: vmax = max(vmax, v), used in place of v below
//          p = p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),   bc1 = 1 - beta1^t, bc2 = 1 - beta2^t
//   radam  weight decay as adam (decoupled is torch >= 2.0's decoupled_weight_decay=True)
//          m, v as adam;  rho_inf = 2/(1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / bc2
//          rho_t > 5:  r = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))
//                      p = p - ((m/bc1) * lr * (sqrt(bc2) / (sqrt(v) + eps))) * r
//          else:       p = p - (m/bc1) * lr
//   grad_norm  sqrt(sum_i g_i^2), accumulated in double (fixed chunks, deterministic)
//   scale      g_i = g_i * factor
//   clip       g_i = g_i * clip_factor(total, max_norm), clip_factor = max_norm / (total + 1e-6) when total
//              is finite and that is < 1, else 1 (torch.nn.utils.clip_grad_norm_); clip_by_norm reads
//              total from memory (on CUDA from the device: grad_norm_to + clip_by_norm never wait for
//              the host, so a clipped training step has no host synchronisation)
//
// The per-step scalars (learning rate, bias corrections, rectification) are computed once on the
// host in double (*_step_scalars) and the per-element formulas below are shared by both backends,
// so the CPU twin and the CUDA kernel do the same arithmetic in the same order. The update kernels
// (*_apply) read those scalars from memory - host memory on the CPU, device memory on CUDA - rather
// than taking them as arguments, so a captured CUDA graph replays with the step's new values (the
// host writes them before each launch). *_step computes the scalars and applies them in one call.
// Semantics: params, momentum_buf, exp_avg, exp_avg_sq, max_exp_avg_sq and grads (scale) are
// updated in place; grads are read only otherwise. Buffers start as zeros (the caller allocates
// them); SGD's momentum buffer is overwritten with d at t == 1, as PyTorch initialises it.
// momentum_buf may be null when momentum == 0; max_exp_avg_sq must be given iff amsgrad.
// CUDA: one thread per element (grid-stride); grad_norm is a two-pass reduction (per-block double
// partials, then one block with a fixed tree): no atomics, the same bits every run.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

struct SgdConfig {
  double lr = 0.01, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // AdamW (and RAdam's decoupled_weight_decay)
  bool amsgrad = false;                 // adam only; needs max_exp_avg_sq
};

// Argument checks shared by both backends (throw fer::Error naming the op and the values).
void check_sgd(const char* op, int64_t n, const SgdConfig& c, int64_t step, bool has_momentum_buf);
void check_adam(const char* op, int64_t n, const AdamConfig& c, int64_t step, bool has_max_buf);

namespace optim {

using std::sqrt;

// clip_grad_norm_'s factor: max_norm / (total + 1e-6) when total is finite and that is < 1, else 1.
// (total - total) == 0 is false exactly for inf and NaN, on the host and on the device.
FER_HD double clip_factor(double total, double max_norm) {
  const double coef = max_norm / (total + 1e-6);
  return ((total - total) == 0.0 && coef < 1.0) ? coef : 1.0;
}

// Host-side scalars of one Adam step (double; cast to T for the element loop).
struct AdamScalars {
  double step_size;  // lr / (1 - beta1^t)
  double bc2_sqrt;   // sqrt(1 - beta2^t)
  double decay;      // 1 - lr*wd when decoupled, else 1
  double l2;         // wd when not decoupled, else 0
};
AdamScalars adam_scalars(const AdamConfig& c, int64_t step);

// Host-side scalars of one RAdam step.
struct RadamScalars {
  double bc1;        // 1 - beta1^t
  double bc2_sqrt;   // sqrt(1 - beta2^t)
  double rect;       // the variance rectification r (used when rectified)
  bool rectified;    // rho_t > 5
  double decay, l2;  // as in AdamScalars
};
RadamScalars radam_scalars(const AdamConfig& c, int64_t step);

// The scalars of one step as the *_apply kernels read them: kStepScalars doubles,
//   sgd    [0] lr          [1] 1 at step 1 (momentum buffer initialised), else 0
//   adam   [0] step_size   [1] bc2_sqrt   [2] decay   [3] l2
//   radam  [0] lr          [1] bc1        [2] bc2_sqrt [3] rect   [4] 1 when rectified, else 0
//          [5] decay       [6] l2
// The remaining slots are 0. Each checks its arguments (as check_sgd / check_adam).
inline constexpr int kStepScalars = 8;
void sgd_step_scalars(const SgdConfig& c, int64_t step, double* out);
void adam_step_scalars(const AdamConfig& c, int64_t step, double* out);
void radam_step_scalars(const AdamConfig& c, int64_t step, double* out);

template <typename T>
FER_HD void sgd_element(T* p, T g, T* buf, T lr, T momentum, T dampening, T wd, bool nesterov, bool first) {
  T d = g;
  if (wd != T(0)) d = d + wd * *p;
  if (momentum != T(0)) {
    const T b = first ? d : *buf * momentum + (T(1) - dampening) * d;
    *buf = b;
    d = nesterov ? d + momentum * b : b;
  }
  *p = *p + (-lr) * d;
}

// The moment updates shared by adam and radam (weight decay applied first; *g becomes the gradient used).
template <typename T>
FER_HD void moments_element(T* p, T* g, T* m, T* v, T beta1, T beta2, T decay, T l2) {
  if (decay != T(1)) *p = *p * decay;
  if (l2 != T(0)) *g = *g + l2 * *p;
  *m = *m * beta1 + (T(1) - beta1) * *g;
  *v = *v * beta2 + (T(1) - beta2) * (*g * *g);
}

template <typename T>
FER_HD void adam_element(T* p, T g, T* m, T* v, T* vmax, T beta1, T beta2, T eps, T step_size, T bc2_sqrt, T decay,
                         T l2) {
  moments_element(p, &g, m, v, beta1, beta2, decay, l2);
  T vv = *v;
  if (vmax) {
    if (*vmax < vv || *vmax != *vmax) *vmax = vv;  // torch.maximum (NaN propagates)
    vv = *vmax;
  }
  const T denom = sqrt(vv) / bc2_sqrt + eps;
  *p = *p + (-step_size) * (*m / denom);
}

template <typename T>
FER_HD void radam_element(T* p, T g, T* m, T* v, T beta1, T beta2, T eps, T lr, T bc1, T bc2_sqrt, T rect,
                          bool rectified, T decay, T l2) {
  moments_element(p, &g, m, v, beta1, beta2, decay, l2);
  const T mhat = *m / bc1;
  if (rectified) {
    const T adaptive = bc2_sqrt / (sqrt(*v) + eps);
    *p = *p - ((mhat * lr) * adaptive) * rect;
  } else {
    *p = *p - mhat * lr;
  }
}

}  // namespace optim

namespace cpu {
// One optimizer update over n elements with the step's scalars read from `scalars` (kStepScalars
// doubles laid out as above; params and buffers updated in place).
template <typename T>
void sgd_apply(int64_t n, T* params, const T* grads, T* momentum_buf, const SgdConfig& c, const double* scalars);
template <typename T>
void adam_apply(int64_t n, T* params, const T* grads, T* exp_avg, T* exp_avg_sq, const AdamConfig& c,
                const double* scalars, T* max_exp_avg_sq = nullptr);
template <typename T>
void radam_apply(int64_t n, T* params, const T* grads, T* exp_avg, T* exp_avg_sq, const AdamConfig& c,
                 const double* scalars);
// One optimizer step over n elements: the scalars of `step`, then the update.
template <typename T>
void sgd_step(int64_t n, T* params, const T* grads, T* momentum_buf, const SgdConfig& c, int64_t step);
template <typename T>
void adam_step(int64_t n, T* params, const T* grads, T* exp_avg, T* exp_avg_sq, const AdamConfig& c, int64_t step,
               T* max_exp_avg_sq = nullptr);
template <typename T>
void radam_step(int64_t n, T* params, const T* grads, T* exp_avg, T* exp_avg_sq, const AdamConfig& c, int64_t step);
// sqrt(sum g_i^2) in double; the same value for any thread count.
template <typename T>
double grad_norm(int64_t n, const T* grads);
// grads[i] *= factor
template <typename T>
void scale(int64_t n, T* grads, double factor);
// grads[i] *= clip_factor(*total_norm, max_norm) (nothing when that is 1)
template <typename T>
void clip_by_norm(int64_t n, T* grads, const double* total_norm, double max_norm);
}  // namespace cpu

namespace cuda {
// As cpu::*_apply; `scalars` is device memory (kStepScalars doubles), read by the kernel when it runs.
void sgd_apply(int64_t n, float* params, const float* grads, float* momentum_buf, const SgdConfig& c,
               const double* scalars, cuda_stream stream);
void adam_apply(int64_t n, float* params, const float* grads, float* exp_avg, float* exp_avg_sq, const AdamConfig& c,
                const double* scalars, cuda_stream stream, float* max_exp_avg_sq = nullptr);
void radam_apply(int64_t n, float* params, const float* grads, float* exp_avg, float* exp_avg_sq, const AdamConfig& c,
                 const double* scalars, cuda_stream stream);
// Bytes of device workspace grad_norm needs for n elements (per-block partials plus the result).
size_t grad_norm_workspace_bytes(int64_t n);
// sqrt(sum g_i^2) in double, copied to the host (synchronizes the stream). workspace: device memory
// of grad_norm_workspace_bytes(n) bytes.
double grad_norm(int64_t n, const float* grads, void* workspace, cuda_stream stream);
void scale(int64_t n, float* grads, double factor, cuda_stream stream);
// The same norm written to *norm_out, a double in device memory, without synchronising the host.
void grad_norm_to(int64_t n, const float* grads, void* workspace, double* norm_out, cuda_stream stream);
// grads[i] *= clip_factor(*total_norm, max_norm), total_norm a double in device memory.
void clip_by_norm(int64_t n, float* grads, const double* total_norm, double max_norm, cuda_stream stream);
}  // namespace cuda

}  // namespace fer
