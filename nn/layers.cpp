// nn/layers.cpp: see layers.h.
#include "nn/layers.h"

#include <atomic>
#include <sstream>

#include "fer/config.h"
#include "kernels/device.h"
#include "kernels/elementwise.h"
#include "nn/init.h"

namespace fer::nn {

Linear::Linear(int64_t in, int64_t out, bool has_bias) : in_features(in), out_features(out) {
  FER_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got " << in << " -> " << out);
  weight = register_parameter("weight", Tensor::empty({out, in}));
  if (has_bias) bias = register_parameter("bias", Tensor::empty({out}));
  init::pytorch_default(weight, bias);
}

Tensor Linear::forward(const Tensor& x) { return ops::linear(x, weight, bias); }

std::string Linear::describe() const {
  std::ostringstream os;
  os << "Linear(" << in_features << " -> " << out_features << (bias.defined() ? "" : ", no bias") << ")";
  return os.str();
}

Conv2d::Conv2d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, bool has_bias, int64_t groups)
    : in_channels(cin), out_channels(cout), kernel(k), options(ops::Conv2dOptions::make(stride, padding, groups)) {
  FER_CHECK(cin > 0 && cout > 0 && k > 0 && groups > 0 && cin % groups == 0 && cout % groups == 0,
            "Conv2d: invalid configuration in=" << cin << " out=" << cout << " kernel=" << k << " groups=" << groups);
  weight = register_parameter("weight", Tensor::empty({cout, cin / groups, k, k}));
  if (has_bias) bias = register_parameter("bias", Tensor::empty({cout}));
  init::pytorch_default(weight, bias);
}

Tensor Conv2d::forward(const Tensor& x) { return ops::conv2d(x, weight, bias, options); }

std::string Conv2d::describe() const {
  std::ostringstream os;
  os << "Conv2d(" << in_channels << " -> " << out_channels << ", k=" << kernel << ", s=" << options.stride_h
     << ", p=" << options.pad_h;
  if (options.groups != 1) os << ", groups=" << options.groups;
  if (!bias.defined()) os << ", no bias";
  os << ")";
  return os.str();
}

ConvTranspose2d::ConvTranspose2d(int64_t cin, int64_t cout, int64_t k, int64_t s, int64_t p, bool has_bias)
    : in_channels(cin), out_channels(cout), kernel(k), stride(s), padding(p) {
  FER_CHECK(cin > 0 && cout > 0 && k > 0 && s > 0 && p >= 0,
            "ConvTranspose2d: invalid configuration in=" << cin << " out=" << cout << " kernel=" << k);
  weight = register_parameter("weight", Tensor::empty({cin, cout, k, k}));
  if (has_bias) bias = register_parameter("bias", Tensor::empty({cout}));
  // PyTorch computes the transposed conv's fan_in from weight.shape[1] * k * k (= out channels).
  init::pytorch_default(weight, bias);
}

Tensor ConvTranspose2d::forward(const Tensor& x) { return ops::conv_transpose2d(x, weight, bias, stride, padding); }

std::string ConvTranspose2d::describe() const {
  std::ostringstream os;
  os << "ConvTranspose2d(" << in_channels << " -> " << out_channels << ", k=" << kernel << ", s=" << stride << ")";
  return os.str();
}

BatchNorm2d::BatchNorm2d(int64_t c, double eps_, double momentum_, bool affine)
    : channels(c), eps(eps_), momentum(momentum_) {
  FER_CHECK(c > 0, "BatchNorm2d: channels must be positive, got " << c);
  if (affine) {
    weight = register_parameter("weight", Tensor::ones({c}));
    bias = register_parameter("bias", Tensor::zeros({c}));
  }
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  Tensor y = fused_act_ ? ops::batch_norm_act(x, weight, bias, running_mean, running_var, is_training(), momentum,
                                              eps, *fused_act_)
                        : ops::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
  if (is_training()) {
    // PyTorch keeps this counter for state-dict compatibility (momentum is fixed here, so nothing
    // reads it). Counted after the op succeeded, where the buffer lives: on CUDA a one-thread kernel
    // on the compute stream, so a training step never waits for the device because of it.
    if (num_batches_tracked.device() == Device::cpu) {
      ++*num_batches_tracked.data<int64_t>();
    } else if constexpr (kCudaBuilt) {
      cuda::add_int64(num_batches_tracked.data<int64_t>(), 1, cuda::default_stream());
    }
  }
  return y;
}

