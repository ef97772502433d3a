// tensor/ops_norm.cpp: batch normalisation and layer normalisation (kernels/batchnorm.h,
// kernels/layernorm.h).
//
//   batch_norm  x [N,C,H,W] or [N,C]; statistics per channel over N*H*W values. Training: batch
//               statistics, saved (mean, invstd per channel) for the backward, and running_mean /
//               running_var updated in place (no autograd) with the unbiased variance. Eval: the
//               running statistics are constants. Without running statistics (both undefined) the
//               batch statistics are used in either mode (PyTorch's track_running_stats=False).
//   layer_norm  x [..., D]; statistics per row over the last dimension; saves mean, invstd per row.
// gamma / beta may be undefined (no affine transform); the kernels treat null as 1 / 0.
#include "kernels/batchnorm.h"
#include "kernels/layernorm.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"
#include "tensor/ops_norm_checks.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

using detail::check_param;
using detail::opt_data;

struct BatchNormBackward final : Node {
  BatchNormDims d{};
  bool train = true;
  double eps = 1e-5;
  Tensor x, gamma;      // detached inputs (gamma may be undefined)
  Tensor mean, second;  // train: save_mean, save_invstd; eval: copies of running_mean, running_var
  Shape input_shape;
  const char* name() const override { return "BatchNormBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx, dgamma, dbeta;
    if (next[0]) dx = Tensor::empty(input_shape, x.dtype(), x.device());
    if (next[1]) dgamma = Tensor::empty({d.c}, x.dtype(), x.device());
    if (next[2]) dbeta = Tensor::empty({d.c}, x.dtype(), x.device());
    run_kernel(
        name(), x,
        [&](auto tag) {
          using T = decltype(tag);
          if (train)
            cpu::batchnorm2d_backward_train<T>(d, x.data<T>(), dy.data<T>(), opt_data<T>(gamma), mean.data<T>(),
                                               second.data<T>(), opt_data<T>(dx), opt_data<T>(dgamma),
                                               opt_data<T>(dbeta));
          else
            cpu::batchnorm2d_backward_eval<T>(d, x.data<T>(), dy.data<T>(), opt_data<T>(gamma), mean.data<T>(),
                                              second.data<T>(), eps, opt_data<T>(dx), opt_data<T>(dgamma),
                                              opt_data<T>(dbeta));
        },
        [&](cuda_stream s) {
          if (train)
            cuda::batchnorm2d_backward_train(d, x.data<float>(), dy.data<float>(), opt_data<float>(gamma),
                                             mean.data<float>(), second.data<float>(), opt_data<float>(dx),
                                             opt_data<float>(dgamma), opt_data<float>(dbeta), s);
          else
            cuda::batchnorm2d_backward_eval(d, x.data<float>(), dy.data<float>(), opt_data<float>(gamma),
                                            mean.data<float>(), second.data<float>(), eps, opt_data<float>(dx),
                                            opt_data<float>(dgamma), opt_data<float>(dbeta), s);
        });
    return {dx, dgamma, dbeta};
  }
  void release() override { x = gamma = mean = second = Tensor(); }
};

