// tools/common/train_step.cpp: see train_step.h.
#include "tools/common/train_step.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tools/common/step_trace.h"

namespace fer::tools {

namespace {

// True when every element of a floating tensor is finite (copied to the host: for fault checks).
bool all_finite(const Tensor& t) {
  const std::vector<double> v = t.to(Device::cpu).to_dtype(DType::f64).to_vector<double>();  // one transfer
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

}  // namespace

PendingStep run_eager_step(nn::Module& model, nn::FlatParameters& flat, nn::Optimizer& optimizer,
                           const data::Batch& batch, const StepLossFn& loss_of,
                           const std::function<void(double)>& check_loss, const EagerStepOptions& o,
                           std::FILE* out) {
  const int64_t epoch = o.epoch, step = o.step;
  std::optional<StepTrace> trace;
  if (o.trace) {
    trace.emplace(model);
    trace->start_forward();
  }
  std::string first_bad_op;  // --detect-anomaly: the first forward op with a non-finite output
  struct ForwardHookReset {
    ~ForwardHookReset() { set_forward_op_hook(nullptr); }
  } forward_hook_reset;
  if (o.detect_anomaly) {
    const uint64_t first_sequence = next_node_sequence();
    set_forward_op_hook([&, first_sequence](const Node& node, const Tensor& output) {
      if (!first_bad_op.empty() || all_finite(output)) return;
      std::string op = node.name();  // the node is named after its backward: Conv2dBackward -> Conv2d
      if (op.size() > 8 && op.compare(op.size() - 8, 8, "Backward") == 0) op.resize(op.size() - 8);
      std::ostringstream s;
      s << "the forward op " << op << " (op " << node.sequence - first_sequence + 1 << " of the step, autograd node "
        << node.name() << ") produced a non-finite output " << describe(output);
      first_bad_op = s.str();
    });
  }
  const Tensor logits = model(batch.images);
  if (trace) trace->end_forward();
  const Tensor loss = loss_of(logits, batch.images, batch.labels);
  // With check_now (sync_every 1: the CPU default, --trace, --detect-anomaly) the metrics are checked
  // right here, before the backward and before the update, as they come.
  double loss_value = std::numeric_limits<double>::quiet_NaN();
  if (o.check_now) {
    loss_value = loss.item();
    set_forward_op_hook(nullptr);
    FER_CHECK(first_bad_op.empty(), "training stopped at epoch " << epoch + 1 << ", step " << step + 1 << ": "
                                                                << first_bad_op << " (loss " << loss_value << ")");
    check_loss(loss_value);
  }
  std::string first_bad_node;  // --detect-anomaly: the first backward op with a non-finite gradient
  struct HookReset {
    ~HookReset() { set_backward_hook(nullptr); }
  } hook_reset;
  if (o.detect_anomaly || trace) {
    set_backward_hook([&](const Node& node, const std::vector<Tensor>& grads) {
      if (trace) trace->on_backward_node(node, grads);
      if (!o.detect_anomaly || !first_bad_node.empty()) return;
      for (size_t i = 0; i < grads.size(); ++i)
        if (grads[i].defined() && !all_finite(grads[i])) {
          std::ostringstream s;
          s << node.name() << " gave a non-finite gradient for its input " << i << " " << describe(grads[i]);
          first_bad_node = s.str();
          return;
        }
    });
  }
  loss.backward();
  if (trace) trace->print(out, epoch + 1, step + 1);
  FER_CHECK(first_bad_node.empty(), "training stopped at epoch " << epoch + 1 << ", step " << step + 1 << ": "
                                                                << first_bad_node);
  // the global gradient norm (clipping to grad_clip when set, which leaves non-finite ones alone),
  // computed where the gradients are
  const Tensor norm = o.grad_clip > 0 ? nn::clip_grad_norm_tensor(flat, o.grad_clip) : nn::grad_norm_tensor(flat);
  if (o.check_now && !std::isfinite(norm.item())) {
    std::string name;
    for (const auto& e : flat.entries())
      if (e.param.grad().defined() && !all_finite(e.param.grad())) {
        name = e.name;
        break;
      }
    FER_FAIL("training stopped at epoch " << epoch + 1 << ", step " << step + 1 << ": the gradient of " << name
                                          << " is not finite (loss " << loss_value
                                          << "); hint: lower --lr, set --grad-clip, or rerun with "
                                          << "--detect-anomaly to name the op");
  }
  optimizer.step();
  optimizer.zero_grad();

  PendingStep p;
  p.epoch = epoch;
  p.step = step;
  p.loss = loss.detach();
  p.loss_value = loss_value;
  p.checked = o.check_now;
  p.norm = norm;
  if (o.classifier) p.correct = ops::count_correct(logits.detach(), batch.labels);
  return p;
}

}  // namespace fer::tools
