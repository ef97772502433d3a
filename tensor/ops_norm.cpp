// tensor/ops_norm.cpp: batch and layer normalisation with autograd (kernels/batchnorm.h,
// kernels/layernorm.h).
//
//   batch_norm  training: batch statistics (saved: mean, invstd [C]); running_mean/var updated in
//               place (no autograd). eval: the running statistics, treated as constants.
//               Gradients for x, gamma, beta as needed (formulas in kernels/batchnorm.h).
//   layer_norm  over the last dimension; saved mean/invstd per row.
#include "kernels/batchnorm.h"
#include "kernels/layernorm.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace fer::ops {

namespace {

template <typename T>
T* opt_ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

void check_param(const char* op, const char* what, const Tensor& p, const Tensor& x, int64_t size) {
  if (!p.defined()) return;
  FER_CHECK(p.ndim() == 1 && p.size(0) == size,
            op << ": " << what << " must be [" << size << "], got " << describe(p) << " for x " << describe(x));
  check_same_device(op, x, p);
  FER_CHECK(p.dtype() == x.dtype(), op << ": dtype mismatch, x " << describe(x) << ", " << what << " " << describe(p));
}

struct BatchNormBackward final : Node {
  BatchNormDims d{};
  bool training = true;
  double eps = 1e-5;
  Tensor x, gamma, mean, stat;  // stat: saved invstd (training) or the running variance (eval)
  const char* name() const override { return "BatchNormBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    const Tensor& dy = dy_in;
    Tensor dx, dgamma, dbeta;
    if (next[0]) dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (next[1]) dgamma = Tensor::empty({d.c}, x.dtype(), x.device());
    if (next[2]) dbeta = Tensor::empty({d.c}, x.dtype(), x.device());
    run_kernel(
        name(), x,
        [&](auto tag) {
          using T = decltype(tag);
          if (training)
            cpu::batchnorm2d_backward_train<T>(d, x.data<T>(), dy.data<T>(), opt_ptr<T>(gamma), mean.data<T>(),
                                               stat.data<T>(), opt_ptr<T>(dx), opt_ptr<T>(dgamma), opt_ptr<T>(dbeta));
          else
            cpu::batchnorm2d_backward_eval<T>(d, x.data<T>(), dy.data<T>(), opt_ptr<T>(gamma), mean.data<T>(),
                                              stat.data<T>(), eps, opt_ptr<T>(dx), opt_ptr<T>(dgamma),
                                              opt_ptr<T>(dbeta));
        },
        [&](cuda_stream s) {
          if (training)
            cuda::batchnorm2d_backward_train(d, x.data<float>(), dy.data<float>(), opt_ptr<float>(gamma),
                                             mean.data<float>(), stat.data<float>(), opt_ptr<float>(dx),
                                             opt_ptr<float>(dgamma), opt_ptr<float>(dbeta), s);
          else
            cuda::batchnorm2d_backward_eval(d, x.data<float>(), dy.data<float>(), opt_ptr<float>(gamma),
                                            mean.data<float>(), stat.data<float>(), eps, opt_ptr<float>(dx),
                                            opt_ptr<float>(dgamma), opt_ptr<float>(dbeta), s);
        });
    return {dx, dgamma, dbeta};
  }
  void release() override { x = gamma = mean = stat = Tensor(); }
};

struct LayerNormBackward final : Node {
  LayerNormDims d{};
  Tensor x, gamma, mean, invstd;
  const char* name() const override { return "LayerNormBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    const Tensor& dy = dy_in;
    Tensor dx, dgamma, dbeta;
    if (next[0]) dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (next[1]) dgamma = Tensor::empty({d.dim}, x.dtype(), x.device());
    if (next[2]) dbeta = Tensor::empty({d.dim}, x.dtype(), x.device());
    run_kernel(
        name(), x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::layernorm_backward<T>(d, x.data<T>(), dy.data<T>(), opt_ptr<T>(gamma), mean.data<T>(), invstd.data<T>(),
                                     opt_ptr<T>(dx), opt_ptr<T>(dgamma), opt_ptr<T>(dbeta));
        },
        [&](cuda_stream s) {
          cuda::layernorm_backward(d, x.data<float>(), dy.data<float>(), opt_ptr<float>(gamma), mean.data<float>(),
                                   invstd.data<float>(), opt_ptr<float>(dx), opt_ptr<float>(dgamma),
                                   opt_ptr<float>(dbeta), s);
        });
    return {dx, dgamma, dbeta};
  }
  void release() override { x = gamma = mean = invstd = Tensor(); }
};

}  // namespace

