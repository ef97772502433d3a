// tensor/ops_norm_act.cpp: batch normalisation fused with an activation (kernels/batchnorm_act.h).
//
//   batch_norm_act  y = act(batch_norm(x, gamma, beta, running stats)); the arguments, checks, batch
//                   vs running statistics and the running-stat update are batch_norm's
//                   (tensor/ops_norm_checks.h). The autograd node keeps x, gamma, beta and two [C]
//                   statistics; the backward recomputes z = gamma x_hat + beta inside the kernel, so
//                   neither z nor y is kept alive for the backward (the unfused pair keeps x and z).
#include "kernels/batchnorm_act.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"
#include "tensor/ops_norm_checks.h"
#include "tensor/op_record.h"

namespace fer::ops {

namespace {

using detail::opt_data;

struct BatchNormActBackward final : Node {
  BatchNormDims d{};
  Activation act = Activation::relu;
  bool train = true;
  double eps = 1e-5;
  Tensor x, gamma, beta;  // detached inputs (gamma / beta may be undefined)
  Tensor mean, second;    // train: save_mean, save_invstd; eval: copies of running_mean, running_var
  Shape input_shape;
  const char* name() const override { return "BatchNormActBackward"; }
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
            cpu::batchnorm_act_backward_train<T>(d, act, x.data<T>(), dy.data<T>(), opt_data<T>(gamma),
                                                 opt_data<T>(beta), mean.data<T>(), second.data<T>(), opt_data<T>(dx),
                                                 opt_data<T>(dgamma), opt_data<T>(dbeta));
          else
            cpu::batchnorm_act_backward_eval<T>(d, act, x.data<T>(), dy.data<T>(), opt_data<T>(gamma),
                                                opt_data<T>(beta), mean.data<T>(), second.data<T>(), eps,
                                                opt_data<T>(dx), opt_data<T>(dgamma), opt_data<T>(dbeta));
        },
        [&](cuda_stream s) {
          if (train)
            cuda::batchnorm_act_backward_train(d, act, x.data<float>(), dy.data<float>(), opt_data<float>(gamma),
                                               opt_data<float>(beta), mean.data<float>(), second.data<float>(),
                                               opt_data<float>(dx), opt_data<float>(dgamma), opt_data<float>(dbeta), s);
          else
            cuda::batchnorm_act_backward_eval(d, act, x.data<float>(), dy.data<float>(), opt_data<float>(gamma),
                                              opt_data<float>(beta), mean.data<float>(), second.data<float>(), eps,
                                              opt_data<float>(dx), opt_data<float>(dgamma), opt_data<float>(dbeta),
                                              s);
        });
    return {dx, dgamma, dbeta};
  }
  void release() override { x = gamma = beta = mean = second = Tensor(); }
};

}  // namespace

Tensor batch_norm_act(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                      const Tensor& running_var, bool training, double momentum, double eps, Activation act) {
  const char* op = "batch_norm_act";
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
          cpu::batchnorm_act_forward_train<T>(d, act, x.data<T>(), opt_data<T>(gamma), opt_data<T>(beta), eps,
                                              momentum, opt_data<T>(rm), opt_data<T>(rv), y.data<T>(),
                                              save_mean.data<T>(), save_invstd.data<T>());
        },
        [&](cuda_stream s) {
          cuda::batchnorm_act_forward_train(d, act, x.data<float>(), opt_data<float>(gamma), opt_data<float>(beta),
                                            eps, momentum, opt_data<float>(rm), opt_data<float>(rv), y.data<float>(),
                                            save_mean.data<float>(), save_invstd.data<float>(), s);
        });
  } else {
    run_kernel(
        op, x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::batchnorm_act_forward_eval<T>(d, act, x.data<T>(), opt_data<T>(gamma), opt_data<T>(beta),
                                             running_mean.data<T>(), running_var.data<T>(), eps, y.data<T>());
        },
        [&](cuda_stream s) {
          cuda::batchnorm_act_forward_eval(d, act, x.data<float>(), opt_data<float>(gamma), opt_data<float>(beta),
                                           running_mean.data<float>(), running_var.data<float>(), eps,
                                           y.data<float>(), s);
        });
  }

  if (any_requires_grad({&x, &gamma, &beta})) {
    auto node = std::make_shared<BatchNormActBackward>();
    node->d = d;
    node->act = act;
    node->train = use_batch_stats;
    node->eps = eps;
    node->x = x.detach();
    if (gamma.defined()) node->gamma = gamma.detach();
    if (beta.defined()) node->beta = beta.detach();
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
    record_op("batch_norm_act", {x, gamma, beta, running_mean, running_var}, y,
              {{"eps", {eps}}, {"batch_stats", {use_batch_stats ? 1.0 : 0.0}}, {"kind", {double(static_cast<int>(act))}}});
  return y;
}

}  // namespace fer::ops
