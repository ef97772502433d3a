// kernels/layernorm_cpu.cpp: the CPU twin of layer normalisation (see layernorm.h for the math).
#include <cmath>

#include "kernels/layernorm.h"

namespace fer {

void check_layernorm(const char* op, const LayerNormDims& d) {
  FER_CHECK(d.rows >= 0 && d.dim >= 1, op << ": bad shape rows=" << d.rows << " dim=" << d.dim);
}

namespace cpu {

template <typename T>
void layernorm_forward(const LayerNormDims& d, const T* x, const T* gamma, const T* beta, double eps, T* y,
                       T* save_mean, T* save_invstd) {
  check_layernorm("layernorm_forward", d);
  const double n = static_cast<double>(d.dim);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < d.rows; ++r) {
    const T* xr = x + r * d.dim;
    T* yr = y + r * d.dim;
    double sum = 0;
    for (int64_t j = 0; j < d.dim; ++j) sum += static_cast<double>(xr[j]);
    const double mean = sum / n;
    double sq = 0;
    for (int64_t j = 0; j < d.dim; ++j) {
      const double dev = static_cast<double>(xr[j]) - mean;
      sq += dev * dev;
    }
    const double invstd = 1.0 / std::sqrt(sq / n + eps);
    for (int64_t j = 0; j < d.dim; ++j) {
      const double xhat = (static_cast<double>(xr[j]) - mean) * invstd;
      yr[j] = static_cast<T>(xhat * (gamma ? static_cast<double>(gamma[j]) : 1.0) +
                             (beta ? static_cast<double>(beta[j]) : 0.0));
    }
    if (save_mean) save_mean[r] = static_cast<T>(mean);
    if (save_invstd) save_invstd[r] = static_cast<T>(invstd);
  }
}

template <typename T>
void layernorm_backward(const LayerNormDims& d, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  check_layernorm("layernorm_backward", d);
  const double n = static_cast<double>(d.dim);
  if (dx) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < d.rows; ++r) {
      const T* xr = x + r * d.dim;
      const T* gr = dy + r * d.dim;
      const double mean = static_cast<double>(save_mean[r]), invstd = static_cast<double>(save_invstd[r]);
      double sum_g = 0, sum_g_xhat = 0;
      for (int64_t j = 0; j < d.dim; ++j) {
        const double g = static_cast<double>(gr[j]) * (gamma ? static_cast<double>(gamma[j]) : 1.0);
        sum_g += g;
        sum_g_xhat += g * (static_cast<double>(xr[j]) - mean) * invstd;
      }
      for (int64_t j = 0; j < d.dim; ++j) {
        const double g = static_cast<double>(gr[j]) * (gamma ? static_cast<double>(gamma[j]) : 1.0);
        const double xhat = (static_cast<double>(xr[j]) - mean) * invstd;
        dx[r * d.dim + j] = static_cast<T>(invstd / n * (n * g - sum_g - xhat * sum_g_xhat));
      }
    }
  }
  if (dgamma || dbeta) {
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < d.dim; ++j) {
      double sg = 0, sb = 0;
      for (int64_t r = 0; r < d.rows; ++r) {
        const double g = static_cast<double>(dy[r * d.dim + j]);
        sb += g;
        sg += g * (static_cast<double>(x[r * d.dim + j]) - static_cast<double>(save_mean[r])) *
              static_cast<double>(save_invstd[r]);
      }
      if (dgamma) dgamma[j] = static_cast<T>(sg);
      if (dbeta) dbeta[j] = static_cast<T>(sb);
    }
  }
}

template void layernorm_forward<float>(const LayerNormDims&, const float*, const float*, const float*, double, float*,
                                       float*, float*);
template void layernorm_forward<double>(const LayerNormDims&, const double*, const double*, const double*, double,
                                        double*, double*, double*);
template void layernorm_backward<float>(const LayerNormDims&, const float*, const float*, const float*, const float*,
                                        const float*, float*, float*, float*);
template void layernorm_backward<double>(const LayerNormDims&, const double*, const double*, const double*,
                                         const double*, const double*, double*, double*, double*);

}  // namespace cpu
}  // namespace fer
