// nn/step_graph.h: a training step captured once as a CUDA graph and replayed with one launch.
//
// A 48x48 model's step is a few hundred small kernels; launched one by one, the host's launch
// overhead rather than the GPU sets the pace. StepGraph records the step's kernels once (forward,
// loss, backward, gradient norm and clipping, the optimizer's update, the metrics) and replays them:
//
//   step 1       uncaptured (warm-up: cuBLAS, lazy module loading, the optimizer's buffers)
//   step 2       captured into a graph, then launched
//   step 3, ...  the batch is copied into the graph's input tensors, then one launch
// A configuration (batch shape and dtype, the optimizer's runs) is captured only after it ran once
// uncaptured, so first-use work (cuBLAS / cuDNN plans, lazily loaded kernels) never happens inside
// a capture.
//
// What a replay needs that a kernel argument would freeze is written to device memory before each
// launch, on the host's side of the step:
//   - the optimizer's per-step scalars (learning rate, bias corrections): Optimizer::prepare_step
//   - the dropout / drop-path Philox offsets: the stream positions at the step's start
//     (Generator::begin_capture; the kernels add them to the captured relative offsets)
// The tensors created inside the captured step live in a private MemoryPool (tensor/allocator.h),
// so the addresses the graph reads and writes are never handed to another tensor while it lives.
// A replay therefore computes exactly what an uncaptured step on the same batch would: the same
// kernels with the same arguments in the same order, so the same bits (tests/cuda/test_step_graph).
//
// A batch of another shape (an epoch's last, smaller batch) runs uncaptured without discarding the
// graph, and so do steps with frozen parameters between trainable ones (the gradient norm then adds
// the runs' norms on the host). When the trainable set changes for good (an unfreeze stage), the
// new configuration runs once uncaptured and is then captured, replacing the old graph. The body must not synchronise with the host (no item(), no
// copy to the host): the capture fails with a message naming the fix (--cuda-graph off).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "nn/optimizer.h"
#include "tensor/allocator.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace fer::nn {

class StepGraph {
 public:
  // What a step leaves for the caller: the loss, the gradient norm and (classification) the number of
  // correct predictions, as device tensors. run() returns copies, so they outlive the next replay.
  struct Outputs {
    Tensor loss, norm, correct;
  };
  // The step itself, minus Optimizer::prepare_step (StepGraph calls that on the host side): forward,
  // loss, backward, norm / clipping, optimizer.apply_step(), zero_grad, metrics.
  using Body = std::function<Outputs(const Tensor& images, const Tensor& labels)>;

  // All on CUDA. The generator is the one the body's dropout layers draw from.
  StepGraph(Optimizer& optimizer, Generator& generator, Body body);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // One training step on this batch (CUDA tensors): uncaptured, captured or replayed as above.
  Outputs run(const Tensor& images, const Tensor& labels);

  // Counters, for the trainer's start-up line and the tests.
  int64_t captures() const { return captures_; }
  int64_t replays() const { return replays_; }
  int64_t uncaptured_steps() const { return uncaptured_; }
  // Kernels and copies in the current graph (0 before the first capture).
  int64_t graph_nodes() const;

 private:
  // What a graph is specific to: the batch's shapes and dtypes and the optimizer's runs.
  struct Key {
    Shape images, labels;
    DType images_dtype = DType::f32, labels_dtype = DType::i32;
    std::vector<std::pair<int64_t, int64_t>> runs;
    bool operator==(const Key&) const = default;
  };
  Key key_of(const Tensor& images, const Tensor& labels) const;
  Outputs run_uncaptured(const Tensor& images, const Tensor& labels);
  void capture(const Tensor& images, const Tensor& labels);
  void release();
  static Outputs copy(const Outputs& o);

  Optimizer& optimizer_;
  Generator& generator_;
  Body body_;
  // the graph and what it owns
  void* exec_ = nullptr;
  std::unique_ptr<MemoryPool> pool_;
  Tensor images_, labels_;  // the graph's inputs (filled before each launch)
  Outputs outputs_;         // the graph's outputs (rewritten by each launch)
  std::optional<Key> captured_;  // the configuration of the current graph
  std::optional<Key> warmed_;    // the last configuration that ran uncaptured
  std::array<uint64_t, kRngStreams> consumed_{};   // numbers each stream's draws advance per step
  std::array<uint64_t, kRngStreams> host_bases_{};
  Tensor bases_;  // u64-sized [kRngStreams] on the device: the stream positions at the step's start
  int64_t captures_ = 0, replays_ = 0, uncaptured_ = 0;
};

}  // namespace fer::nn
