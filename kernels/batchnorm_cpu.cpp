// kernels/batchnorm_cpu.cpp: the CPU twin of batch normalisation (see batchnorm.h for the math).
// One channel at a time (channels in parallel); sums in double, in (n, i) order.
#include <cmath>

#include "kernels/batchnorm.h"

namespace fer {

void check_batchnorm(const char* op, const BatchNormDims& d, bool training) {
  FER_CHECK(d.n >= 1 && d.c >= 1 && d.h >= 1 && d.w >= 1,
            op << ": bad shape N=" << d.n << " C=" << d.c << " H=" << d.h << " W=" << d.w);
  FER_CHECK(!training || d.m() > 1, op << ": expected more than 1 value per channel when training, got input [" << d.n
                                       << ", " << d.c << ", " << d.h << ", " << d.w
                                       << "]; hint: use a batch larger than 1 or eval mode");
}

namespace cpu {

namespace {
// Calls f(value index) for every element of channel c, in (n, i) order.
template <typename F>
void for_channel(const BatchNormDims& d, int64_t c, F&& f) {
  const int64_t s = d.spatial();
  for (int64_t n = 0; n < d.n; ++n) {
    const int64_t base = (n * d.c + c) * s;
    for (int64_t i = 0; i < s; ++i) f(base + i);
  }
}
}  // namespace

template <typename T>
void batchnorm2d_forward_train(const BatchNormDims& d, const T* x, const T* gamma, const T* beta, double eps,
                               double momentum, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd) {
  check_batchnorm("batchnorm2d_forward_train", d, true);
  const double m = static_cast<double>(d.m());
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < d.c; ++c) {
    double sum = 0;
    for_channel(d, c, [&](int64_t k) { sum += static_cast<double>(x[k]); });
    const double mean = sum / m;
    double sq = 0;  // second pass: sum of squared deviations (no cancellation)
    for_channel(d, c, [&](int64_t k) {
      const double dev = static_cast<double>(x[k]) - mean;
      sq += dev * dev;
    });
    const double var = sq / m;
    const double invstd = 1.0 / std::sqrt(var + eps);
    const double g = gamma ? static_cast<double>(gamma[c]) : 1.0;
    const double b = beta ? static_cast<double>(beta[c]) : 0.0;
    for_channel(d, c, [&](int64_t k) { y[k] = static_cast<T>((static_cast<double>(x[k]) - mean) * invstd * g + b); });
    if (save_mean) save_mean[c] = static_cast<T>(mean);
    if (save_invstd) save_invstd[c] = static_cast<T>(invstd);
    if (running_mean)
      running_mean[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) + momentum * mean);
    if (running_var)
      running_var[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[c]) +
                                      momentum * var * m / (m - 1.0));
  }
}

template <typename T>
void batchnorm2d_forward_eval(const BatchNormDims& d, const T* x, const T* gamma, const T* beta,
                              const T* running_mean, const T* running_var, double eps, T* y) {
  check_batchnorm("batchnorm2d_forward_eval", d, false);
  FER_CHECK(running_mean && running_var, "batchnorm2d_forward_eval: needs running statistics");
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < d.c; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    const double mean = static_cast<double>(running_mean[c]);
    const double g = gamma ? static_cast<double>(gamma[c]) : 1.0;
    const double b = beta ? static_cast<double>(beta[c]) : 0.0;
    for_channel(d, c, [&](int64_t k) { y[k] = static_cast<T>((static_cast<double>(x[k]) - mean) * invstd * g + b); });
  }
}

template <typename T>
void batchnorm2d_backward_train(const BatchNormDims& d, const T* x, const T* dy, const T* gamma, const T* save_mean,
                                const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  check_batchnorm("batchnorm2d_backward_train", d, true);
  const double m = static_cast<double>(d.m());
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < d.c; ++c) {
    const double mean = static_cast<double>(save_mean[c]), invstd = static_cast<double>(save_invstd[c]);
    double sum_dy = 0, sum_dy_xhat = 0;
    for_channel(d, c, [&](int64_t k) {
      const double g = static_cast<double>(dy[k]);
      sum_dy += g;
      sum_dy_xhat += g * (static_cast<double>(x[k]) - mean) * invstd;
    });
    if (dbeta) dbeta[c] = static_cast<T>(sum_dy);
    if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xhat);
    if (dx) {
      const double scale = (gamma ? static_cast<double>(gamma[c]) : 1.0) * invstd / m;
      for_channel(d, c, [&](int64_t k) {
        const double xhat = (static_cast<double>(x[k]) - mean) * invstd;
        dx[k] = static_cast<T>(scale * (m * static_cast<double>(dy[k]) - sum_dy - xhat * sum_dy_xhat));
      });
    }
  }
}

template <typename T>
void batchnorm2d_backward_eval(const BatchNormDims& d, const T* x, const T* dy, const T* gamma,
                               const T* running_mean, const T* running_var, double eps, T* dx, T* dgamma, T* dbeta) {
  check_batchnorm("batchnorm2d_backward_eval", d, false);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < d.c; ++c) {
    const double mean = static_cast<double>(running_mean[c]);
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps);
    double sum_dy = 0, sum_dy_xhat = 0;
    for_channel(d, c, [&](int64_t k) {
      const double g = static_cast<double>(dy[k]);
      sum_dy += g;
      sum_dy_xhat += g * (static_cast<double>(x[k]) - mean) * invstd;
    });
    if (dbeta) dbeta[c] = static_cast<T>(sum_dy);
    if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xhat);
    if (dx) {
      const double scale = (gamma ? static_cast<double>(gamma[c]) : 1.0) * invstd;
      for_channel(d, c, [&](int64_t k) { dx[k] = static_cast<T>(scale * static_cast<double>(dy[k])); });
    }
  }
}

#define FER_INSTANTIATE(T)                                                                                        \
  template void batchnorm2d_forward_train<T>(const BatchNormDims&, const T*, const T*, const T*, double, double,  \
                                             T*, T*, T*, T*, T*);                                                 \
  template void batchnorm2d_forward_eval<T>(const BatchNormDims&, const T*, const T*, const T*, const T*,         \
                                            const T*, double, T*);                                                \
  template void batchnorm2d_backward_train<T>(const BatchNormDims&, const T*, const T*, const T*, const T*,       \
                                              const T*, T*, T*, T*);                                              \
  template void batchnorm2d_backward_eval<T>(const BatchNormDims&, const T*, const T*, const T*, const T*,        \
                                             const T*, double, T*, T*, T*);
FER_INSTANTIATE(float)
FER_INSTANTIATE(double)
#undef FER_INSTANTIATE

}  // namespace cpu
}  // namespace fer
