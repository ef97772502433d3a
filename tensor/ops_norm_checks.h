// tensor/ops_norm_checks.h: argument validation shared by ops::batch_norm (ops_norm.cpp) and
// ops::batch_norm_act (ops_norm_act.cpp). Internal to the tensor library.
#pragma once

#include "kernels/batchnorm.h"
#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace fer::ops::detail {

// Typed data pointer of an optional tensor (nullptr when undefined).
template <typename T>
T* opt_data(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// A per-channel / per-feature parameter: undefined, or [n] with x's dtype and device.
inline void check_param(const char* op, const char* what, const Tensor& p, const Tensor& x, int64_t n) {
  if (!p.defined()) return;
  FER_CHECK(p.ndim() == 1 && p.size(0) == n,
            op << ": " << what << " must be [" << n << "] to match " << describe(x) << ", got " << describe(p));
  FER_CHECK(p.dtype() == x.dtype(),
            op << ": " << what << " dtype " << describe(p) << " differs from x " << describe(x));
  check_same_device(op, x, p);
}

// Validates batch norm's arguments and returns the dims. *use_batch_stats is set to
// training || !running_mean.defined() (eval without tracked statistics uses the batch's).
inline BatchNormDims check_batch_norm_args(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                           const Tensor& running_mean, const Tensor& running_var, bool training,
                                           bool* use_batch_stats) {
  FER_CHECK(x.ndim() == 4 || x.ndim() == 2, op << ": expected x [N, C, H, W] or [N, C], got " << describe(x));
  check_cuda_float(op, x);
  BatchNormDims d;
  d.n = x.size(0), d.c = x.size(1);
  if (x.ndim() == 4) d.h = x.size(2), d.w = x.size(3);
  check_param(op, "gamma", gamma, x, d.c);
  check_param(op, "beta", beta, x, d.c);
  check_param(op, "running_mean", running_mean, x, d.c);
  check_param(op, "running_var", running_var, x, d.c);
  FER_CHECK(running_mean.defined() == running_var.defined(),
            op << ": pass both running_mean and running_var, or neither (no tracked statistics)");
  FER_CHECK(!running_mean.defined() || (!running_mean.requires_grad() && !running_var.requires_grad()),
            op << ": running statistics are buffers updated in place and must not require a gradient");
  *use_batch_stats = training || !running_mean.defined();
  check_batchnorm(op, d, *use_batch_stats);
  return d;
}

}  // namespace fer::ops::detail
