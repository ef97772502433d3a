// kernels/optim_cpu.cpp: CPU twin of the optimizer updates (see optim.h).
//
// Updates are independent per element (one OpenMP loop each). grad_norm cuts the input into fixed
// chunks of kChunk elements (the cut depends on n only), sums each chunk in order in double and
// adds the chunk sums in chunk order, so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/optim.h"

namespace fer {

namespace {
constexpr int64_t kParallelMin = 32768;
constexpr int64_t kChunk = 65536;  // grad_norm: elements per partial sum
}  // namespace

void check_sgd(const char* op, int64_t n, const SgdConfig& c, int64_t step, bool has_momentum_buf) {
  FER_CHECK(n >= 0, op << ": negative element count n=" << n);
  FER_CHECK(step >= 1, op << ": step counts from 1, got " << step << "; hint: increment the step before the update");
  FER_CHECK(c.lr >= 0, op << ": learning rate must be >= 0, got " << c.lr);
  FER_CHECK(c.momentum >= 0, op << ": momentum must be >= 0, got " << c.momentum);
  FER_CHECK(c.weight_decay >= 0, op << ": weight_decay must be >= 0, got " << c.weight_decay);
  FER_CHECK(!c.nesterov || (c.momentum > 0 && c.dampening == 0),
            op << ": nesterov needs momentum > 0 and dampening 0 (got momentum " << c.momentum << ", dampening "
               << c.dampening << ")");
  FER_CHECK(c.momentum == 0 || has_momentum_buf || n == 0,
            op << ": momentum " << c.momentum << " needs a momentum buffer of n elements; hint: pass a zeroed buffer");
}

void check_adam(const char* op, int64_t n, const AdamConfig& c, int64_t step, bool has_max_buf) {
  FER_CHECK(n >= 0, op << ": negative element count n=" << n);
  FER_CHECK(step >= 1, op << ": step counts from 1, got " << step << "; hint: increment the step before the update");
  FER_CHECK(c.lr >= 0, op << ": learning rate must be >= 0, got " << c.lr);
  FER_CHECK(c.beta1 >= 0 && c.beta1 < 1, op << ": beta1 must be in [0, 1), got " << c.beta1);
  FER_CHECK(c.beta2 >= 0 && c.beta2 < 1, op << ": beta2 must be in [0, 1), got " << c.beta2);
  FER_CHECK(c.eps >= 0, op << ": eps must be >= 0, got " << c.eps);
  FER_CHECK(c.weight_decay >= 0, op << ": weight_decay must be >= 0, got " << c.weight_decay);
  FER_CHECK(!c.amsgrad || has_max_buf || n == 0,
            op << ": amsgrad needs a max_exp_avg_sq buffer of n elements; hint: pass a zeroed buffer");
}

namespace optim {

AdamScalars adam_scalars(const AdamConfig& c, int64_t step) {
  const double t = static_cast<double>(step);
  AdamScalars s;
  s.step_size = c.lr / (1.0 - std::pow(c.beta1, t));
  s.bc2_sqrt = std::sqrt(1.0 - std::pow(c.beta2, t));
  s.decay = c.decoupled_weight_decay ? 1.0 - c.lr * c.weight_decay : 1.0;
  s.l2 = c.decoupled_weight_decay ? 0.0 : c.weight_decay;
  return s;
}

RadamScalars radam_scalars(const AdamConfig& c, int64_t step) {
  const double t = static_cast<double>(step);
  RadamScalars s;
  s.bc1 = 1.0 - std::pow(c.beta1, t);
  const double bc2 = 1.0 - std::pow(c.beta2, t);
  s.bc2_sqrt = std::sqrt(bc2);
  // The length of the approximated simple moving average (torch.optim.RAdam).
  const double rho_inf = 2.0 / (1.0 - c.beta2) - 1.0;
  const double rho_t = rho_inf - 2.0 * t * std::pow(c.beta2, t) / bc2;
  s.rectified = rho_t > 5.0;
  s.rect = s.rectified ? std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) : 1.0;
  s.decay = c.decoupled_weight_decay ? 1.0 - c.lr * c.weight_decay : 1.0;
  s.l2 = c.decoupled_weight_decay ? 0.0 : c.weight_decay;
  return s;
}

void sgd_step_scalars(const SgdConfig& c, int64_t step, double* out) {
  check_sgd("sgd_step_scalars", 0, c, step, true);
  for (int i = 0; i < kStepScalars; ++i) out[i] = 0.0;
  out[0] = c.lr;
  out[1] = step == 1 ? 1.0 : 0.0;
}

void adam_step_scalars(const AdamConfig& c, int64_t step, double* out) {
  check_adam("adam_step_scalars", 0, c, step, true);
  const AdamScalars s = adam_scalars(c, step);
  for (int i = 0; i < kStepScalars; ++i) out[i] = 0.0;
  out[0] = s.step_size, out[1] = s.bc2_sqrt, out[2] = s.decay, out[3] = s.l2;
}

void radam_step_scalars(const AdamConfig& c, int64_t step, double* out) {
  check_adam("radam_step_scalars", 0, c, step, false);
  const RadamScalars s = radam_scalars(c, step);
  for (int i = 0; i < kStepScalars; ++i) out[i] = 0.0;
  out[0] = c.lr, out[1] = s.bc1, out[2] = s.bc2_sqrt, out[3] = s.rect, out[4] = s.rectified ? 1.0 : 0.0;
  out[5] = s.decay, out[6] = s.l2;
}

}  // namespace optim

