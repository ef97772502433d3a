// nn/init.cpp: see init.h.
#include "nn/init.h"

#include <cmath>
#include <vector>

#include "kernels/philox.h"
#include "nn/layers.h"

namespace fer::nn::init {

int64_t fan(const Tensor& w, FanMode mode) {
  FER_CHECK(w.ndim() >= 2, "init: fan of a weight needs at least 2 dims, got " << describe(w));
  int64_t receptive = 1;
  for (int64_t i = 2; i < w.ndim(); ++i) receptive *= w.size(i);
  return (mode == FanMode::fan_in ? w.size(1) : w.size(0)) * receptive;
}

void kaiming_uniform(Tensor& w, double a, FanMode mode, Generator& gen) {
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fan(w, mode)));
  uniform_(w, -bound, bound, gen);
}

void kaiming_normal(Tensor& w, double a, FanMode mode, Generator& gen) {
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  normal_(w, 0.0, gain / std::sqrt(static_cast<double>(fan(w, mode))), gen);
}

void xavier_uniform(Tensor& w, Generator& gen) {
  const double bound = std::sqrt(6.0 / static_cast<double>(fan(w, FanMode::fan_in) + fan(w, FanMode::fan_out)));
  uniform_(w, -bound, bound, gen);
}

void trunc_normal(Tensor& w, double stddev, Generator& gen) {
  // Rejection: draw normals until each lands inside [-2, 2] standard deviations.
  Tensor host = Tensor::empty(w.shape(), DType::f64);
  double* p = host.data<double>();
  const uint64_t seed = gen.seed(), stream = Generator::stream_id(RngStream::init);
  const int64_t n = w.numel();
  const uint64_t base = gen.reserve(RngStream::init, static_cast<uint64_t>(n) * 16);
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    for (uint64_t k = 0; k < 8; ++k) {  // P(8 rejections) ~ 1e-11; then clamp
      const uint64_t off = base + static_cast<uint64_t>(i) * 16 + 2 * k;
      const double u1 = 1.0 - philox::uniform(seed, stream, off);
      const double u2 = philox::uniform(seed, stream, off + 1);
      v = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
      if (std::fabs(v) <= 2.0) break;
    }
    p[i] = stddev * std::fmax(-2.0, std::fmin(2.0, v));
  }
  w.copy_from(host.to_dtype(w.dtype()).to(w.device()));
}

void pytorch_default(Tensor& weight, Tensor& bias, Generator& gen) {
  kaiming_uniform(weight, std::sqrt(5.0), FanMode::fan_in, gen);
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan(weight, FanMode::fan_in)));
    uniform_(bias, -bound, bound, gen);
  }
}

void keras_default(Tensor& weight, Tensor& bias, Generator& gen) {
  xavier_uniform(weight, gen);
  if (bias.defined()) bias.zero_();
}

void keras_init(Module& m, Generator& gen) {
  for (auto& [name, mod] : m.named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(mod)) {
      keras_default(conv->weight, conv->bias, gen);
    } else if (auto* lin = dynamic_cast<Linear*>(mod)) {
      keras_default(lin->weight, lin->bias, gen);
    } else if (auto* bn = dynamic_cast<BatchNorm2d*>(mod)) {
      if (bn->weight.defined()) bn->weight.fill_(1.0);
      if (bn->bias.defined()) bn->bias.zero_();
    }
  }
}

}  // namespace fer::nn::init
