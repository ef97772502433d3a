// tools/common/train_step.h: one training step as fertrain runs it when it is not replayed as a
// CUDA graph (nn/step_graph.h), with the step's optional instruments:
//
//   logits = model(images); loss = loss_of(logits, images, labels)
//   [check_now: read the loss, stop on a non-finite one, before the backward and the update]
//   loss.backward()
//   norm = ||grad||_2 over all trainable parameters (clipped to grad_clip when > 0)
//   [check_now: stop on a non-finite norm, naming the first parameter with a non-finite gradient]
//   optimizer.step(); optimizer.zero_grad()
//
//   --trace           (trace)           the forward's modules and the backward's nodes as tables
//                                       (step_trace.h), printed to `out` after the backward
//   --detect-anomaly  (detect_anomaly)  the first forward op with a non-finite output and the first
//                                       backward node with a non-finite gradient, named in the error
//
// Without check_now the step's loss, norm and correct count stay on the device: the trainer reads
// them every --sync-every steps (PendingStep), so the device can run ahead of the host.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>

#include "data/loader.h"
#include "nn/flat_params.h"
#include "nn/module.h"
#include "nn/optimizer.h"
#include "tensor/tensor.h"

namespace fer::tools {

// A finished step whose metrics may still be on the device: they are read (one synchronisation for
// the lot), checked and added to the tally in step order every `sync_every` steps, so the tally has
// the same bits whatever sync_every is.
struct PendingStep {
  int64_t epoch = 0, step = 0, images = 0;
  Tensor loss;     // f32 [] (detached)
  Tensor norm;     // f64 [] global gradient norm (before clipping)
  Tensor correct;  // i64 [] rows whose argmax is the label (undefined for reconstruction)
  bool checked = false;  // loss and norm were read and checked during the step (sync_every 1)
  double loss_value = 0;
};

// The step's loss from the model's output, the batch's images and its labels.
using StepLossFn = std::function<Tensor(const Tensor& logits, const Tensor& images, const Tensor& labels)>;

struct EagerStepOptions {
  int64_t epoch = 0, step = 0;  // 0-based position, for the messages
  bool check_now = false;       // read and check the loss and the gradient norm during the step
  bool detect_anomaly = false;
  bool trace = false;
  double grad_clip = 0;         // > 0: clip the global gradient norm to this
  bool classifier = true;       // count the correct predictions (false: a reconstruction model)
};

// Runs one step on `batch` and returns its metrics (images left 0 for the caller to set).
// check_loss(value) throws the trainer's error for a non-finite loss read during the step.
PendingStep run_eager_step(nn::Module& model, nn::FlatParameters& flat, nn::Optimizer& optimizer,
                           const data::Batch& batch, const StepLossFn& loss_of,
                           const std::function<void(double)>& check_loss, const EagerStepOptions& o,
                           std::FILE* out);

}  // namespace fer::tools
