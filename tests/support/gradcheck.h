// tests/support/gradcheck.h: central finite differences in double precision.
//
// For an op y = f(x) and a fixed random cotangent w, the scalar L(x) = sum_i w_i f(x)_i has
// dL/dx = backward(dy = w). check_gradient() compares that analytic gradient with
//   (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)
// for every element j, and fails with the worst element, both values and the tolerance.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace fer::test {

// Deterministic random vectors for tests.
inline std::vector<double> random_vector(size_t n, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

struct GradcheckReport {
  double max_abs_err = 0;
  double max_rel_err = 0;
  size_t worst = 0;
  double worst_analytic = 0;
  double worst_numeric = 0;
  bool ok = true;
};

// Perturbs x in place (restoring it) and evaluates loss() at x +/- eps.
// Pass when |a - n| <= atol + rtol * max(|a|, |n|) for every element.
inline GradcheckReport check_gradient(const std::string& what, std::vector<double>& x,
                                      const std::function<double()>& loss, const std::vector<double>& analytic,
                                      double eps = 1e-6, double atol = 1e-7, double rtol = 1e-5) {
  REQUIRE_MESSAGE(analytic.size() == x.size(), what << ": analytic gradient has " << analytic.size()
                                                   << " elements, input has " << x.size());
  GradcheckReport r;
  double worst_ratio = -1;
  for (size_t j = 0; j < x.size(); ++j) {
    const double saved = x[j];
    x[j] = saved + eps;
    const double lp = loss();
    x[j] = saved - eps;
    const double lm = loss();
    x[j] = saved;
    const double numeric = (lp - lm) / (2 * eps);
    const double err = std::fabs(numeric - analytic[j]);
    const double scale = std::max(std::fabs(numeric), std::fabs(analytic[j]));
    const double ratio = err / (atol + rtol * scale);
    r.max_abs_err = std::max(r.max_abs_err, err);
    if (scale > 0) r.max_rel_err = std::max(r.max_rel_err, err / scale);
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      r.worst = j;
      r.worst_analytic = analytic[j];
      r.worst_numeric = numeric;
    }
  }
  r.ok = worst_ratio <= 1.0;
  CHECK_MESSAGE(r.ok, what << ": gradient mismatch at element " << r.worst << ": analytic " << r.worst_analytic
                           << " vs numeric " << r.worst_numeric << " (max abs err " << r.max_abs_err
                           << ", max rel err " << r.max_rel_err << ", " << 100.0 * worst_ratio
                           << "% of threshold)");
  return r;
}

}  // namespace fer::test
