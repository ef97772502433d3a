// kernels/batchnorm_act_cpu.cpp: CPU twin of batch normalisation fused with an activation (see
// batchnorm_act.h for the math, kernels/notes/batchnorm_act.md for the derivation).
//
// Same loop structure as batchnorm_cpu.cpp: an OpenMP loop over channels (over the N*C planes for
// the eval forward), double accumulators, two-pass variance. The normalised value is formed with
// exactly batchnorm_cpu.cpp's expression and rounded to T before the activation is applied in T
// (as cpu::activation_forward does), which makes y bit-identical to the unfused composition.
// The backward writes dz = act'(z) dy into dx during its reduction pass and turns it into dx in
// place during the second pass, so z and dz never need a buffer of their own.
#include <cmath>
#include <vector>

#include "kernels/batchnorm_act.h"

namespace fer {

namespace {

void check_train_pointers(const char* op, const void* save_mean, const void* save_invstd, const void* running_mean,
                          const void* running_var, double eps) {
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr,
            op << ": save_mean and save_invstd are required in training (the backward reads them)");
  FER_CHECK((running_mean == nullptr) == (running_var == nullptr),
            op << ": pass both running_mean and running_var, or neither (not tracking running statistics)");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
}

void check_eval_pointers(const char* op, const void* running_mean, const void* running_var, double eps) {
  FER_CHECK(running_mean != nullptr && running_var != nullptr,
            op << ": eval mode needs running_mean and running_var; hint: without tracked statistics use training mode");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
}

// dz = act'(z) dy for the recomputed z (already rounded to T, as the forward stored it). Only the
// sigmoid derivative reads y, so only then is act(z) evaluated again.
template <Activation A, typename T>
inline T act_grad(T z, T dy) {
  const T y = A == Activation::sigmoid ? act::forward(A, z) : T(0);
  return act::backward(A, z, y, dy);
}

}  // namespace

namespace cpu {
namespace {
// The loops, one instantiation per activation: with A a compile-time constant the activation's
// switch folds away and the element loops vectorise (a per-element switch made the fused op slower
// than batchnorm followed by a separate activation).

template <Activation A, typename T>
void batchnorm_act_forward_train_loop(const BatchNormDims& d, const T* x, const T* gamma, const T* beta,
                                 double eps, double momentum, T* running_mean, T* running_var, T* y, T* save_mean,
                                 T* save_invstd) {
  const char* op = "batchnorm_act_forward_train";
  check_batchnorm(op, d, true);
  check_train_pointers(op, save_mean, save_invstd, running_mean, running_var, eps);
  const int64_t C = d.c, HW = d.hw(), M = d.m();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    // pass 1: the mean over the N planes of channel c
    double sum = 0;
    for (int64_t n = 0; n < d.n; ++n) {
      const T* xp = x + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) sum += double(xp[i]);
    }
    const double mean = sum / double(M);
    // pass 2: the biased variance from the deviations
    double sq = 0;
    for (int64_t n = 0; n < d.n; ++n) {
      const T* xp = x + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        const double t = double(xp[i]) - mean;
        sq += t * t;
      }
    }
    const double var = sq / double(M);
    const double invstd = 1.0 / std::sqrt(var + eps);
    save_mean[c] = T(mean);
    save_invstd[c] = T(invstd);
    // pass 3: y = act(gamma * x_hat + beta), z rounded to T first (as batchnorm2d_forward_train stores it)
    const double g = gamma ? double(gamma[c]) : 1.0, b = beta ? double(beta[c]) : 0.0;
    for (int64_t n = 0; n < d.n; ++n) {
      const T* xp = x + (n * C + c) * HW;
      T* yp = y + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) yp[i] = act::forward(A, T((double(xp[i]) - mean) * invstd * g + b));
    }
    if (running_mean) {  // PyTorch: the running variance tracks the UNBIASED estimate var * M/(M-1)
      running_mean[c] = T((1.0 - momentum) * double(running_mean[c]) + momentum * mean);
      running_var[c] = T((1.0 - momentum) * double(running_var[c]) + momentum * var * double(M) / double(M - 1));
    }
  }
}

template <Activation A, typename T>
void batchnorm_act_forward_eval_loop(const BatchNormDims& d, const T* x, const T* gamma, const T* beta,
                                const T* running_mean, const T* running_var, double eps, T* y) {
  const char* op = "batchnorm_act_forward_eval";
  check_batchnorm(op, d, false);
  check_eval_pointers(op, running_mean, running_var, eps);
  const int64_t C = d.c, HW = d.hw();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < d.n * C; ++nc) {  // planes are independent
    const int64_t c = nc % C;
    const double rinv = 1.0 / std::sqrt(double(running_var[c]) + eps);
    const double g = gamma ? double(gamma[c]) : 1.0, b = beta ? double(beta[c]) : 0.0;
    const double mean = double(running_mean[c]);
    const T* xp = x + nc * HW;
    T* yp = y + nc * HW;
    for (int64_t i = 0; i < HW; ++i) yp[i] = act::forward(A, T((double(xp[i]) - mean) * rinv * g + b));
  }
}

