// kernels/loss.h: classification and regression losses.
//
// Shapes: logits / log-probabilities [N,K] row-major, labels int32 [N] in [0,K), class weights
// [K] (optional: nullptr means all 1), MSE inputs [N,D]. Every loss writes (=) its outputs.
//
// softmax_cross_entropy (fused: ONE pass gives the loss and dlogits), PyTorch's CrossEntropyLoss
// with weight=w, label_smoothing=eps, reduction='mean':
//   p_i = softmax(z_i), lse_i = log sum_c exp(z_ic),  -log p_ic = lse_i - z_ic
//   (computed stably as log s_i - (z_ic - m_i), m_i = max_c z_ic, s_i = sum_c exp(z_ic - m_i))
//   l_i = (1-eps) w_{y_i} (-log p_{i,y_i}) + (eps/K) sum_c w_c (-log p_ic)   (= PyTorch 'none')
//   loss = sum_i l_i / W,   W = sum_i w_{y_i}                                (PyTorch 'mean')
//   dlogits_ij = d loss / d z_ij = (a_i p_ij - (1-eps) w_{y_i} [j==y_i] - (eps/K) w_j) / W,
//                a_i = (1-eps) w_{y_i} + (eps/K) sum_c w_c
//   (no weights, no smoothing: (p_ij - [j==y_i]) / N). dlogits is for an upstream gradient of 1;
//   the tensor layer scales it by the actual upstream gradient.
// nll_loss (on log-probabilities q = log p, e.g. the output of log_softmax):
//   l_i = w_{y_i} (-q_{i,y_i}),  loss = sum_i l_i / W,  dq_ij = -w_{y_i} [j==y_i] g / W
// mse_loss on x, t [N,D]:
//   mean:        loss = sum_ij (x_ij - t_ij)^2 / (N D),   dx_ij = 2 (x_ij - t_ij) g / (N D)
//   per_sample:  loss_i = sum_j (x_ij - t_ij)^2 / D,      dx_ij = 2 (x_ij - t_ij) g_i / D
//   (d/dt = -dx; the tensor layer negates if the target needs a gradient.)
// focal_loss (Lin et al. 2017, softmax form; fused like cross-entropy):
//   p_t = p_{i,y_i},  l_i = alpha_{y_i} (1-p_t)^gamma (-log p_t),  loss = sum_i l_i / A,
//   A = sum_i alpha_{y_i} (alpha == nullptr: alpha = 1, so A = N and loss is the plain mean;
//   with alpha the mean is weighted like cross-entropy, so gamma = 0 gives exactly weighted CE).
//   dlogits_ij = alpha_{y_i} [(1-p_t)^gamma - gamma p_t (1-p_t)^(gamma-1) log p_t] (p_ij - [j==y_i]) / A
//
// Upstream gradients: the *_backward functions take `dloss` (a scalar for scalar losses, [N] for
// mse per_sample); nullptr means 1. On CUDA every pointer (labels, weights, loss, dloss) is a
// device pointer and the scalar loss is written on the device (no host sync).
// Normalizer W = 0 (e.g. every sample's class weight is 0) gives NaN/inf, as in PyTorch.
// Labels: the CPU twin throws on a label outside [0,K). The CUDA kernels cannot check device
// labels without a sync; a bad label makes its row's loss and the normalizer NaN, and so the
// total loss and all of dlogits (never an out-of-bounds read). Callers holding host labels validate them
// first with check_labels(); the tensor layer does so.
//
// CUDA: the class losses (N x K with K = 7 in FER) run in ONE block of 1024 threads: one warp per
// row (shuffle reductions over K), then a fixed-order block reduction for the sum and the
// normalizer: one launch, deterministic, no workspace, no atomics. Derivations:
// kernels/notes/softmax_xent.md.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

enum class MseReduction { mean, per_sample };

// Shared validators (CPU and CUDA entry points). `op` names the caller.
void check_class_loss_args(const char* op, int64_t n, int64_t k);
// Host-side label check: every label in [0, k). Throws naming the first bad row and value.
void check_labels(const char* op, int64_t n, int64_t k, const int32_t* host_labels);
// label_smoothing in [0, 1] (cross-entropy) and gamma >= 0 (focal loss); finite.
void check_label_smoothing(const char* op, double label_smoothing);
void check_focal_gamma(const char* op, double gamma);
void check_mse_args(const char* op, int64_t n, int64_t d);