struct LayerNormBackward final : Node {
  LayerNormDims d{};
  Tensor x, gamma, mean, invstd;
  Shape input_shape;
  const char* name() const override { return "LayerNormBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx, dgamma, dbeta;
    if (next[0]) dx = Tensor::empty(input_shape, x.dtype(), x.device());
    if (next[1]) dgamma = Tensor::empty({d.dim}, x.dtype(), x.device());
    if (next[2]) dbeta = Tensor::empty({d.dim}, x.dtype(), x.device());
    run_kernel(
        name(), x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::layernorm_backward<T>(d, x.data<T>(), dy.data<T>(), opt_data<T>(gamma), mean.data<T>(), invstd.data<T>(),
                                     opt_data<T>(dx), opt_data<T>(dgamma), opt_data<T>(dbeta));
        },
        [&](cuda_stream s) {
          cuda::layernorm_backward(d, x.data<float>(), dy.data<float>(), opt_data<float>(gamma), mean.data<float>(),
                                   invstd.data<float>(), opt_data<float>(dx), opt_data<float>(dgamma),
                                   opt_data<float>(dbeta), s);
        });
    return {dx, dgamma, dbeta};
  }
  void release() override { x = gamma = mean = invstd = Tensor(); }
};

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  bool use_batch_stats = true;
  const BatchNormDims d =
      detail::check_batch_norm_args(op, x, gamma, beta, running_mean, running_var, training, &use_batch_stats);

  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor save_mean, save_invstd;
  if (use_batch_stats) {
    save_mean = Tensor::empty({d.c}, x.dtype(), x.device());
    save_invstd = Tensor::empty({d.c}, x.dtype(), x.device());
    // in eval mode without tracked statistics there is nothing to update
    Tensor rm = training ? running_mean : Tensor(), rv = training ? running_var : Tensor();
    run_kernel(
        op, x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::batchnorm2d_forward_train<T>(d, x.data<T>(), opt_data<T>(gamma), opt_data<T>(beta), eps, momentum,
                                            opt_data<T>(rm), opt_data<T>(rv), y.data<T>(), save_mean.data<T>(),
                                            save_invstd.data<T>());
        },
        [&](cuda_stream s) {
          cuda::batchnorm2d_forward_train(d, x.data<float>(), opt_data<float>(gamma), opt_data<float>(beta), eps,
                                          momentum, opt_data<float>(rm), opt_data<float>(rv), y.data<float>(),
                                          save_mean.data<float>(), save_invstd.data<float>(), s);
        });
  } else {
    run_kernel(
        op, x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::batchnorm2d_forward_eval<T>(d, x.data<T>(), opt_data<T>(gamma), opt_data<T>(beta),
                                           running_mean.data<T>(), running_var.data<T>(), eps, y.data<T>());
        },
        [&](cuda_stream s) {
          cuda::batchnorm2d_forward_eval(d, x.data<float>(), opt_data<float>(gamma), opt_data<float>(beta),
                                         running_mean.data<float>(), running_var.data<float>(), eps, y.data<float>(),
                                         s);
        });
  }

  if (any_requires_grad({&x, &gamma, &beta})) {
    auto node = std::make_shared<BatchNormBackward>();
    node->d = d;
    node->train = use_batch_stats;
    node->eps = eps;
    node->x = x.detach();
    if (gamma.defined()) node->gamma = gamma.detach();
    if (use_batch_stats) {
      node->mean = save_mean;
      node->second = save_invstd;
    } else {  // copies: a later training step updates the buffers in place before this backward may run
      node->mean = running_mean.clone();
      node->second = running_var.clone();
    }
    node->input_shape = x.shape();
    attach_node(y, node, {&x, &gamma, &beta});
  }
  if (op_recording())
    record_op("batch_norm", {x, gamma, beta, running_mean, running_var}, y,
              {{"eps", {eps}}, {"batch_stats", {use_batch_stats ? 1.0 : 0.0}}});
  return y;
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  const char* op = "layer_norm";
  FER_CHECK(x.ndim() >= 1, op << ": expected x [..., D], got " << describe(x));
  check_cuda_float(op, x);
  LayerNormDims d;
  d.dim = x.size(-1);
  FER_CHECK(d.dim >= 1 && x.numel() >= 1, op << ": empty input " << describe(x));
  d.rows = x.numel() / d.dim;
  check_param(op, "gamma", gamma, x, d.dim);
  check_param(op, "beta", beta, x, d.dim);
  check_layernorm(op, d);

  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor save_mean = Tensor::empty({d.rows}, x.dtype(), x.device());
  Tensor save_invstd = Tensor::empty({d.rows}, x.dtype(), x.device());
  run_kernel(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::layernorm_forward<T>(d, x.data<T>(), opt_data<T>(gamma), opt_data<T>(beta), eps, y.data<T>(),
                                  save_mean.data<T>(), save_invstd.data<T>());
      },
      [&](cuda_stream s) {
        cuda::layernorm_forward(d, x.data<float>(), opt_data<float>(gamma), opt_data<float>(beta), eps, y.data<float>(),
                                save_mean.data<float>(), save_invstd.data<float>(), s);
      });

  if (any_requires_grad({&x, &gamma, &beta})) {
    auto node = std::make_shared<LayerNormBackward>();
    node->d = d;
    node->x = x.detach();
    if (gamma.defined()) node->gamma = gamma.detach();
    node->mean = save_mean;
    node->invstd = save_invstd;
    node->input_shape = x.shape();
    attach_node(y, node, {&x, &gamma, &beta});
  }
  return y;
}

}  // namespace fer::ops
