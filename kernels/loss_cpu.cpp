// kernels/loss_cpu.cpp: CPU twin of the losses (math in loss.h, derivations in
// kernels/notes/softmax_xent.md).
//
// Rows are independent, so the per-row work (log-sum-exp, row loss, gradient row) runs under
// OpenMP; the row losses land in an [N] buffer and are summed serially in row order, so the
// result does not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/loss.h"

namespace fer {

void check_class_loss_args(const char* op, int64_t n, int64_t k) {
  FER_CHECK(n >= 1 && k >= 1, op << ": logits must be [N,K] with N >= 1 and K >= 1, got N=" << n << ", K=" << k
                                 << "; hint: an empty batch has no mean loss");
}

void check_labels(const char* op, int64_t n, int64_t k, const int32_t* host_labels) {
  for (int64_t i = 0; i < n; ++i) {
    FER_CHECK(host_labels[i] >= 0 && host_labels[i] < k,
              op << ": label " << host_labels[i] << " at row " << i << " is outside [0, " << k << ") (N=" << n
                 << ", K=" << k << "); hint: labels are class indices 0..K-1");
  }
}

void check_label_smoothing(const char* op, double label_smoothing) {
  FER_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
            op << ": label_smoothing must be in [0, 1], got " << label_smoothing);
}

void check_focal_gamma(const char* op, double gamma) {
  FER_CHECK(gamma >= 0.0 && std::isfinite(gamma), op << ": focal gamma must be finite and >= 0, got " << gamma);
}

void check_mse_args(const char* op, int64_t n, int64_t d) {
  FER_CHECK(n >= 1 && d >= 1, op << ": inputs must be [N,D] with N >= 1 and D >= 1, got N=" << n << ", D=" << d);
}

namespace cpu {

namespace {

// The stable log-sum-exp of one row, kept in pieces: m = max_c z_c, s = sum_c exp(z_c - m).
// Then -log p_c = log s - (z_c - m) and p_c = exp(z_c - m) / s. Forming z_c - m first keeps full
// precision when |m| is large (m + log s would be rounded at the magnitude of m).
template <typename T>
struct RowStats {
  T m, log_s, inv_s;
};
template <typename T>
RowStats<T> row_stats(const T* z, int64_t k) {
  T m = z[0];
  for (int64_t c = 1; c < k; ++c) m = std::max(m, z[c]);
  T s = 0;
  for (int64_t c = 0; c < k; ++c) s += std::exp(z[c] - m);
  return {m, std::log(s), T(1) / s};
}

// W = sum_i w_{y_i} (N when unweighted), summed in row order.
template <typename T>
T label_weight_sum(int64_t n, const int32_t* labels, const T* w) {
  T total = 0;
  for (int64_t i = 0; i < n; ++i) total += w ? w[labels[i]] : T(1);
  return total;
}

template <typename T>
T sum_in_order(const std::vector<T>& v) {
  T total = 0;
  for (const T x : v) total += x;
  return total;
}

}  // namespace

// Fused weighted, label-smoothed cross-entropy (PyTorch semantics, see loss.h):
//   l_i = (1-eps) w_{y_i} (-log p_{i,y_i}) + (eps/K) sum_c w_c (-log p_ic),   loss = sum_i l_i / W
//   dlogits_ic = (a_i p_ic - (1-eps) w_{y_i} [c==y_i] - (eps/K) w_c) / W
// One pass per row: statistics, row loss, gradient row.
template <typename T>
void softmax_cross_entropy(int64_t n, int64_t k, const T* logits, const int32_t* labels, const T* w, T eps, T* loss,
                           T* per_sample, T* dlogits) {
  check_class_loss_args("softmax_cross_entropy", n, k);
  check_label_smoothing("softmax_cross_entropy", eps);
  check_labels("softmax_cross_entropy", n, k, labels);
  FER_CHECK(loss != nullptr, "softmax_cross_entropy: the loss output is required (N=" << n << ", K=" << k << ")");
  const T W = label_weight_sum(n, labels, w);  // the normalizer
  T S = 0;                                     // sum_c w_c (K when unweighted)
  for (int64_t c = 0; c < k; ++c) S += w ? w[c] : T(1);
  const T c_smooth = eps / T(k);
  std::vector<T> row_loss(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) if (n * k > 16384)
  for (int64_t i = 0; i < n; ++i) {
    const T* z = logits + i * k;
    const int32_t y = labels[i];
    const RowStats<T> st = row_stats(z, k);
    const T c_label = (T(1) - eps) * (w ? w[y] : T(1));
    // l_i = (1-eps) w_y (-log p_y) + (eps/K) sum_c w_c (-log p_c),  -log p_c = log s - (z_c - m)
    T l = c_label * (st.log_s - (z[y] - st.m));
    if (eps > T(0)) {
      T smooth = 0;
      for (int64_t c = 0; c < k; ++c) smooth += (w ? w[c] : T(1)) * (st.log_s - (z[c] - st.m));
      l += c_smooth * smooth;
    }
    row_loss[i] = l;
    if (per_sample) per_sample[i] = l;
    if (dlogits) {
      // dl/dz_ic / W
      const T a = c_label + c_smooth * S;
      for (int64_t c = 0; c < k; ++c) {
        const T p = std::exp(z[c] - st.m) * st.inv_s;
        dlogits[i * k + c] = loss::xent_grad_numerator(p, c == y, a, c_label, c_smooth * (w ? w[c] : T(1))) / W;
      }
    }
  }
  *loss = sum_in_order(row_loss) / W;
}

// l_i = w_{y_i} (-logp_{i,y_i}), loss = sum_i l_i / W: a gather per row, summed in row order.
template <typename T>
void nll_loss_forward(int64_t n, int64_t k, const T* logp, const int32_t* labels, const T* w, T* loss,
                      T* per_sample) {
  check_class_loss_args("nll_loss_forward", n, k);
  check_labels("nll_loss_forward", n, k, labels);
  FER_CHECK(loss != nullptr, "nll_loss_forward: the loss output is required (N=" << n << ", K=" << k << ")");
  T total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t y = labels[i];
    const T l = (w ? w[y] : T(1)) * -logp[i * k + y];  // l_i = w_y * (-log p_{i,y})
    if (per_sample) per_sample[i] = l;
    total += l;
  }
  *loss = total / label_weight_sum(n, labels, w);
}

