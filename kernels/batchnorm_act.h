// kernels/batchnorm_act.h: 2-D batch normalisation fused with a pointwise activation, forward and
// backward, in one pass over the data each way (no intermediate z is written or kept).
//
// Shapes and statistics exactly as kernels/batchnorm.h (NCHW contiguous, [N,C] is H = W = 1,
// M = N*H*W values per channel, per-channel [C] vectors):
//
//   forward   z = gamma_c x_hat + beta_c          (x_hat from the batch statistics in training, the
//             y = act(z)                           running ones in eval, same formulas and running-
//                                                  stat update as batchnorm2d_forward_*)
//   backward  z is RECOMPUTED from x and the saved statistics (never stored):
//             dz = act'(z) dy                       (act::backward of kernels/activation.h at z)
//     training  dbeta = sum dz    dgamma = sum dz x_hat
//               dx = gamma invstd (dz - dbeta/M - x_hat dgamma/M)
//     eval      dbeta = sum dz    dgamma = sum dz x_hat
//               dx = gamma dz / sqrt(running_var + eps)
// act is any fer::Activation (relu and silu are the ones the models use); the backward evaluates
// act::backward(a, z, act::forward(a, z), dy), so activations whose derivative reads y work too.
// Derivation, memory argument and how each backend maps to it: kernels/notes/batchnorm_act.md.
//
// Bitwise contract (CPU): y equals act(batchnorm(x)) as cpu::batchnorm2d_forward_* followed by
// cpu::activation_forward compute it: z is rounded to T with the same expression, then act is
// applied in T. The backward recomputes z from save_mean / save_invstd (T-rounded statistics), so in
// float it agrees with the unfused backward to rounding (bit-identical in double and in eval mode).
//
// Nullable pointers, semantics and errors as kernels/batchnorm.h: gamma / beta null mean 1 / 0;
// running stats null in training mean "do not track" (both or neither); dx / dgamma / dbeta null
// mean "not needed"; outputs are written (=); M == 1 in training is an error (check_batchnorm).
// CPU: double accumulators, OpenMP over channels. CUDA: one block per channel, fixed shuffle trees
// (kernels/softmax_reduce.cuh); deterministic, no atomics.
#pragma once

#include "kernels/activation.h"
#include "kernels/batchnorm.h"

namespace fer {

namespace cpu {
// y = act(bn(x)), save_mean =, save_invstd =; running_mean/var updated in place (when not null).
template <typename T>
void batchnorm_act_forward_train(const BatchNormDims& d, Activation a, const T* x, const T* gamma, const T* beta,
                                 double eps, double momentum, T* running_mean, T* running_var, T* y, T* save_mean,
                                 T* save_invstd);
template <typename T>
void batchnorm_act_forward_eval(const BatchNormDims& d, Activation a, const T* x, const T* gamma, const T* beta,
                                const T* running_mean, const T* running_var, double eps, T* y);
// dx =, dgamma =, dbeta = (each may be null). beta is needed to recompute z.
template <typename T>
void batchnorm_act_backward_train(const BatchNormDims& d, Activation a, const T* x, const T* dy, const T* gamma,
                                  const T* beta, const T* save_mean, const T* save_invstd, T* dx, T* dgamma,
                                  T* dbeta);
template <typename T>
void batchnorm_act_backward_eval(const BatchNormDims& d, Activation a, const T* x, const T* dy, const T* gamma,
                                 const T* beta, const T* running_mean, const T* running_var, double eps, T* dx,
                                 T* dgamma, T* dbeta);
}  // namespace cpu

namespace cuda {
void batchnorm_act_forward_train(const BatchNormDims& d, Activation a, const float* x, const float* gamma,
                                 const float* beta, double eps, double momentum, float* running_mean,
                                 float* running_var, float* y, float* save_mean, float* save_invstd,
                                 cuda_stream stream);
void batchnorm_act_forward_eval(const BatchNormDims& d, Activation a, const float* x, const float* gamma,
                                const float* beta, const float* running_mean, const float* running_var, double eps,
                                float* y, cuda_stream stream);
void batchnorm_act_backward_train(const BatchNormDims& d, Activation a, const float* x, const float* dy,
                                  const float* gamma, const float* beta, const float* save_mean,
                                  const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                                  cuda_stream stream);
void batchnorm_act_backward_eval(const BatchNormDims& d, Activation a, const float* x, const float* dy,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, double eps, float* dx, float* dgamma, float* dbeta,
                                 cuda_stream stream);
}  // namespace cuda

}  // namespace fer
