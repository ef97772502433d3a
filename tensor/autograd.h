// tensor/autograd.h: the tape.
//
// Every differentiable op that sees an input requiring a gradient records a Node: the tensors it
// saved for its backward, and one edge per differentiable input (the input's own grad_fn, or the
// AccumulateGrad node of a leaf such as a parameter). backward() orders the nodes reachable from the
// loss (a topological sort: the recorded tape) and walks them in reverse, handing each node the
// gradient of its output; gradients arriving at the same node from several users are summed (+=),
// and leaves accumulate into .grad (+=) until zero_grad.
//
// NoGradGuard switches recording off (evaluation, optimizer updates). Frozen parameters simply have
// requires_grad == false: no edge leads to them, so they get no gradient.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace fer {

struct Node {
  virtual ~Node() = default;
  // Gradients w.r.t. the differentiable inputs, aligned with `next` (undefined = no gradient).
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  virtual const char* name() const = 0;
  // Drops saved tensors once the backward pass has used them (unless the graph is retained).
  virtual void release() {}

  std::vector<std::shared_ptr<Node>> next;  // one edge per input; nullptr when it needs no gradient
  Shape output_shape;                       // for checks and tracing
  uint64_t sequence = 0;                    // creation order (the tape position)
  int64_t forward_macs = 0;                 // the forward's MACs (conv, linear, bmm set it; tracing)
};

// The sink node of a leaf tensor: adds the incoming gradient into the leaf's .grad.
struct AccumulateGrad final : Node {
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : leaf(leaf) {}
  std::vector<Tensor> backward(const Tensor& grad_output) override;
  const char* name() const override { return "AccumulateGrad"; }
  std::weak_ptr<TensorImpl> leaf;
};

// Is the tape recording? (thread-local; on by default)
bool grad_mode_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any of the defined inputs requires a gradient.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);

// The edge that leads to `t`'s gradient: its grad_fn, its leaf accumulator, or nullptr.
std::shared_ptr<Node> grad_edge(const Tensor& t);

// Records `node` as the producer of `output`, with one edge per input (undefined inputs allowed).
void attach_node(Tensor& output, const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs);
void attach_node(Tensor& output, const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs);

// Runs the backward pass from `root` with gradient `grad_root` (same shape as root).
void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph);

// Observers of the backward pass (tracing for --trace, anomaly detection): called after each node.
using BackwardHook = std::function<void(const Node& node, const std::vector<Tensor>& input_grads)>;
void set_backward_hook(BackwardHook hook);

// Observer of the forward pass (fertrain --detect-anomaly): called with every op output the tape
// records (the outputs that will get a gradient), right after its node is attached. `node.sequence`
// numbers the ops in recording order.
using ForwardOpHook = std::function<void(const Node& node, const Tensor& output)>;
void set_forward_op_hook(ForwardOpHook hook);  // nullptr switches it off
// The sequence number the next recorded node will get.
uint64_t next_node_sequence();

// out += in (same shape/dtype/device), with the elementwise kernels; no autograd.
void accumulate_into(Tensor& out, const Tensor& in);

}  // namespace fer
