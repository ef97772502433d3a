// tensor/ops_loss.cpp: losses (kernels/loss.h).
//
// cross_entropy and focal_loss are fused: one kernel pass writes the loss and d(loss)/d(logits)
// for an upstream gradient of 1; the node keeps that tensor and scales it by the upstream gradient
// (1 when the loss is the root of backward). nll_loss and mse_loss have separate backward kernels
// that read the upstream gradient from memory (no host synchronisation on the GPU).
// Labels are i32 [N] on the logits' device. On the host they are range-checked before any kernel
// runs; on the GPU an out-of-range label turns that sample's loss into NaN (never an out-of-bounds
// read), which the trainer's NaN check reports, so the data loader checks labels when it reads them.
#include "kernels/loss.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace fer::ops {

namespace {

void check_class_inputs(const char* op, const Tensor& scores, const Tensor& labels, const Tensor& weights) {
  FER_CHECK(scores.ndim() == 2, op << ": expected [N, K] scores, got " << describe(scores)
                                   << "; hint: flatten the model output to [N, classes]");
  check_dtype(op, labels, DType::i32, "labels");
  FER_CHECK(labels.ndim() == 1 && labels.size(0) == scores.size(0),
            op << ": labels must be [" << scores.size(0) << "] to match " << describe(scores) << ", got "
               << describe(labels));
  check_same_device(op, scores, labels);
  check_cuda_float(op, scores);
  check_class_loss_args(op, scores.size(0), scores.size(1));
  if (weights.defined()) {
    FER_CHECK(weights.ndim() == 1 && weights.size(0) == scores.size(1) && weights.dtype() == scores.dtype(),
              op << ": class weights must be [" << scores.size(1) << "] " << dtype_name(scores.dtype()) << ", got "
                 << describe(weights));
    check_same_device(op, scores, weights);
  }
  if (labels.device() == Device::cpu) check_labels(op, labels.size(0), scores.size(1), labels.data<int32_t>());
}

// Pointer to an optional tensor's data (nullptr when undefined).
template <typename T>
T* opt_ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Backward of the fused losses: the saved dlogits times the upstream gradient.
struct FusedLossBackward final : Node {
  const char* op_name = "";
  Tensor dlogits;
  const char* name() const override { return op_name; }
  std::vector<Tensor> backward(const Tensor& dloss) override { return {scale_by_scalar_tensor(dlogits, dloss)}; }
  void release() override { dlogits = Tensor(); }
};

template <typename Launch>
Tensor fused_loss(const char* op, const char* node_name, const Tensor& logits, Launch&& launch) {
  Tensor loss = Tensor::empty({}, logits.dtype(), logits.device());
  const bool grad = any_requires_grad({&logits});
  Tensor dlogits = grad ? Tensor::empty(logits.shape(), logits.dtype(), logits.device()) : Tensor();
  launch(loss, dlogits);
  (void)op;
  if (grad) {
    auto node = std::make_shared<FusedLossBackward>();
    node->op_name = node_name;
    node->dlogits = dlogits;
    attach_node(loss, node, {&logits});
  }
  return loss;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& class_weights, double label_smoothing) {
  check_class_inputs("cross_entropy", logits, labels, class_weights);
  check_label_smoothing("cross_entropy", label_smoothing);
  const int64_t n = logits.size(0), k = logits.size(1);
  return fused_loss("cross_entropy", "CrossEntropyBackward", logits, [&](Tensor& loss, Tensor& dlogits) {
    run_kernel(
        "cross_entropy", logits,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::softmax_cross_entropy<T>(n, k, logits.data<T>(), labels.data<int32_t>(), opt_ptr<T>(class_weights),
                                        T(label_smoothing), loss.data<T>(), nullptr, opt_ptr<T>(dlogits));
        },
        [&](cuda_stream s) {
          cuda::softmax_cross_entropy(n, k, logits.data<float>(), labels.data<int32_t>(), opt_ptr<float>(class_weights),
                                      float(label_smoothing), loss.data<float>(), nullptr, opt_ptr<float>(dlogits), s);
        });
  });
}

Tensor focal_loss(const Tensor& logits, const Tensor& labels, double gamma, const Tensor& alpha) {
  check_class_inputs("focal_loss", logits, labels, alpha);
  check_focal_gamma("focal_loss", gamma);
  const int64_t n = logits.size(0), k = logits.size(1);
  return fused_loss("focal_loss", "FocalLossBackward", logits, [&](Tensor& loss, Tensor& dlogits) {
    run_kernel(
        "focal_loss", logits,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::focal_loss<T>(n, k, logits.data<T>(), labels.data<int32_t>(), opt_ptr<T>(alpha), T(gamma),
                             loss.data<T>(), nullptr, opt_ptr<T>(dlogits));
        },
        [&](cuda_stream s) {
          cuda::focal_loss(n, k, logits.data<float>(), labels.data<int32_t>(), opt_ptr<float>(alpha), float(gamma),
                           loss.data<float>(), nullptr, opt_ptr<float>(dlogits), s);
        });
  });
}

