// kernels/batchnorm_cpu.cpp: CPU twin of 2-D batch normalisation (see batchnorm.h for the math).
//
// Channels are independent: every loop nest is an OpenMP loop over c (or over the N*C planes for
// the purely elementwise eval forward). Inside a channel the M = N*H*W values sit in N planes of
// H*W contiguous elements: x[(n*C + c)*HW + i]. Statistics and gradient sums accumulate in double
// whatever T is, and the variance is two-pass (mean first, then the mean of squared deviations),
// which stays accurate when |mean| >> std.
#include <cmath>

#include "kernels/batchnorm.h"

namespace fer {

void check_batchnorm(const char* op, const BatchNormDims& d, bool training) {
  FER_CHECK(d.n >= 1 && d.c >= 1 && d.h >= 1 && d.w >= 1,
            op << ": input shape [N,C,H,W] = [" << d.n << "," << d.c << "," << d.h << "," << d.w
               << "] must be positive; hint: batch norm takes [N,C,H,W] or [N,C] with N >= 1");
  FER_CHECK(!training || d.m() > 1, op << ": expected more than 1 value per channel when training, got input shape ["
                                       << d.n << "," << d.c << "," << d.h << "," << d.w << "] (N*H*W = " << d.m()
                                       << "); hint: use a batch size > 1, or eval mode for a single sample");
}

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

}  // namespace

namespace cpu {

template <typename T>
void batchnorm2d_forward_train(const BatchNormDims& d, const T* x, const T* gamma, const T* beta, double eps,
                               double momentum, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd) {
  const char* op = "batchnorm2d_forward_train";
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
    // pass 2: the biased variance from the deviations (no E[x^2] - E[x]^2 cancellation)
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
    // pass 3: y = gamma * x_hat + beta
    const double g = gamma ? double(gamma[c]) : 1.0, b = beta ? double(beta[c]) : 0.0;
    for (int64_t n = 0; n < d.n; ++n) {
      const T* xp = x + (n * C + c) * HW;
      T* yp = y + (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) yp[i] = T((double(xp[i]) - mean) * invstd * g + b);
    }
    if (running_mean) {  // PyTorch: the running variance tracks the UNBIASED estimate var * M/(M-1)
      running_mean[c] = T((1.0 - momentum) * double(running_mean[c]) + momentum * mean);
      running_var[c] = T((1.0 - momentum) * double(running_var[c]) + momentum * var * double(M) / double(M - 1));
    }
  }
}

template <typename T>
void batchnorm2d_forward_eval(const BatchNormDims& d, const T* x, const T* gamma, const T* beta, const T* running_mean,
                              const T* running_var, double eps, T* y) {
  const char* op = "batchnorm2d_forward_eval";
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
    for (int64_t i = 0; i < HW; ++i) yp[i] = T((double(xp[i]) - mean) * rinv * g + b);
  }
}

template <typename T>
void batchnorm2d_backward_train(const BatchNormDims& d, const T* x, const T* dy, const T* gamma, const T* save_mean,
                                const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const char* op = "batchnorm2d_backward_train";
  check_batchnorm(op, d, true);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr, op << ": save_mean and save_invstd are required");
  const int64_t C = d.c, HW = d.hw(), M = d.m();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    const double mean = double(save_mean[c]), invstd = double(save_invstd[c]);
    // sum dy (= dbeta) and sum dy * x_hat (= dgamma) over the channel
    double sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < d.n; ++n) {
      const int64_t base = (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        const double g = double(dy[base + i]);
        sdy += g;
        sdyx += g * (double(x[base + i]) - mean) * invstd;
      }
    }
    if (dbeta) dbeta[c] = T(sdy);
    if (dgamma) dgamma[c] = T(sdyx);
    if (!dx) continue;
    // dx = gamma invstd (dy - sum dy / M - x_hat sum(dy x_hat) / M)
    const double k = (gamma ? double(gamma[c]) : 1.0) * invstd;
    const double mdy = sdy / double(M), mdyx = sdyx / double(M);
    for (int64_t n = 0; n < d.n; ++n) {
      const int64_t base = (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        const double xh = (double(x[base + i]) - mean) * invstd;
        dx[base + i] = T(k * (double(dy[base + i]) - mdy - xh * mdyx));
      }
    }
  }
}

template <typename T>
void batchnorm2d_backward_eval(const BatchNormDims& d, const T* x, const T* dy, const T* gamma, const T* running_mean,
                               const T* running_var, double eps, T* dx, T* dgamma, T* dbeta) {
  const char* op = "batchnorm2d_backward_eval";
  check_batchnorm(op, d, false);
  check_eval_pointers(op, running_mean, running_var, eps);
  const int64_t C = d.c, HW = d.hw();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    const double mean = double(running_mean[c]);
    const double rinv = 1.0 / std::sqrt(double(running_var[c]) + eps);
    if (dgamma || dbeta) {
      double sdy = 0, sdyx = 0;
      for (int64_t n = 0; n < d.n; ++n) {
        const int64_t base = (n * C + c) * HW;
        for (int64_t i = 0; i < HW; ++i) {
          const double g = double(dy[base + i]);
          sdy += g;
          sdyx += g * (double(x[base + i]) - mean) * rinv;
        }
      }
      if (dbeta) dbeta[c] = T(sdy);
      if (dgamma) dgamma[c] = T(sdyx);
    }
    if (!dx) continue;
    // the statistics are constants: y is affine in x with slope gamma * rinv
    const double k = (gamma ? double(gamma[c]) : 1.0) * rinv;
    for (int64_t n = 0; n < d.n; ++n) {
      const int64_t base = (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) dx[base + i] = T(k * double(dy[base + i]));
    }
  }
}

#define FER_INSTANTIATE_BATCHNORM(T)                                                                                  \
  template void batchnorm2d_forward_train<T>(const BatchNormDims&, const T*, const T*, const T*, double, double, T*,  \
                                             T*, T*, T*, T*);                                                         \
  template void batchnorm2d_forward_eval<T>(const BatchNormDims&, const T*, const T*, const T*, const T*, const T*,   \
                                            double, T*);                                                              \
  template void batchnorm2d_backward_train<T>(const BatchNormDims&, const T*, const T*, const T*, const T*, const T*, \
                                              T*, T*, T*);                                                            \
  template void batchnorm2d_backward_eval<T>(const BatchNormDims&, const T*, const T*, const T*, const T*, const T*,  \
                                             double, T*, T*, T*);
FER_INSTANTIATE_BATCHNORM(float)
FER_INSTANTIATE_BATCHNORM(double)
#undef FER_INSTANTIATE_BATCHNORM

}  // namespace cpu
}  // namespace fer