namespace loss {
// Per-element formulas shared by the CPU twin and the CUDA kernels.
using std::exp;
using std::pow;

// Numerator of the cross-entropy gradient for class j of a row (divide by W):
//   a p_j - c_label [j == y] - c_smooth_w_j,   c_label = (1-eps) w_y,  c_smooth_w_j = (eps/K) w_j.
template <typename T>
FER_HD T xent_grad_numerator(T p_j, bool is_label, T a, T c_label, T c_smooth_w_j) {
  return a * p_j - (is_label ? c_label : T(0)) - c_smooth_w_j;
}

// Focal loss terms of one row from lp = log p_t and q = 1 - p_t (q computed as sum_{j != y} p_j,
// accurate when p_t is close to 1). Writes the row loss alpha q^gamma (-lp) and the gradient
// coefficient coef = alpha [q^gamma - gamma p q^(gamma-1) lp] = alpha q^gamma (1 - gamma p lp / q),
// so that dl/dz_j = coef (p_j - [j == y]). lp / q -> -1 as q -> 0, which is used when q == 0.
template <typename T>
FER_HD void focal_terms(T lp, T q, T gamma, T alpha, T* row_loss, T* coef) {
  const T qg = pow(q, gamma);  // (1 - p_t)^gamma; pow(0, 0) = 1, so gamma = 0 is cross-entropy
  const T p = exp(lp);
  const T ratio = q > T(0) ? lp / q : T(-1);
  *row_loss = alpha * qg * (-lp);
  *coef = alpha * qg * (T(1) - gamma * p * ratio);
}
}  // namespace loss

namespace cpu {

// loss: required (a scalar). per_sample [N] and dlogits [N,K]: optional (nullptr skips them).
// class_weights [K]: optional. label_smoothing in [0, 1].
template <typename T>
void softmax_cross_entropy(int64_t n, int64_t k, const T* logits, const int32_t* labels, const T* class_weights,
                           T label_smoothing, T* loss, T* per_sample, T* dlogits);

// nll_loss on log-probabilities logp [N,K]. per_sample optional.
template <typename T>
void nll_loss_forward(int64_t n, int64_t k, const T* logp, const int32_t* labels, const T* class_weights, T* loss,
                      T* per_sample);
// dlogp [N,K] (=): -w_y g / W at the label, 0 elsewhere; g = *dloss (nullptr: 1).
template <typename T>
void nll_loss_backward(int64_t n, int64_t k, const int32_t* labels, const T* class_weights, const T* dloss,
                       T* dlogp);

// mse: out is a scalar (mean) or [N] (per_sample). dloss likewise (nullptr: 1).
template <typename T>
void mse_loss_forward(MseReduction reduction, int64_t n, int64_t d, const T* x, const T* target, T* out);
template <typename T>
void mse_loss_backward(MseReduction reduction, int64_t n, int64_t d, const T* x, const T* target, const T* dloss,
                       T* dx);

// focal loss, fused like softmax_cross_entropy. alpha [K] optional, gamma >= 0.
template <typename T>
void focal_loss(int64_t n, int64_t k, const T* logits, const int32_t* labels, const T* alpha, T gamma, T* loss,
                T* per_sample, T* dlogits);

}  // namespace cpu

namespace cuda {

void softmax_cross_entropy(int64_t n, int64_t k, const float* logits, const int32_t* labels,
                           const float* class_weights, float label_smoothing, float* loss, float* per_sample,
                           float* dlogits, cuda_stream stream);
void nll_loss_forward(int64_t n, int64_t k, const float* logp, const int32_t* labels, const float* class_weights,
                      float* loss, float* per_sample, cuda_stream stream);
void nll_loss_backward(int64_t n, int64_t k, const int32_t* labels, const float* class_weights, const float* dloss,
                       float* dlogp, cuda_stream stream);
void mse_loss_forward(MseReduction reduction, int64_t n, int64_t d, const float* x, const float* target, float* out,
                      cuda_stream stream);
void mse_loss_backward(MseReduction reduction, int64_t n, int64_t d, const float* x, const float* target,
                       const float* dloss, float* dx, cuda_stream stream);
void focal_loss(int64_t n, int64_t k, const float* logits, const int32_t* labels, const float* alpha, float gamma,
                float* loss, float* per_sample, float* dlogits, cuda_stream stream);

}  // namespace cuda

}  // namespace fer
