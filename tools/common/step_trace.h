// tools/common/step_trace.h: `fertrain --trace N`, one training step's forward modules and backward
// autograd nodes as two tables (shapes, MACs/FLOPs, bytes, milliseconds) and their totals.
//
// Forward: every module call in call order, nested by depth (Module::operator() reports each one
// through nn::set_forward_hook); its time, MACs and bytes include its children's. Backward: every
// autograd node as it finishes (the trainer forwards set_backward_hook's calls to
// on_backward_node). FLOPs: a conv / linear / bmm node computes each of its first two input
// gradients (dx and dw, or da and db) with one GEMM of the forward's size, 2 FLOPs per MAC; other
// nodes count 0 (MODELS.md's convention). Bytes: the incoming gradient dy plus the gradients it
// wrote (a lower bound: the tensors saved in the forward are read too). On CUDA each node is timed
// after a device synchronisation, so the times are the kernels', not their launches'.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "nn/module.h"
#include "tensor/autograd.h"

namespace fer::tools {

class StepTrace {
 public:
  explicit StepTrace(nn::Module& model);
  ~StepTrace();  // switches the forward hook off if end_forward() did not (an exception in the forward)
  StepTrace(const StepTrace&) = delete;
  StepTrace& operator=(const StepTrace&) = delete;
  // Records the module calls of the forward pass from now until end_forward().
  void start_forward();
  void end_forward();
  // One backward node, called after it ran, with the gradients it produced for its inputs.
  void on_backward_node(const Node& node, const std::vector<Tensor>& grads);
  // Both tables and the totals line, headed "trace: epoch E, step S".
  void print(std::FILE* out, int64_t epoch, int64_t step) const;

 private:
  struct Row {
    int64_t order;
    int depth;
    std::string path, type, input, output;
    int64_t macs, bytes;
    double seconds;
  };
  struct NodeRow {
    std::string name, shapes;
    int64_t flops, bytes;
    double seconds;
  };
  std::map<const nn::Module*, std::string> paths_;
  std::vector<Row> forward_;
  std::vector<NodeRow> backward_;
  std::chrono::steady_clock::time_point last_;
  bool recording_ = false;
};

}  // namespace fer::tools
