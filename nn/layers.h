// nn/layers.h: the standard layers, thin Modules over tensor/ops.h.
//
// Parameter and buffer names follow PyTorch (weight, bias, running_mean, running_var,
// num_batches_tracked), and so does default initialisation, so state dicts exchange by name.
#pragma once

#include <optional>
#include <string>

#include "kernels/activation.h"
#include "nn/module.h"
#include "tensor/ops.h"

namespace fer::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string describe() const override;
  Tensor weight, bias;
  int64_t in_features, out_features;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, int64_t groups = 1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string describe() const override;
  Tensor weight, bias;
  int64_t in_channels, out_channels, kernel;
  ops::Conv2dOptions options;
};

class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding = 0,
                  bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string describe() const override;
  Tensor weight, bias;
  int64_t in_channels, out_channels, kernel, stride, padding;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  std::string describe() const override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t channels;
  double eps, momentum;

 private:
  friend Tensor batchnorm_act(BatchNorm2d& bn, const Tensor& x, Activation act);
  // Set by batchnorm_act() for the duration of one call: forward() then applies the activation in
  // the same op (ops::batch_norm_act) instead of returning the normalised tensor.
  std::optional<Activation> fused_act_;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  Tensor weight, bias;
  int64_t dim;
  double eps;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = -1, int64_t padding = 0, bool ceil_mode = false);
  Tensor forward(const Tensor& x) override { return ops::max_pool2d(x, options); }
  std::string type_name() const override { return "MaxPool2d"; }
  std::string describe() const override;
  ops::PoolOptions options;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = -1, int64_t padding = 0, bool ceil_mode = false,
                     bool count_include_pad = true);
  Tensor forward(const Tensor& x) override { return ops::avg_pool2d(x, options); }
  std::string type_name() const override { return "AvgPool2d"; }
  std::string describe() const override;
  ops::PoolOptions options;
};

// [N, C, H, W] -> [N, C]
class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ops::global_avg_pool(x); }
  std::string type_name() const override { return "GlobalAvgPool"; }
};

class Dropout : public Module {
 public:
  explicit Dropout(double p, Generator* gen = nullptr) : p(p), gen(gen) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string describe() const override;
  double p;
  Generator* gen;  // nullptr: the default generator
};

class DropPath : public Module {
 public:
  explicit DropPath(double p, Generator* gen = nullptr) : p(p), gen(gen) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "DropPath"; }
  double p;
  Generator* gen;
};

class Act : public Module {
 public:
  explicit Act(Activation kind) : kind(kind) {}
  Tensor forward(const Tensor& x) override { return applied_upstream_ ? x : ops::activation(x, kind); }
  std::string type_name() const override;
  Activation kind;

 private:
  friend bool detail_fuse_bn_act(Module& first, Module& second, Tensor& y);
  // Set for one call when a preceding BatchNorm2d already applied this activation (fused): the
  // call still runs (trace events, Grad-CAM capture of this module) but is the identity.
  bool applied_upstream_ = false;
};

// [N, ...] -> [N, prod(...)]
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x.flatten(1); }
  std::string type_name() const override { return "Flatten"; }
};

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

// ---- batch norm + activation fusion ----------------------------------------------------------
// Process-wide switch (default on; fertrain --fuse on|off). When on, batchnorm_act() and
// Sequential's BatchNorm2d -> Act pairs run ops::batch_norm_act (one pass forward and backward, no
// intermediate tensor kept for autograd); when off, the unfused batch_norm then activation.
void set_fusion(bool on);
bool fusion_enabled();

// act(bn(x)). Fused when fusion is enabled and bn is not capturing its output (Grad-CAM needs the
// pre-activation output then); either way bn is called through its call operator, so trace events
// and num_batches_tracked behave as for bn(x).
Tensor batchnorm_act(BatchNorm2d& bn, const Tensor& x, Activation act);

// Used by Sequential::forward: when `first` is a BatchNorm2d and `second` an Act and the pair can be
// fused (see batchnorm_act), sets y = second(batchnorm_act(first, y, act)) with second's call the
// identity, and returns true; otherwise leaves y alone and returns false.
bool detail_fuse_bn_act(Module& first, Module& second, Tensor& y);

}  // namespace fer::nn
