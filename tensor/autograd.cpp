// tensor/autograd.cpp: recording nodes and the reverse walk over the tape.
#include "tensor/autograd.h"

#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "tensor/dispatch.h"
#include "tensor/op_stats.h"

namespace fer {

namespace {
thread_local bool t_grad_mode = true;
std::atomic<uint64_t> g_sequence{0};
BackwardHook g_backward_hook;
ForwardOpHook g_forward_op_hook;
}  // namespace

bool grad_mode_enabled() { return t_grad_mode; }
NoGradGuard::NoGradGuard() : previous_(t_grad_mode) { t_grad_mode = false; }
NoGradGuard::~NoGradGuard() { t_grad_mode = previous_; }

void set_backward_hook(BackwardHook hook) { g_backward_hook = std::move(hook); }
void set_forward_op_hook(ForwardOpHook hook) { g_forward_op_hook = std::move(hook); }
uint64_t next_node_sequence() { return g_sequence.load(); }

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor* t : inputs)
    if (t != nullptr && t->defined() && t->requires_grad()) return true;
  return false;
}

std::shared_ptr<Node> grad_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  TensorImpl& impl = t.impl();
  if (impl.grad_fn) return impl.grad_fn;
  if (!impl.accumulator) impl.accumulator = std::make_shared<AccumulateGrad>(t.impl_ptr());
  return impl.accumulator;
}

static void attach_common(Tensor& output, const std::shared_ptr<Node>& node, int64_t input_bytes) {
  node->output_shape = output.shape();
  if (op_counting_active()) count_bytes(input_bytes + static_cast<int64_t>(output.nbytes()));
  node->sequence = g_sequence++;
  output.impl().grad_fn = node;
  output.impl().requires_grad = true;
  if (g_forward_op_hook) g_forward_op_hook(*node, output);
}

void attach_node(Tensor& output, const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs) {
  node->next.clear();
  int64_t bytes = 0;
  for (const Tensor* t : inputs) {
    node->next.push_back(t ? grad_edge(*t) : nullptr);
    if (t && t->defined()) bytes += static_cast<int64_t>(t->nbytes());
  }
  attach_common(output, node, bytes);
}

void attach_node(Tensor& output, const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs) {
  node->next.clear();
  int64_t bytes = 0;
  for (const Tensor& t : inputs) {
    node->next.push_back(grad_edge(t));
    if (t.defined()) bytes += static_cast<int64_t>(t.nbytes());
  }
  attach_common(output, node, bytes);
}

void accumulate_into(Tensor& out, const Tensor& in) {
  FER_CHECK(out.shape() == in.shape() && out.dtype() == in.dtype() && out.device() == in.device(),
            "gradient accumulation: " << describe(in) << " into " << describe(out));
  axpy_inplace(out, in, 1.0);
}

std::vector<Tensor> AccumulateGrad::backward(const Tensor& grad_output) {
  auto impl = leaf.lock();
  if (!impl) return {};
  Tensor leaf_tensor(impl);
  if (!impl->grad) {
    impl->grad = grad_output.clone().impl_ptr();  // own the buffer: later accumulation is in place
  } else {
    Tensor g(impl->grad);
    accumulate_into(g, grad_output);
  }
  return {};
}

void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
  FER_CHECK(root.requires_grad(), "backward: the tensor does not require a gradient (no parameter or input with "
                                  "requires_grad took part in computing it, or it was computed under NoGradGuard)");
  FER_CHECK(grad_root.shape() == root.shape(), "backward: gradient " << describe(grad_root) << " does not match "
                                                                     << describe(root));
  std::shared_ptr<Node> start = grad_edge(root);

  // Topological order by iterative depth-first search: a node is emitted after all nodes it feeds.
  std::vector<Node*> order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<Node*, size_t>> stack{{start.get(), 0}};
  visited.insert(start.get());
  while (!stack.empty()) {
    auto& [node, child] = stack.back();
    if (child < node->next.size()) {
      Node* n = node->next[child++].get();
      if (n != nullptr && visited.insert(n).second) stack.push_back({n, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }

  // Walk the tape in reverse: the root first, each node after every user of its output.
  std::unordered_map<Node*, Tensor> pending;
  pending[start.get()] = grad_root;
  NoGradGuard no_grad;  // the backward pass itself is not recorded
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = *it;
    auto found = pending.find(node);
    if (found == pending.end()) continue;  // no gradient reached this node
    const Tensor grad_out = found->second;
    pending.erase(found);
    std::vector<Tensor> grads = node->backward(grad_out);
    if (g_backward_hook) g_backward_hook(*node, grads);
    for (size_t i = 0; i < grads.size() && i < node->next.size(); ++i) {
      Node* target = node->next[i].get();
      if (target == nullptr || !grads[i].defined()) continue;
      auto slot = pending.find(target);
      if (slot == pending.end()) {
        pending.emplace(target, grads[i]);
      } else {
        // Sum contributions out of place: the first tensor may be shared with another node.
        Tensor sum = slot->second.clone();
        accumulate_into(sum, grads[i]);
        slot->second = sum;
      }
    }
    if (!retain_graph) node->release();
  }
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor g = gradient;
  if (!g.defined()) {
    FER_CHECK(numel() == 1, "backward: a gradient must be given for a non-scalar tensor " << describe(*this));
    g = Tensor::ones(shape(), dtype(), device());
  }
  run_backward(*this, g, retain_graph);
}

}  // namespace fer