namespace {
struct NllBackward final : Node {
  Tensor labels, weights;
  Shape shape;
  DType dtype = DType::f32;
  const char* name() const override { return "NllLossBackward"; }
  std::vector<Tensor> backward(const Tensor& dloss) override {
    const int64_t n = shape[0], k = shape[1];
    Tensor dlogp = Tensor::empty(shape, dtype, labels.device());
    run_kernel(
        name(), dlogp,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::nll_loss_backward<T>(n, k, labels.data<int32_t>(), opt_ptr<T>(weights), dloss.data<T>(), dlogp.data<T>());
        },
        [&](cuda_stream s) {
          cuda::nll_loss_backward(n, k, labels.data<int32_t>(), opt_ptr<float>(weights), dloss.data<float>(),
                                  dlogp.data<float>(), s);
        });
    return {dlogp};
  }
  void release() override { labels = weights = Tensor(); }
};
}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, const Tensor& class_weights) {
  check_class_inputs("nll_loss", log_probs, labels, class_weights);
  const int64_t n = log_probs.size(0), k = log_probs.size(1);
  Tensor loss = Tensor::empty({}, log_probs.dtype(), log_probs.device());
  run_kernel(
      "nll_loss", log_probs,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::nll_loss_forward<T>(n, k, log_probs.data<T>(), labels.data<int32_t>(), opt_ptr<T>(class_weights),
                                 loss.data<T>(), nullptr);
      },
      [&](cuda_stream s) {
        cuda::nll_loss_forward(n, k, log_probs.data<float>(), labels.data<int32_t>(), opt_ptr<float>(class_weights),
                               loss.data<float>(), nullptr, s);
      });
  if (any_requires_grad({&log_probs})) {
    auto node = std::make_shared<NllBackward>();
    node->labels = labels;
    node->weights = class_weights.defined() ? class_weights.detach() : Tensor();
    node->shape = log_probs.shape();
    node->dtype = log_probs.dtype();
    attach_node(loss, node, {&log_probs});
  }
  return loss;
}

namespace {
struct MseBackward final : Node {
  MseReduction reduction;
  int64_t n = 0, d = 0;
  Tensor x, target;
  const char* name() const override { return "MseLossBackward"; }
  std::vector<Tensor> backward(const Tensor& dloss) override {
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    run_kernel(
        name(), x,
        [&](auto tag) {
          using T = decltype(tag);
          cpu::mse_loss_backward<T>(reduction, n, d, x.data<T>(), target.data<T>(), dloss.data<T>(), dx.data<T>());
        },
        [&](cuda_stream s) {
          cuda::mse_loss_backward(reduction, n, d, x.data<float>(), target.data<float>(), dloss.data<float>(),
                                  dx.data<float>(), s);
        });
    return {dx};
  }
  void release() override { x = target = Tensor(); }
};
}  // namespace

Tensor mse_loss(const Tensor& prediction, const Tensor& target, Reduction reduction) {
  FER_CHECK(prediction.shape() == target.shape() && prediction.ndim() >= 1 && prediction.dtype() == target.dtype(),
            "mse_loss: prediction " << describe(prediction) << " and target " << describe(target)
                                    << " must have the same shape and dtype");
  check_same_device("mse_loss", prediction, target);
  check_cuda_float("mse_loss", prediction);
  const int64_t n = prediction.size(0), d = prediction.numel() / std::max<int64_t>(1, n);
  const MseReduction r = reduction == Reduction::mean ? MseReduction::mean : MseReduction::per_sample;
  check_mse_args("mse_loss", n, d);
  Tensor out = reduction == Reduction::mean ? Tensor::empty({}, prediction.dtype(), prediction.device())
                                            : Tensor::empty({n}, prediction.dtype(), prediction.device());
  run_kernel(
      "mse_loss", prediction,
      [&](auto tag) {
        using T = decltype(tag);
        cpu::mse_loss_forward<T>(r, n, d, prediction.data<T>(), target.data<T>(), out.data<T>());
      },
      [&](cuda_stream s) {
        cuda::mse_loss_forward(r, n, d, prediction.data<float>(), target.data<float>(), out.data<float>(), s);
      });
  if (any_requires_grad({&prediction})) {
    auto node = std::make_shared<MseBackward>();
    node->reduction = r;
    node->n = n;
    node->d = d;
    node->x = prediction.detach();
    node->target = target.detach();
    attach_node(out, node, {&prediction});
  }
  return out;
}

}  // namespace fer::ops
