// tests/unit/precision_cases.h: the conv2d / conv_transpose2d / linear runs under a matmul precision
// (kernels/precision.h), shared by the CPU tests (test_precision.cpp) and the CUDA parity tests
// (tests/cuda/test_precision_parity.cpp), plus the double-precision oracles they are held to.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/precision.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

namespace fer::test {

// One layer's outputs: y, and the gradients of x, w, b for a given dy.
template <typename T>
struct LayerResult {
  std::vector<T> y, dx, dw, db;
};

// A convolution case: conv2d, or conv_transpose2d (groups 1, square stride/pad) when transpose.
struct ConvCase {
  int64_t n, c_in, h, w, c_out, k, stride, pad, groups;
  bool transpose;
  Conv2dDims conv() const { return conv2d_dims(n, c_in, h, w, c_out, k, stride, pad, groups); }
  ConvTranspose2dDims conv_t() const { return conv_transpose2d_dims(n, c_in, h, w, c_out, k, stride, pad, groups); }
  Shape x_shape() const { return {n, c_in, h, w}; }
  Shape w_shape() const { return transpose ? Shape{c_in, c_out / groups, k, k} : Shape{c_out, c_in / groups, k, k}; }
  Shape y_shape() const {
    return transpose ? Shape{n, c_out, conv_t().h_out(), conv_t().w_out()}
                     : Shape{n, c_out, conv().h_out(), conv().w_out()};
  }
  // Most terms any output element sums (fp32 accumulation bound): forward, grad-input, grad-weight.
  int64_t max_terms() const {
    const int64_t y_elems = transpose ? n * conv_t().h_out() * conv_t().w_out() : n * conv().h_out() * conv().w_out();
    const int64_t taps = k * k * std::max(c_in, c_out) / groups;
    return std::max({taps + 1, y_elems, n * h * w});
  }
};

inline std::vector<float> random_floats(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator g(seed);
  Tensor t = Tensor::empty({n});
  uniform_(t, lo, hi, g);
  return t.to_vector<float>();
}

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

// Runs the tensor op (forward + backward with dy) on `device` under precision p.
inline LayerResult<float> run_conv(const ConvCase& c, Device device, MathPrecision p, const std::vector<float>& x,
                                   const std::vector<float>& w, const std::vector<float>& b,
                                   const std::vector<float>& dy) {
  MathPrecisionScope scope(p);
  Tensor X = Tensor::from_vector(x, c.x_shape(), device), W = Tensor::from_vector(w, c.w_shape(), device);
  Tensor B = Tensor::from_vector(b, {c.c_out}, device);
  X.requires_grad_(), W.requires_grad_(), B.requires_grad_();
  const Tensor Y = c.transpose ? ops::conv_transpose2d(X, W, B, c.stride, c.pad)
                               : ops::conv2d(X, W, B, ops::Conv2dOptions::make(c.stride, c.pad, c.groups));
  Y.backward(Tensor::from_vector(dy, c.y_shape(), device));
  return {Y.to_vector<float>(), X.grad().to_vector<float>(), W.grad().to_vector<float>(), B.grad().to_vector<float>()};
}

// A linear case: x [m, in], w [out, in], b [out].
struct LinearCase {
  int64_t m, in, out;
  int64_t max_terms() const { return std::max({in + 1, out, m}); }
};

inline LayerResult<float> run_linear(const LinearCase& c, Device device, MathPrecision p, const std::vector<float>& x,
                                     const std::vector<float>& w, const std::vector<float>& b,
                                     const std::vector<float>& dy) {
  MathPrecisionScope scope(p);
  Tensor X = Tensor::from_vector(x, {c.m, c.in}, device), W = Tensor::from_vector(w, {c.out, c.in}, device);
  Tensor B = Tensor::from_vector(b, {c.out}, device);
  X.requires_grad_(), W.requires_grad_(), B.requires_grad_();
  const Tensor Y = ops::linear(X, W, B);
  Y.backward(Tensor::from_vector(dy, {c.m, c.out}, device));
  return {Y.to_vector<float>(), X.grad().to_vector<float>(), W.grad().to_vector<float>(), B.grad().to_vector<float>()};
}

// ---- double-precision oracles (no rounding inside: pass rounded or absolute operands) -------------

inline LayerResult<double> conv_oracle(const ConvCase& c, const std::vector<double>& x, const std::vector<double>& w,
                                       const std::vector<double>& b, const std::vector<double>& dy) {
  LayerResult<double> r;
  r.dx.resize(x.size()), r.dw.resize(w.size()), r.db.resize(b.size());
  r.y.resize(static_cast<size_t>(numel(c.y_shape())));
  if (!c.transpose) {
    const Conv2dDims d = c.conv();
    cpu::conv2d_forward_reference<double>(d, x.data(), w.data(), b.data(), r.y.data());
    cpu::conv2d_backward_input_reference<double>(d, dy.data(), w.data(), r.dx.data());
    cpu::conv2d_backward_weight_reference<double>(d, x.data(), dy.data(), r.dw.data(), r.db.data());
    return r;
  }
  // conv_transpose2d is the adjoint of the convolution a = as_conv() (kernels/conv2d.h)
  const Conv2dDims a = c.conv_t().as_conv();
  cpu::conv2d_backward_input_reference<double>(a, x.data(), w.data(), r.y.data());
  const int64_t P = c.conv_t().h_out() * c.conv_t().w_out();
  for (int64_t i = 0; i < static_cast<int64_t>(r.y.size()); ++i)
    r.y[static_cast<size_t>(i)] += b[static_cast<size_t>((i / P) % c.c_out)];
  cpu::conv2d_forward_reference<double>(a, dy.data(), w.data(), nullptr, r.dx.data());
  cpu::conv2d_backward_weight_reference<double>(a, dy.data(), x.data(), r.dw.data(), nullptr);
  std::fill(r.db.begin(), r.db.end(), 0.0);
  for (int64_t i = 0; i < static_cast<int64_t>(dy.size()); ++i)
    r.db[static_cast<size_t>((i / P) % c.c_out)] += dy[static_cast<size_t>(i)];
  return r;
}

inline LayerResult<double> linear_oracle(const LinearCase& c, const std::vector<double>& x,
                                         const std::vector<double>& w, const std::vector<double>& b,
                                         const std::vector<double>& dy) {
  LayerResult<double> r;
  r.y.assign(static_cast<size_t>(c.m * c.out), 0.0), r.dx.assign(x.size(), 0.0), r.dw.assign(w.size(), 0.0);
  r.db.assign(b.size(), 0.0);
  auto at = [](const std::vector<double>& v, int64_t i) { return v[static_cast<size_t>(i)]; };
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t o = 0; o < c.out; ++o) {
      double s = at(b, o);
      for (int64_t k = 0; k < c.in; ++k) s += at(x, i * c.in + k) * at(w, o * c.in + k);
      r.y[static_cast<size_t>(i * c.out + o)] = s;
      const double g = at(dy, i * c.out + o);
      for (int64_t k = 0; k < c.in; ++k) {
        r.dx[static_cast<size_t>(i * c.in + k)] += g * at(w, o * c.in + k);
        r.dw[static_cast<size_t>(o * c.in + k)] += g * at(x, i * c.in + k);
      }
      r.db[static_cast<size_t>(o)] += g;
    }
  return r;
}

// Element-wise transforms of an operand: rounded to p (as double), absolute value.
inline std::vector<double> rounded(const std::vector<float>& v, MathPrecision p) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = precision::round_to(v[i], p);
  return r;
}
inline std::vector<double> absolute(const std::vector<double>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = std::fabs(v[i]);
  return r;
}

}  // namespace fer::test