template <Activation A, typename T>
void batchnorm_act_backward_train_loop(const BatchNormDims& d, const T* x, const T* dy, const T* gamma,
                                  const T* beta, const T* save_mean, const T* save_invstd, T* dx, T* dgamma,
                                  T* dbeta) {
  const char* op = "batchnorm_act_backward_train";
  check_batchnorm(op, d, true);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr, op << ": save_mean and save_invstd are required");
  if (!dx && !dgamma && !dbeta) return;
  const int64_t C = d.c, HW = d.hw(), M = d.m();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    const double mean = double(save_mean[c]), invstd = double(save_invstd[c]);
    const double g = gamma ? double(gamma[c]) : 1.0, b = beta ? double(beta[c]) : 0.0;
    // pass 1a: dz = act'(z) dy with z recomputed, into dx (or a per-thread scratch when dx is not
    // wanted): a loop without reductions, so it vectorises. pass 1b: sum dz (= dbeta) and
    // sum dz x_hat (= dgamma), batchnorm_cpu.cpp's reduction loop on dz.
    thread_local std::vector<T> scratch;
    if (!dx && static_cast<int64_t>(scratch.size()) < M) scratch.resize(static_cast<size_t>(M));
    double sdz = 0, sdzx = 0;
    for (int64_t n = 0; n < d.n; ++n) {
      const int64_t base = (n * C + c) * HW;
      const T* xp = x + base;
      const T* dyp = dy + base;
      T* dzp = dx ? dx + base : scratch.data() + n * HW;
      for (int64_t i = 0; i < HW; ++i) dzp[i] = act_grad<A>(T((double(xp[i]) - mean) * invstd * g + b), dyp[i]);
      for (int64_t i = 0; i < HW; ++i) {
        const double dz = double(dzp[i]);
        sdz += dz;
        sdzx += dz * (double(xp[i]) - mean) * invstd;  // batchnorm_cpu.cpp's order
      }
    }
    if (dbeta) dbeta[c] = T(sdz);
    if (dgamma) dgamma[c] = T(sdzx);
    if (!dx) continue;
    // pass 2: dx = gamma invstd (dz - sum dz / M - x_hat sum(dz x_hat) / M), in place over dz
    const double k = g * invstd;
    const double mdz = sdz / double(M), mdzx = sdzx / double(M);
    for (int64_t n = 0; n < d.n; ++n) {
      const int64_t base = (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        const double xh = (double(x[base + i]) - mean) * invstd;
        dx[base + i] = T(k * (double(dx[base + i]) - mdz - xh * mdzx));
      }
    }
  }
}

template <Activation A, typename T>
void batchnorm_act_backward_eval_loop(const BatchNormDims& d, const T* x, const T* dy, const T* gamma,
                                 const T* beta, const T* running_mean, const T* running_var, double eps, T* dx,
                                 T* dgamma, T* dbeta) {
  const char* op = "batchnorm_act_backward_eval";
  check_batchnorm(op, d, false);
  check_eval_pointers(op, running_mean, running_var, eps);
  if (!dx && !dgamma && !dbeta) return;
  const int64_t C = d.c, HW = d.hw();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    const double mean = double(running_mean[c]);
    const double rinv = 1.0 / std::sqrt(double(running_var[c]) + eps);
    const double g = gamma ? double(gamma[c]) : 1.0, b = beta ? double(beta[c]) : 0.0;
    // the statistics are constants: one pass, dx = gamma rinv dz, and the parameter sums of dz
    const double k = g * rinv;
    double sdz = 0, sdzx = 0;
    for (int64_t n = 0; n < d.n; ++n) {
      const int64_t base = (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        const double xh = (double(x[base + i]) - mean) * rinv;
        const T dz = act_grad<A>(T(xh * g + b), dy[base + i]);
        if (dx) dx[base + i] = T(k * double(dz));
        sdz += double(dz);
        sdzx += double(dz) * (double(x[base + i]) - mean) * rinv;  // batchnorm_cpu.cpp's order
      }
    }
    if (dbeta) dbeta[c] = T(sdz);
    if (dgamma) dgamma[c] = T(sdzx);
  }
}

}  // namespace

