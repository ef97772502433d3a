// tensor/ops.h: differentiable tensor operations.
//
// Each op checks its arguments (naming the op, the shapes and a hint), picks the CPU or CUDA kernel
// from kernels/, and, when an input requires a gradient, records a node whose backward() sits next
// to the forward in the op's .cpp file (tensor/ops_<family>.cpp).
// CPU ops accept f32 and f64 (gradient checks); CUDA ops take f32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/masking.h"
#include "kernels/precision.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace fer::ops {

// ---- activations (ops_activation.cpp) ---------------------------------------------------------
Tensor activation(const Tensor& x, Activation kind);
inline Tensor relu(const Tensor& x) { return activation(x, Activation::relu); }
inline Tensor sigmoid(const Tensor& x) { return activation(x, Activation::sigmoid); }
inline Tensor silu(const Tensor& x) { return activation(x, Activation::silu); }
inline Tensor gelu(const Tensor& x) { return activation(x, Activation::gelu); }
// y = act(a + b) in one pass (ops_add_act.cpp; kernels/add_act.h): a residual block's end. a and b
// have the same shape and dtype (no broadcasting); equal to activation(add(a, b), act), bit-identical
// on the CPU, but one kernel and the tape keeps y (plus a + b for silu/gelu) instead of the sum and y.
Tensor add_act(const Tensor& a, const Tensor& b, Activation act);

// ---- matrix products (ops_linear.cpp) -----------------------------------------------------------
// y[..., out] = x[..., in] · w[out, in]^T + b[out]   (b may be undefined)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
// c[B, M, N] = a[B, M, K] · b[B, K, N]  (trans flags transpose the last two dims of a / b)
Tensor bmm(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---- matmul precision (ops_precision.cpp; kernels/precision.h) ---------------------------------
// conv2d, conv_transpose2d, linear and bmm multiply rounded COPIES of their f32 operands when
// math_precision() is tf32 or bf16 (the forward records the precision for its backward); f64 and
// everything else stay exact. A rounded copy of x (no autograd); x itself for fp32 or f64.
Tensor round_to_precision(const Tensor& x, MathPrecision p);

// ---- convolution (ops_conv.cpp) -------------------------------------------------------------------
struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, groups = 1;
  static Conv2dOptions make(int64_t stride, int64_t padding, int64_t groups = 1) {
    return {stride, stride, padding, padding, groups};
  }
};
// Which implementation conv2d uses on CUDA tensors, process-wide (fertrain --conv-impl): native =
// kernels/conv2d.h (the default), cudnn = kernels/conv2d_cudnn.h (forward, grad-input, grad-weight;
// its cuDNN settings: tf32 off, algorithm search "find"), tc = kernels/conv2d_tc.h (implicit GEMM on
// the tensor cores, sm_80+; needs math_precision() tf32 or bf16: under fp32 a CUDA conv2d throws
// "--conv-impl tc needs --precision tf32|bf16"). conv_transpose2d and CPU tensors always use the
// native kernels. set_conv_impl(cudnn) without cuDNN / set_conv_impl(tc) without CUDA throw fer::Error.
enum class ConvImpl { native, cudnn, tc };
void set_conv_impl(ConvImpl impl);
ConvImpl conv_impl();
ConvImpl conv_impl_from_name(const std::string& name);  // "native" | "cudnn" | "tc", else fer::Error
// x [N, Cin, H, W], w [Cout, Cin/groups, kh, kw], b [Cout] or undefined -> [N, Cout, Ho, Wo]
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& options);
// x [N, Cin, H, W], w [Cin, Cout, kh, kw] (PyTorch layout), b [Cout] or undefined
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding);

