// kernels/layernorm_cpu.cpp: CPU twin of layer normalisation (see layernorm.h for the math).
//
// Rows are independent: the forward and dx run an OpenMP loop over rows, each row contiguous.
// dgamma / dbeta are sums over rows for each column j: an OpenMP loop over blocks of kColBlock
// columns, each walking all rows in order over its contiguous slice (cache friendly, and every
// column is summed by one thread in row order: deterministic). Accumulation is in double.
#include <cmath>

#include "kernels/layernorm.h"

namespace fer {

void check_layernorm(const char* op, const LayerNormDims& d) {
  FER_CHECK(d.rows >= 1 && d.dim >= 1, op << ": shape [rows, dim] = [" << d.rows << "," << d.dim
                                          << "] must be positive; hint: layer norm normalises the last dimension");
}

namespace cpu {

template <typename T>
void layernorm_forward(const LayerNormDims& d, const T* x, const T* gamma, const T* beta, double eps, T* y,
                       T* save_mean, T* save_invstd) {
  const char* op = "layernorm_forward";
  check_layernorm(op, d);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr, op << ": save_mean and save_invstd are required");
  FER_CHECK(eps >= 0 && std::isfinite(eps), op << ": eps must be finite and >= 0, got " << eps);
  const int64_t D = d.dim;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < d.rows; ++r) {
    const T* xr = x + r * D;
    double sum = 0;
    for (int64_t j = 0; j < D; ++j) sum += double(xr[j]);
    const double mean = sum / double(D);
    double sq = 0;  // two-pass variance
    for (int64_t j = 0; j < D; ++j) {
      const double t = double(xr[j]) - mean;
      sq += t * t;
    }
    const double invstd = 1.0 / std::sqrt(sq / double(D) + eps);
    save_mean[r] = T(mean);
    save_invstd[r] = T(invstd);
    T* yr = y + r * D;
    for (int64_t j = 0; j < D; ++j) {
      const double g = gamma ? double(gamma[j]) : 1.0, b = beta ? double(beta[j]) : 0.0;
      yr[j] = T((double(xr[j]) - mean) * invstd * g + b);
    }
  }
}

template <typename T>
void layernorm_backward(const LayerNormDims& d, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const char* op = "layernorm_backward";
  check_layernorm(op, d);
  FER_CHECK(save_mean != nullptr && save_invstd != nullptr, op << ": save_mean and save_invstd are required");
  const int64_t D = d.dim;
  if (dx) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < d.rows; ++r) {
      const T* xr = x + r * D;
      const T* dyr = dy + r * D;
      const double mean = double(save_mean[r]), invstd = double(save_invstd[r]);
      double s1 = 0, s2 = 0;  // sum dy_hat, sum dy_hat * x_hat
      for (int64_t j = 0; j < D; ++j) {
        const double dyh = double(dyr[j]) * (gamma ? double(gamma[j]) : 1.0);
        s1 += dyh;
        s2 += dyh * (double(xr[j]) - mean) * invstd;
      }
      const double m1 = s1 / double(D), m2 = s2 / double(D);
      T* dxr = dx + r * D;
      for (int64_t j = 0; j < D; ++j) {
        const double dyh = double(dyr[j]) * (gamma ? double(gamma[j]) : 1.0);
        const double xh = (double(xr[j]) - mean) * invstd;
        dxr[j] = T(invstd * (dyh - m1 - xh * m2));
      }
    }
  }
  if (dgamma || dbeta) {
    constexpr int64_t kColBlock = 64;
    const int64_t blocks = (D + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t j0 = blk * kColBlock, j1 = j0 + kColBlock < D ? j0 + kColBlock : D;
      double sg[kColBlock] = {}, sb[kColBlock] = {};
      for (int64_t r = 0; r < d.rows; ++r) {  // rows in order: a fixed summation order per column
        const double mean = double(save_mean[r]), invstd = double(save_invstd[r]);
        for (int64_t j = j0; j < j1; ++j) {
          const double g = double(dy[r * D + j]);
          sb[j - j0] += g;
          sg[j - j0] += g * (double(x[r * D + j]) - mean) * invstd;
        }
      }
      for (int64_t j = j0; j < j1; ++j) {
        if (dgamma) dgamma[j] = T(sg[j - j0]);
        if (dbeta) dbeta[j] = T(sb[j - j0]);
      }
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