std::string BatchNorm2d::describe() const {
  std::ostringstream os;
  os << "BatchNorm2d(" << channels << ", eps=" << eps << ", momentum=" << momentum << ")";
  return os.str();
}

LayerNorm::LayerNorm(int64_t d, double eps_) : dim(d), eps(eps_) {
  weight = register_parameter("weight", Tensor::ones({d}));
  bias = register_parameter("bias", Tensor::zeros({d}));
}

Tensor LayerNorm::forward(const Tensor& x) { return ops::layer_norm(x, weight, bias, eps); }

MaxPool2d::MaxPool2d(int64_t k, int64_t s, int64_t p, bool ceil_mode)
    : options(ops::PoolOptions::make(k, s < 0 ? k : s, p, ceil_mode)) {}

std::string MaxPool2d::describe() const {
  std::ostringstream os;
  os << "MaxPool2d(k=" << options.kernel_h << ", s=" << options.stride_h << ", p=" << options.pad_h
     << (options.ceil_mode ? ", ceil" : "") << ")";
  return os.str();
}

AvgPool2d::AvgPool2d(int64_t k, int64_t s, int64_t p, bool ceil_mode, bool count_include_pad)
    : options(ops::PoolOptions::make(k, s < 0 ? k : s, p, ceil_mode)) {
  options.count_include_pad = count_include_pad;
}

std::string AvgPool2d::describe() const {
  std::ostringstream os;
  os << "AvgPool2d(k=" << options.kernel_h << ", s=" << options.stride_h << ", p=" << options.pad_h << ")";
  return os.str();
}

Tensor Dropout::forward(const Tensor& x) {
  return ops::dropout(x, p, is_training(), gen ? *gen : default_generator());
}

std::string Dropout::describe() const {
  std::ostringstream os;
  os << "Dropout(p=" << p << ")";
  return os.str();
}

Tensor DropPath::forward(const Tensor& x) {
  return ops::drop_path(x, p, is_training(), gen ? *gen : default_generator());
}

std::string Act::type_name() const {
  switch (kind) {
    case Activation::relu: return "ReLU";
    case Activation::sigmoid: return "Sigmoid";
    case Activation::silu: return "SiLU";
    case Activation::gelu: return "GELU";
  }
  return "Act";
}

namespace {
std::atomic<bool> g_fusion{true};
}  // namespace

void set_fusion(bool on) { g_fusion.store(on); }
bool fusion_enabled() { return g_fusion.load(); }

Tensor batchnorm_act(BatchNorm2d& bn, const Tensor& x, Activation act) {
  if (!fusion_enabled() || bn.capturing()) return ops::activation(bn(x), act);
  struct Reset {  // the flag never outlives the call, also when the op throws
    BatchNorm2d& bn;
    ~Reset() { bn.fused_act_.reset(); }
  } reset{bn};
  bn.fused_act_ = act;
  return bn(x);
}

bool detail_fuse_bn_act(Module& first, Module& second, Tensor& y) {
  auto* bn = dynamic_cast<BatchNorm2d*>(&first);
  auto* act = dynamic_cast<Act*>(&second);
  if (!bn || !act || !fusion_enabled() || bn->capturing()) return false;
  Tensor z = batchnorm_act(*bn, y, act->kind);
  struct Reset {
    Act& act;
    ~Reset() { act.applied_upstream_ = false; }
  } reset{*act};
  act->applied_upstream_ = true;
  y = (*act)(z);
  return true;
}

}  // namespace fer::nn