// NLL is linear in logp: only the label entry of each row has a nonzero gradient.
template <typename T>
void nll_loss_backward(int64_t n, int64_t k, const int32_t* labels, const T* w, const T* dloss, T* dlogp) {
  check_class_loss_args("nll_loss_backward", n, k);
  check_labels("nll_loss_backward", n, k, labels);
  const T W = label_weight_sum(n, labels, w);
  const T g = dloss ? *dloss : T(1);
  std::fill(dlogp, dlogp + n * k, T(0));  // only the label entries depend on logp
  for (int64_t i = 0; i < n; ++i) {
    const int32_t y = labels[i];
    dlogp[i * k + y] = -(w ? w[y] : T(1)) * g / W;
  }
}

// Squared errors summed per row (in parallel), then either one mean over N*D (rows added in
// order) or one mean per row.
template <typename T>
void mse_loss_forward(MseReduction reduction, int64_t n, int64_t d, const T* x, const T* target, T* out) {
  check_mse_args("mse_loss_forward", n, d);
  std::vector<T> row_sum(static_cast<size_t>(n));  // sum_j (x_ij - t_ij)^2
#pragma omp parallel for schedule(static) if (n * d > 65536)
  for (int64_t i = 0; i < n; ++i) {
    T s = 0;
    for (int64_t j = 0; j < d; ++j) {
      const T e = x[i * d + j] - target[i * d + j];
      s += e * e;
    }
    row_sum[i] = s;
  }
  if (reduction == MseReduction::mean) {
    out[0] = sum_in_order(row_sum) / T(n * d);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = row_sum[i] / T(d);
  }
}

// d/dx of (x - t)^2 / count is 2 (x - t) / count, scaled by the upstream gradient of the loss
// value the element belongs to (the one scalar for mean, its row's for per_sample).
template <typename T>
void mse_loss_backward(MseReduction reduction, int64_t n, int64_t d, const T* x, const T* target, const T* dloss,
                       T* dx) {
  check_mse_args("mse_loss_backward", n, d);
  const bool mean = reduction == MseReduction::mean;
  const T count = mean ? T(n * d) : T(d);  // elements behind each loss value
#pragma omp parallel for schedule(static) if (n * d > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const T g = dloss ? dloss[mean ? 0 : i] : T(1);
    for (int64_t j = 0; j < d; ++j) dx[i * d + j] = T(2) * (x[i * d + j] - target[i * d + j]) / count * g;
  }
}

// Focal loss, fused like cross-entropy: per row p_t (through q = 1 - p_t), the row loss
// alpha_t q^gamma (-log p_t) and the gradient row coef (p_c - [c==y]) / A (loss::focal_terms).
template <typename T>
void focal_loss(int64_t n, int64_t k, const T* logits, const int32_t* labels, const T* alpha, T gamma, T* loss,
                T* per_sample, T* dlogits) {
  check_class_loss_args("focal_loss", n, k);
  check_focal_gamma("focal_loss", gamma);
  check_labels("focal_loss", n, k, labels);
  FER_CHECK(loss != nullptr, "focal_loss: the loss output is required (N=" << n << ", K=" << k << ")");
  const T A = label_weight_sum(n, labels, alpha);  // the normalizer (N without alpha)
  std::vector<T> row_loss(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) if (n * k > 16384)
  for (int64_t i = 0; i < n; ++i) {
    const T* z = logits + i * k;
    const int32_t y = labels[i];
    const RowStats<T> st = row_stats(z, k);
    T q = 0;  // 1 - p_t as the sum of the other probabilities (no cancellation near p_t = 1)
    for (int64_t c = 0; c < k; ++c)
      if (c != y) q += std::exp(z[c] - st.m) * st.inv_s;
    T l, coef;
    loss::focal_terms((z[y] - st.m) - st.log_s, q, gamma, alpha ? alpha[y] : T(1), &l, &coef);
    row_loss[i] = l;
    if (per_sample) per_sample[i] = l;
    if (dlogits) {
      for (int64_t c = 0; c < k; ++c) {
        const T p = std::exp(z[c] - st.m) * st.inv_s;
        dlogits[i * k + c] = coef * (p - (c == y ? T(1) : T(0))) / A;
      }
    }
  }
  *loss = sum_in_order(row_loss) / A;
}

#define FER_LOSS_INSTANTIATE(T)                                                                                 \
  template void softmax_cross_entropy<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T, T*, T*, T*);  \
  template void nll_loss_forward<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T*, T*);              \
  template void nll_loss_backward<T>(int64_t, int64_t, const int32_t*, const T*, const T*, T*);                 \
  template void mse_loss_forward<T>(MseReduction, int64_t, int64_t, const T*, const T*, T*);                    \
  template void mse_loss_backward<T>(MseReduction, int64_t, int64_t, const T*, const T*, const T*, T*);         \
  template void focal_loss<T>(int64_t, int64_t, const T*, const int32_t*, const T*, T, T*, T*, T*);
FER_LOSS_INSTANTIATE(float)
FER_LOSS_INSTANTIATE(double)
#undef FER_LOSS_INSTANTIATE

}  // namespace cpu
}  // namespace fer