Tensor batch_norm(const Tensor& x_in, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  FER_CHECK(x_in.ndim() == 4 || x_in.ndim() == 2, op << ": expected x [N, C, H, W] or [N, C], got " << describe(x_in));
  check_cuda_float(op, x_in);
  const Tensor& x = x_in;
  BatchNormDims d{x.size(0), x.size(1), x.ndim() == 4 ? x.size(2) : 1, x.ndim() == 4 ? x.size(3) : 1};
  check_param(op, "weight (gamma)", gamma, x, d.c);
  check_param(op, "bias (beta)", beta, x, d.c);
  check_param(op, "running_mean", running_mean, x, d.c);
  check_param(op, "running_var", running_var, x, d.c);
  FER_CHECK(training || (running_mean.defined() && running_var.defined()),
            op << ": eval mode needs running statistics (the module was built with track_running_stats=False?)");
  check_batchnorm(op, d, training);
  FER_CHECK(eps > 0, op << ": eps must be positive, got " << eps);

  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor save_mean, save_invstd;
  if (training) {
    save_mean = Tensor::empty({d.c}, x.dtype(), x.device());
    save_invstd = Tensor::empty({d.c}, x.dtype(), x.device());
    Tensor rm = running_mean, rv = running_var;  // updated in place (handles share storage)
    run_kernel(
        op, x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::batchnorm2d_forward_train<T>(d, x.data<T>(), opt_ptr<T>(gamma), opt_ptr<T>(beta), eps, momentum,
                                            opt_ptr<T>(rm), opt_ptr<T>(rv), y.data<T>(), save_mean.data<T>(),
                                            save_invstd.data<T>());
        },
        [&](cuda_stream s) {
          cuda::batchnorm2d_forward_train(d, x.data<float>(), opt_ptr<float>(gamma), opt_ptr<float>(beta), eps,
                                          momentum, opt_ptr<float>(rm), opt_ptr<float>(rv), y.data<float>(),
                                          save_mean.data<float>(), save_invstd.data<float>(), s);
        });
  } else {
    run_kernel(
        op, x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::batchnorm2d_forward_eval<T>(d, x.data<T>(), opt_ptr<T>(gamma), opt_ptr<T>(beta),
                                           running_mean.data<T>(), running_var.data<T>(), eps, y.data<T>());
        },
        [&](cuda_stream s) {
          cuda::batchnorm2d_forward_eval(d, x.data<float>(), opt_ptr<float>(gamma), opt_ptr<float>(beta),
                                         running_mean.data<float>(), running_var.data<float>(), eps, y.data<float>(), s);
        });
  }
  if (any_requires_grad({&x_in, &gamma, &beta})) {
    auto node = std::make_shared<BatchNormBackward>();
    node->d = d;
    node->training = training;
    node->eps = eps;
    node->x = x.detach();
    node->gamma = gamma.defined() ? gamma.detach() : Tensor();
    // eval: copies, so a later in-place update of the running statistics cannot change the gradient
    node->mean = training ? save_mean : running_mean.detach().clone();
    node->stat = training ? save_invstd : running_var.detach().clone();
    attach_node(y, node, {&x_in, &gamma, &beta});
  }
  return y;
}

Tensor layer_norm(const Tensor& x_in, const Tensor& gamma, const Tensor& beta, double eps) {
  const char* op = "layer_norm";
  FER_CHECK(x_in.ndim() >= 1, op << ": expected at least one dimension, got " << describe(x_in));
  check_cuda_float(op, x_in);
  const Tensor& x = x_in;
  const int64_t dim = x.size(-1);
  LayerNormDims d{dim > 0 ? x.numel() / dim : 0, dim};
  check_layernorm(op, d);
  check_param(op, "weight (gamma)", gamma, x, dim);
  check_param(op, "bias (beta)", beta, x, dim);
  FER_CHECK(eps > 0, op << ": eps must be positive, got " << eps);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({d.rows}, x.dtype(), x.device());
  Tensor invstd = Tensor::empty({d.rows}, x.dtype(), x.device());
  run_kernel(
      op, x,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::layernorm_forward<T>(d, x.data<T>(), opt_ptr<T>(gamma), opt_ptr<T>(beta), eps, y.data<T>(),
                                  mean.data<T>(), invstd.data<T>());
      },
      [&](cuda_stream s) {
        cuda::layernorm_forward(d, x.data<float>(), opt_ptr<float>(gamma), opt_ptr<float>(beta), eps, y.data<float>(),
                                mean.data<float>(), invstd.data<float>(), s);
      });
  if (any_requires_grad({&x_in, &gamma, &beta})) {
    auto node = std::make_shared<LayerNormBackward>();
    node->d = d;
    node->x = x.detach();
    node->gamma = gamma.defined() ? gamma.detach() : Tensor();
    node->mean = mean;
    node->invstd = invstd;
    attach_node(y, node, {&x_in, &gamma, &beta});
  }
  return y;
}

}  // namespace fer::ops
