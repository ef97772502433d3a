// nn/module.h: the Module tree.
//
// A Module owns named parameters (trainable tensors), named buffers (state such as BatchNorm's
// running statistics) and named child modules. Names compose with dots exactly like PyTorch's
// state_dict keys ("layer1.0.conv1.weight"), so checkpoints exchange with PyTorch by name.
//
//   forward(x)          the computation; call the module as m(x) so capture hooks apply
//   train()/eval()      switches dropout/batchnorm behaviour for the whole subtree
//   set_trainable(b)    freezes (false) or unfreezes the subtree's parameters (no gradient)
//   capture(true)       keeps the module's last output and, after backward, the gradient w.r.t.
//                       that output (what Grad-CAM needs); a module applied several times in
//                       one forward keeps its last output and that output's gradient
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace fer::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  // A short description of the module's configuration, e.g. "Conv2d(1, 16, k=3, s=1, p=0)".
  virtual std::string describe() const { return type_name(); }
  virtual std::string type_name() const = 0;

  Tensor operator()(const Tensor& x);

  // ---- tree --------------------------------------------------------------------------------
  const std::vector<std::pair<std::string, ModulePtr>>& children() const { return children_; }
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool only_trainable = false) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<std::pair<std::string, Module*>> named_modules();
  std::vector<Tensor> parameters(bool only_trainable = false) const;
  // The module at a dotted path ("layer1.0"), or nullptr.
  Module* find(const std::string& path);
  // Total number of parameter elements (all, or trainable only).
  int64_t parameter_count(bool only_trainable = false) const;

  // ---- state -------------------------------------------------------------------------------
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void set_trainable(bool on);
  void zero_grad();
  // Moves parameters and buffers to `device` in place (the tensor handles keep their identity).
  void to(Device device);
  Device device() const;

  // ---- capture for Grad-CAM ------------------------------------------------------------------
  void capture(bool on) { capture_ = on; }
  bool capturing() const { return capture_; }
  const Tensor& captured_output() const { return captured_output_; }
  const Tensor& captured_grad() const { return *captured_grad_; }

 protected:
  Tensor& register_parameter(const std::string& name, Tensor value);
  Tensor& register_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  void add_child(const std::string& name, ModulePtr module);

 private:
  void collect(const std::string& prefix, bool params, bool only_trainable,
               std::vector<std::pair<std::string, Tensor>>& out) const;

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  bool training_ = true;
  bool capture_ = false;
  Tensor captured_output_;
  std::shared_ptr<Tensor> captured_grad_ = std::make_shared<Tensor>();
};

// Children applied in order; named "0", "1", ... unless names are given. A BatchNorm2d directly
// followed by an Act runs as one fused op while nn::fusion_enabled() (nn/layers.h); both are still called.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential& add(ModulePtr m);
  Sequential& add(const std::string& name, ModulePtr m);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return children().size(); }
};

// ---- forward tracing (fertrain --trace) -------------------------------------------------------
// While a hook is set, every module call reports itself: `order` numbers the calls in the order
// they start (a parent before its children), `depth` is the nesting level, `seconds` the wall time
// of its forward (including its children's), `macs` the multiply-accumulates its ops counted and
// `bytes` the bytes its recorded ops read and wrote at least (inputs + outputs, tensor/op_stats.h).
struct ForwardEvent {
  const Module* module;
  int64_t order;
  int depth;
  Shape input_shape, output_shape;
  double seconds;
  int64_t macs;
  int64_t bytes;
};
using ForwardHook = std::function<void(const ForwardEvent&)>;
void set_forward_hook(ForwardHook hook);  // nullptr switches tracing off

// An identity op whose backward stores the gradient passing through it into `slot`.
Tensor tap_gradient(const Tensor& x, std::shared_ptr<Tensor> slot);

// A multi-line listing of the module tree with each module's describe() and parameter counts.
std::string summary(Module& root);

}  // namespace fer::nn
