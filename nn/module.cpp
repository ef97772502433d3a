// nn/module.cpp: the Module tree (see module.h).
#include "nn/module.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "fer/config.h"
#include "kernels/device.h"
#include "nn/layers.h"
#include "tensor/autograd.h"
#include "tensor/op_stats.h"

namespace fer::nn {

namespace {
std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

struct TapBackward final : Node {
  std::shared_ptr<Tensor> slot;
  const char* name() const override { return "TapBackward"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    *slot = dy;
    return {dy};
  }
};
}  // namespace

Tensor tap_gradient(const Tensor& x, std::shared_ptr<Tensor> slot) {
  Tensor y = x.detach();
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<TapBackward>();
    node->slot = std::move(slot);
    attach_node(y, node, {&x});
  }
  return y;
}

namespace {
ForwardHook g_forward_hook;
int64_t g_forward_order = 0;
int g_forward_depth = 0;
}  // namespace

void set_forward_hook(ForwardHook hook) {
  g_forward_hook = std::move(hook);
  g_forward_order = 0;
  g_forward_depth = 0;
}

Tensor Module::operator()(const Tensor& x) {
  Tensor y;
  if (g_forward_hook) {  // traced call: time it (synchronised on CUDA) and count its MACs
    const int64_t order = g_forward_order++;
    const int depth = g_forward_depth++;
    MacCounter macs;
    if constexpr (kCudaBuilt) {  // earlier work still queued on the stream is not this module's
      if (x.is_cuda()) cuda::stream_synchronize(cuda::default_stream());
    }
    const auto start = std::chrono::steady_clock::now();
    y = forward(x);
    if constexpr (kCudaBuilt) {
      if (y.is_cuda()) cuda::stream_synchronize(cuda::default_stream());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    --g_forward_depth;
    g_forward_hook({this, order, depth, x.shape(), y.shape(), seconds, macs.macs(), macs.bytes()});
  } else {
    y = forward(x);
  }
  if (capture_) {
    // a fresh slot per call: a module applied several times keeps the gradient of its last output
    captured_grad_ = std::make_shared<Tensor>();
    y = tap_gradient(y, captured_grad_);
    captured_output_ = y.detach();
  }
  return y;
}

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  FER_CHECK(value.defined(), "register_parameter: '" << name << "' is undefined");
  if (!value.requires_grad()) value.requires_grad_(true);
  params_.emplace_back(name, value);
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  FER_CHECK(value.defined(), "register_buffer: '" << name << "' is undefined");
  buffers_.emplace_back(name, value);
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, ModulePtr module) {
  FER_CHECK(module != nullptr, "register_module: '" << name << "' is null");
  for (const auto& [n, m] : children_) FER_CHECK(n != name, "register_module: duplicate child name '" << name << "'");
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, bool params, bool only_trainable,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, t] : params ? params_ : buffers_)
    if (!only_trainable || t.requires_grad()) out.emplace_back(join(prefix, name), t);
  for (const auto& [name, child] : children_) child->collect(join(prefix, name), params, only_trainable, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool only_trainable) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", true, only_trainable, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", false, false, out);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

std::vector<Tensor> Module::parameters(bool only_trainable) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(only_trainable)) out.push_back(t);
  return out;
}

Module* Module::find(const std::string& path) {
  if (path.empty()) return this;
  const auto dot = path.find('.');
  const std::string head = path.substr(0, dot);
  for (const auto& [name, child] : children_)
    if (name == head) return dot == std::string::npos ? child.get() : child->find(path.substr(dot + 1));
  return nullptr;
}

int64_t Module::parameter_count(bool only_trainable) const {
  int64_t n = 0;
  for (const auto& t : parameters(only_trainable)) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::set_trainable(bool on) {
  // The gradient buffer is kept (it may be a view of a flat buffer); a frozen parameter simply
  // receives nothing more, and zero_grad clears what it had.
  for (auto& [name, t] : params_) t.impl().requires_grad = on;
  for (auto& [name, child] : children_) child->set_trainable(on);
}

void Module::zero_grad() {
  for (auto& t : parameters())
    if (t.grad().defined()) t.grad().zero_();
}

void Module::to(Device device) {
  auto move = [&](Tensor& t) {
    if (t.device() == device) return;
    const Tensor moved = t.to(device);
    // Re-point the existing handle so every holder (optimizer, parent module) sees the move.
    t.impl().storage = moved.impl().storage;
    t.impl().offset = moved.impl().offset;
    t.impl().grad.reset();
  };
  for (auto& [name, t] : params_) move(t);
  for (auto& [name, t] : buffers_) move(t);
  for (auto& [name, child] : children_) child->to(device);
}

Device Module::device() const {
  const auto ps = parameters();
  return ps.empty() ? Device::cpu : ps.front().device();
}

Sequential& Sequential::add(ModulePtr m) { return add(std::to_string(children().size()), std::move(m)); }

Sequential& Sequential::add(const std::string& name, ModulePtr m) {
  add_child(name, std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  const auto& ch = children();
  for (size_t i = 0; i < ch.size(); ++i) {
    // BatchNorm2d followed by Act: one fused op when fusion is on (nn/layers.h)
    if (i + 1 < ch.size() && detail_fuse_bn_act(*ch[i].second, *ch[i + 1].second, y)) {
      ++i;
      continue;
    }
    y = (*ch[i].second)(y);
  }
  return y;
}

std::string summary(Module& root) {
  std::ostringstream os;
  for (auto& [path, m] : root.named_modules()) {
    const int depth = path.empty() ? 0 : 1 + static_cast<int>(std::count(path.begin(), path.end(), '.'));
    int64_t own = 0;
    for (auto& [n, t] : m->named_parameters())
      if (n.find('.') == std::string::npos) own += t.numel();
    os << std::string(static_cast<size_t>(2 * depth), ' ') << (path.empty() ? "(model)" : path) << ": "
       << m->describe();
    if (own) os << "  [" << own << " params]";
    os << "\n";
  }
  os << "total parameters: " << root.parameter_count() << " (trainable " << root.parameter_count(true) << ")\n";
  return os.str();
}

}  // namespace fer::nn