namespace cpu {

template <typename T>
void sgd_apply(int64_t n, T* params, const T* grads, T* momentum_buf, const SgdConfig& c, const double* scalars) {
  check_sgd("sgd_apply", n, c, 1, momentum_buf != nullptr);
  const T lr = static_cast<T>(scalars[0]), mom = static_cast<T>(c.momentum), damp = static_cast<T>(c.dampening),
          wd = static_cast<T>(c.weight_decay);
  const bool first = scalars[1] != 0.0;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i)
    optim::sgd_element(params + i, grads[i], momentum_buf ? momentum_buf + i : nullptr, lr, mom, damp, wd, c.nesterov,
                       first);
}

template <typename T>
void adam_apply(int64_t n, T* params, const T* grads, T* exp_avg, T* exp_avg_sq, const AdamConfig& c,
                const double* scalars, T* max_exp_avg_sq) {
  check_adam("adam_apply", n, c, 1, max_exp_avg_sq != nullptr);
  const T b1 = static_cast<T>(c.beta1), b2 = static_cast<T>(c.beta2), eps = static_cast<T>(c.eps),
          step_size = static_cast<T>(scalars[0]), bc2_sqrt = static_cast<T>(scalars[1]),
          decay = static_cast<T>(scalars[2]), l2 = static_cast<T>(scalars[3]);
  T* vmax = c.amsgrad ? max_exp_avg_sq : nullptr;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i)
    optim::adam_element(params + i, grads[i], exp_avg + i, exp_avg_sq + i, vmax ? vmax + i : nullptr, b1, b2, eps,
                        step_size, bc2_sqrt, decay, l2);
}

template <typename T>
void radam_apply(int64_t n, T* params, const T* grads, T* exp_avg, T* exp_avg_sq, const AdamConfig& c,
                 const double* scalars) {
  check_adam("radam_apply", n, c, 1, false);
  FER_CHECK(!c.amsgrad, "radam_apply: amsgrad is an Adam option; hint: set amsgrad = false for RAdam");
  const T b1 = static_cast<T>(c.beta1), b2 = static_cast<T>(c.beta2), eps = static_cast<T>(c.eps),
          lr = static_cast<T>(scalars[0]), bc1 = static_cast<T>(scalars[1]), bc2_sqrt = static_cast<T>(scalars[2]),
          rect = static_cast<T>(scalars[3]), decay = static_cast<T>(scalars[5]), l2 = static_cast<T>(scalars[6]);
  const bool rectified = scalars[4] != 0.0;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i)
    optim::radam_element(params + i, grads[i], exp_avg + i, exp_avg_sq + i, b1, b2, eps, lr, bc1, bc2_sqrt, rect,
                         rectified, decay, l2);
}