template <typename T>
void batchnorm_act_forward_train(const BatchNormDims& d, Activation a, const T* x, const T* gamma, const T* beta, double eps, double momentum, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd) {
  switch (a) {
    case Activation::relu: return batchnorm_act_forward_train_loop<Activation::relu>(d, x, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean, save_invstd);
    case Activation::sigmoid: return batchnorm_act_forward_train_loop<Activation::sigmoid>(d, x, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean, save_invstd);
    case Activation::silu: return batchnorm_act_forward_train_loop<Activation::silu>(d, x, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean, save_invstd);
    case Activation::gelu: return batchnorm_act_forward_train_loop<Activation::gelu>(d, x, gamma, beta, eps, momentum, running_mean, running_var, y, save_mean, save_invstd);
  }
}

template <typename T>
void batchnorm_act_forward_eval(const BatchNormDims& d, Activation a, const T* x, const T* gamma, const T* beta, const T* running_mean, const T* running_var, double eps, T* y) {
  switch (a) {
    case Activation::relu: return batchnorm_act_forward_eval_loop<Activation::relu>(d, x, gamma, beta, running_mean, running_var, eps, y);
    case Activation::sigmoid: return batchnorm_act_forward_eval_loop<Activation::sigmoid>(d, x, gamma, beta, running_mean, running_var, eps, y);
    case Activation::silu: return batchnorm_act_forward_eval_loop<Activation::silu>(d, x, gamma, beta, running_mean, running_var, eps, y);
    case Activation::gelu: return batchnorm_act_forward_eval_loop<Activation::gelu>(d, x, gamma, beta, running_mean, running_var, eps, y);
  }
}

template <typename T>
void batchnorm_act_backward_train(const BatchNormDims& d, Activation a, const T* x, const T* dy, const T* gamma, const T* beta, const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  switch (a) {
    case Activation::relu: return batchnorm_act_backward_train_loop<Activation::relu>(d, x, dy, gamma, beta, save_mean, save_invstd, dx, dgamma, dbeta);
    case Activation::sigmoid: return batchnorm_act_backward_train_loop<Activation::sigmoid>(d, x, dy, gamma, beta, save_mean, save_invstd, dx, dgamma, dbeta);
    case Activation::silu: return batchnorm_act_backward_train_loop<Activation::silu>(d, x, dy, gamma, beta, save_mean, save_invstd, dx, dgamma, dbeta);
    case Activation::gelu: return batchnorm_act_backward_train_loop<Activation::gelu>(d, x, dy, gamma, beta, save_mean, save_invstd, dx, dgamma, dbeta);
  }
}

template <typename T>
void batchnorm_act_backward_eval(const BatchNormDims& d, Activation a, const T* x, const T* dy, const T* gamma, const T* beta, const T* running_mean, const T* running_var, double eps, T* dx, T* dgamma, T* dbeta) {
  switch (a) {
    case Activation::relu: return batchnorm_act_backward_eval_loop<Activation::relu>(d, x, dy, gamma, beta, running_mean, running_var, eps, dx, dgamma, dbeta);
    case Activation::sigmoid: return batchnorm_act_backward_eval_loop<Activation::sigmoid>(d, x, dy, gamma, beta, running_mean, running_var, eps, dx, dgamma, dbeta);
    case Activation::silu: return batchnorm_act_backward_eval_loop<Activation::silu>(d, x, dy, gamma, beta, running_mean, running_var, eps, dx, dgamma, dbeta);
    case Activation::gelu: return batchnorm_act_backward_eval_loop<Activation::gelu>(d, x, dy, gamma, beta, running_mean, running_var, eps, dx, dgamma, dbeta);
  }
}

#define FER_INSTANTIATE_BATCHNORM_ACT(T)                                                                            \
  template void batchnorm_act_forward_train<T>(const BatchNormDims&, Activation, const T*, const T*, const T*,      \
                                               double, double, T*, T*, T*, T*, T*);                                 \
  template void batchnorm_act_forward_eval<T>(const BatchNormDims&, Activation, const T*, const T*, const T*,       \
                                              const T*, const T*, double, T*);                                      \
  template void batchnorm_act_backward_train<T>(const BatchNormDims&, Activation, const T*, const T*, const T*,     \
                                                const T*, const T*, const T*, T*, T*, T*);                          \
  template void batchnorm_act_backward_eval<T>(const BatchNormDims&, Activation, const T*, const T*, const T*,      \
                                               const T*, const T*, const T*, double, T*, T*, T*);
FER_INSTANTIATE_BATCHNORM_ACT(float)
FER_INSTANTIATE_BATCHNORM_ACT(double)
#undef FER_INSTANTIATE_BATCHNORM_ACT

}  // namespace cpu
}  // namespace fer
