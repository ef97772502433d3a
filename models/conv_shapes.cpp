// models/conv_shapes.cpp: the conv shape list of a model, recorded by a forward hook.
#include "models/conv_shapes.h"

#include <sstream>

#include "nn/layers.h"
#include "tensor/autograd.h"

namespace fer::models {

Conv2dDims ConvShape::dims() const {
  FER_CHECK(!transposed, "ConvShape::dims: " << str() << " is a transposed convolution; hint: transposed_dims()");
  Conv2dDims d;
  d.n = n, d.c_in = c_in, d.h_in = h_in, d.w_in = w_in, d.c_out = c_out;
  d.kernel_h = kernel_h, d.kernel_w = kernel_w, d.stride_h = stride_h, d.stride_w = stride_w;
  d.pad_h = pad_h, d.pad_w = pad_w, d.groups = groups;
  return d;
}

ConvTranspose2dDims ConvShape::transposed_dims() const {
  FER_CHECK(transposed, "ConvShape::transposed_dims: " << str() << " is not a transposed convolution; hint: dims()");
  ConvTranspose2dDims d;
  d.n = n, d.c_in = c_in, d.h_in = h_in, d.w_in = w_in, d.c_out = c_out;
  d.kernel_h = kernel_h, d.kernel_w = kernel_w, d.stride_h = stride_h, d.stride_w = stride_w;
  d.pad_h = pad_h, d.pad_w = pad_w, d.groups = groups;
  return d;
}

int64_t ConvShape::h_out() const { return transposed ? transposed_dims().h_out() : dims().h_out(); }
int64_t ConvShape::w_out() const { return transposed ? transposed_dims().w_out() : dims().w_out(); }
int64_t ConvShape::macs() const { return transposed ? transposed_dims().macs() : dims().macs(); }

std::string ConvShape::str() const {
  std::ostringstream s;
  s << (transposed ? "convT " : "") << "n" << n << " c" << c_in << " " << h_in << "x" << w_in << " -> k" << c_out << " "
    << kernel_h << "x" << kernel_w << " s" << stride_h;
  if (stride_w != stride_h) s << "," << stride_w;
  s << " p" << pad_h;
  if (pad_w != pad_h) s << "," << pad_w;
  s << " g" << groups;
  if (dilation != 1) s << " d" << dilation;
  if (bias) s << " bias";
  return s.str();
}

bool ConvShape::same_geometry(const ConvShape& o) const {
  return n == o.n && c_in == o.c_in && h_in == o.h_in && w_in == o.w_in && c_out == o.c_out && kernel_h == o.kernel_h &&
         kernel_w == o.kernel_w && stride_h == o.stride_h && stride_w == o.stride_w && pad_h == o.pad_h &&
         pad_w == o.pad_w && groups == o.groups && dilation == o.dilation && bias == o.bias && transposed == o.transposed;
}

void merge_conv_shapes(std::vector<ConvShape>& into, const std::vector<ConvShape>& more) {
  for (const ConvShape& s : more) {
    bool found = false;
    for (ConvShape& t : into)
      if (t.same_geometry(s)) {
        t.count += s.count;
        found = true;
        break;
      }
    if (!found) into.push_back(s);
  }
}

std::vector<ConvShape> conv_shapes(nn::Module& model, int64_t channels, int64_t size, int64_t batch) {
  FER_CHECK(batch >= 1, "conv_shapes: batch must be at least 1, got " << batch);
  FER_CHECK(model.device() == Device::cpu, "conv_shapes: the model must be on the CPU (one batch-1 forward records "
                                           "the shapes); hint: call it before model.to(Device::cuda)");
  std::vector<ConvShape> calls;
  struct HookReset {
    ~HookReset() { nn::set_forward_hook(nullptr); }
  } reset;
  nn::set_forward_hook([&](const nn::ForwardEvent& e) {
    const Shape& x = e.input_shape;
    ConvShape s;
    if (const auto* c = dynamic_cast<const nn::Conv2d*>(e.module)) {
      s.c_out = c->weight.size(0);
      s.kernel_h = c->weight.size(2), s.kernel_w = c->weight.size(3);
      s.stride_h = c->options.stride_h, s.stride_w = c->options.stride_w;
      s.pad_h = c->options.pad_h, s.pad_w = c->options.pad_w, s.groups = c->options.groups;
      s.bias = c->bias.defined();
    } else if (const auto* t = dynamic_cast<const nn::ConvTranspose2d*>(e.module)) {
      s.transposed = true;
      s.c_out = t->out_channels;
      s.kernel_h = s.kernel_w = t->kernel;
      s.stride_h = s.stride_w = t->stride;
      s.pad_h = s.pad_w = t->padding;
      s.bias = t->bias.defined();
    } else {
      return;
    }
    FER_CHECK(x.size() == 4, "conv_shapes: a convolution got a " << x.size() << "-D input");
    s.n = x[0] * batch, s.c_in = x[1], s.h_in = x[2], s.w_in = x[3];
    calls.push_back(s);
  });
  {
    NoGradGuard no_grad;
    const bool was_training = model.is_training();
    model.eval();
    model(Tensor::zeros({1, channels, size, size}, DType::f32, Device::cpu));
    model.train(was_training);
  }
  std::vector<ConvShape> merged;
  merge_conv_shapes(merged, calls);
  return merged;
}

std::vector<ConvShape> conv_shapes(const std::string& model_name, int64_t batch, const ModelConfig& config) {
  const ModelSpec& spec = find_model(model_name);
  nn::ModulePtr model = build_model(model_name, config);
  return conv_shapes(*model, spec.input_channels, spec.input_size, batch);
}

int64_t conv_macs(const std::vector<ConvShape>& shapes, bool include_transposed) {
  int64_t total = 0;
  for (const ConvShape& s : shapes)
    if (include_transposed || !s.transposed) total += s.count * s.macs();
  return total;
}

}  // namespace fer::models