template <typename T>
void sgd_step(int64_t n, T* params, const T* grads, T* momentum_buf, const SgdConfig& c, int64_t step) {
  check_sgd("sgd_step", n, c, step, momentum_buf != nullptr);
  double s[optim::kStepScalars];
  optim::sgd_step_scalars(c, step, s);
  sgd_apply(n, params, grads, momentum_buf, c, s);
}

template <typename T>
void adam_step(int64_t n, T* params, const T* grads, T* exp_avg, T* exp_avg_sq, const AdamConfig& c, int64_t step,
               T* max_exp_avg_sq) {
  check_adam("adam_step", n, c, step, max_exp_avg_sq != nullptr);
  double s[optim::kStepScalars];
  optim::adam_step_scalars(c, step, s);
  adam_apply(n, params, grads, exp_avg, exp_avg_sq, c, s, max_exp_avg_sq);
}

template <typename T>
void radam_step(int64_t n, T* params, const T* grads, T* exp_avg, T* exp_avg_sq, const AdamConfig& c, int64_t step) {
  check_adam("radam_step", n, c, step, false);
  FER_CHECK(!c.amsgrad, "radam_step: amsgrad is an Adam option; hint: set amsgrad = false for RAdam");
  double s[optim::kStepScalars];
  optim::radam_step_scalars(c, step, s);
  radam_apply(n, params, grads, exp_avg, exp_avg_sq, c, s);
}

template <typename T>
double grad_norm(int64_t n, const T* grads) {
  FER_CHECK(n >= 0, "grad_norm: negative element count n=" << n);
  const int64_t chunks = ceil_div(n, kChunk);
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t i1 = std::min(n, (c + 1) * kChunk);
    double acc = 0;
    for (int64_t i = c * kChunk; i < i1; ++i) {
      const double g = static_cast<double>(grads[i]);
      acc += g * g;
    }
    partial[c] = acc;
  }
  double total = 0;  // chunk sums in chunk order: independent of the thread count
  for (int64_t c = 0; c < chunks; ++c) total += partial[c];
  return std::sqrt(total);
}

template <typename T>
void scale(int64_t n, T* grads, double factor) {
  FER_CHECK(n >= 0, "scale: negative element count n=" << n);
  const T f = static_cast<T>(factor);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) grads[i] = grads[i] * f;
}

template <typename T>
void clip_by_norm(int64_t n, T* grads, const double* total_norm, double max_norm) {
  FER_CHECK(total_norm != nullptr, "clip_by_norm: total_norm is null");
  const double f = optim::clip_factor(*total_norm, max_norm);
  if (f != 1.0) scale(n, grads, f);
}

// Explicit instantiations: float (training on the CPU) and double (golden-value tests).
#define FER_INSTANTIATE_OPTIM(T)                                                             \
  template void sgd_apply<T>(int64_t, T*, const T*, T*, const SgdConfig&, const double*);                  \
  template void adam_apply<T>(int64_t, T*, const T*, T*, T*, const AdamConfig&, const double*, T*);         \
  template void radam_apply<T>(int64_t, T*, const T*, T*, T*, const AdamConfig&, const double*);            \
  template void sgd_step<T>(int64_t, T*, const T*, T*, const SgdConfig&, int64_t);           \
  template void adam_step<T>(int64_t, T*, const T*, T*, T*, const AdamConfig&, int64_t, T*); \
  template void radam_step<T>(int64_t, T*, const T*, T*, T*, const AdamConfig&, int64_t);    \
  template double grad_norm<T>(int64_t, const T*);                                           \
  template void scale<T>(int64_t, T*, double);                                                            \
  template void clip_by_norm<T>(int64_t, T*, const double*, double);
FER_INSTANTIATE_OPTIM(float)
FER_INSTANTIATE_OPTIM(double)
#undef FER_INSTANTIATE_OPTIM

}  // namespace cpu
}  // namespace fer