// ---- normalization (ops_norm.cpp) ---------------------------------------------------------------
// x [N, C, H, W] or [N, C]. In training mode uses batch statistics and updates running_mean/var in
// place (when defined; unbiased variance, PyTorch's rule); in eval mode uses the running statistics
// (the batch statistics when running_mean/var are undefined). gamma/beta may be undefined.
// Training needs more than one value per channel (N*H*W > 1).
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps);
// y = act(batch_norm(x, ...)) in one fused op (ops_norm_act.cpp, kernels/batchnorm_act.h): same
// arguments, checks, statistics and running-stat update as batch_norm; the forward output equals
// activation(batch_norm(...), act) bit for bit on the CPU. The backward keeps only x, gamma, beta and
// the per-channel statistics (no normalised or activated tensor) and recomputes z = bn(x).
Tensor batch_norm_act(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                      const Tensor& running_var, bool training, double momentum, double eps, Activation act);
// Normalizes over the last dimension.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);

// ---- pooling, dropout, resampling (ops_pool.cpp) --------------------------------------------------
struct PoolOptions {
  int64_t kernel_h = 2, kernel_w = 2, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only
  static PoolOptions make(int64_t kernel, int64_t stride, int64_t padding = 0, bool ceil_mode = false) {
    return {kernel, kernel, stride, stride, padding, padding, ceil_mode, true};
  }
};
Tensor max_pool2d(const Tensor& x, const PoolOptions& options);
Tensor avg_pool2d(const Tensor& x, const PoolOptions& options);
Tensor global_avg_pool(const Tensor& x);  // [N, C, H, W] -> [N, C]
// Inverted dropout (identity when !training or p == 0); the mask comes from the generator's
// dropout stream, so it is the same on CPU and CUDA.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);
// Stochastic depth: drops whole samples (dim 0) with probability p, scales survivors by 1/(1-p).
Tensor drop_path(const Tensor& x, double p, bool training, Generator& gen);
Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w);  // align_corners = false
Tensor upsample_nearest2d(const Tensor& x, int64_t out_h, int64_t out_w);

// ---- softmax, masking, losses (ops_softmax.cpp, ops_loss.cpp) -------------------------------------
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
using fer::MaskKind;  // kernels/masking.h: softmax (the reference code's choice) or sigmoid
// The Residual Masking Network refinement y = x * (1 + M), M = softmax over channels of z (or sigmoid(z)).
Tensor mask_apply(const Tensor& x, const Tensor& z, MaskKind kind);
// Mean weighted softmax cross-entropy of logits [N, K] against i32 labels [N]: sum_i w_{y_i} l_i / sum_i w_{y_i}.
// class_weights [K] may be undefined (all 1). label_smoothing in [0, 1). Returns a scalar [].
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& class_weights = Tensor(),
                     double label_smoothing = 0.0);
Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, const Tensor& class_weights = Tensor());
enum class Reduction { mean, per_sample };
Tensor mse_loss(const Tensor& prediction, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor focal_loss(const Tensor& logits, const Tensor& labels, double gamma, const Tensor& alpha = Tensor());
// How many rows of logits [N, K] have their argmax (first maximum) at the i32 label: an i64 scalar []
// on the logits' device (kernels/accuracy.h; no gradient, no host synchronisation).
Tensor count_correct(const Tensor& logits, const Tensor& labels);

// ---- elementwise with broadcasting, reductions (ops_elementwise.cpp) ---------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);
Tensor sum(const Tensor& x);   // all elements -> []
Tensor mean(const Tensor& x);  // all elements -> []
// Sum / mean over one dimension (removed from the shape).
Tensor sum_dim(const Tensor& x, int64_t dim);
Tensor mean_dim(const Tensor& x, int64_t dim);

// ---- layout (ops_layout.cpp) -----------------------------------------------------------------------
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
// Rows of x (dim 0) picked by i32/i64 indices (no gradient to the indices).
Tensor index_select_rows(const Tensor& x, const Tensor& indices);

// ---- shape (ops_shape.cpp) ----------------------------------------------------------------------
// reshape/flatten are Tensor methods (views with autograd).

}  // namespace fer::ops
