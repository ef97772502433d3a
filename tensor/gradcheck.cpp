// tensor/gradcheck.cpp: see gradcheck.h.
#include "tensor/gradcheck.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "kernels/philox.h"
#include "tensor/autograd.h"

namespace fer {

std::vector<GradcheckResult> gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                                       const GradcheckOptions& opt) {
  for (const Tensor& x : inputs)
    if (x.defined())
      FER_CHECK(x.dtype() == DType::f64 && x.device() == Device::cpu,
                "gradcheck: inputs must be f64 CPU tensors, got " << describe(x));
  // Analytic gradients through the tape, with a random cotangent w.
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) x.impl().grad.reset();
  Tensor y = f(inputs);
  std::vector<double> w(static_cast<size_t>(y.numel()));
  for (size_t i = 0; i < w.size(); ++i) w[i] = 2.0 * philox::uniform(opt.seed, 99, i) - 1.0;
  const Tensor wt = Tensor::from_vector(w, y.shape());
  y.backward(wt);

  auto loss = [&]() {
    NoGradGuard no_grad;
    const Tensor out = f(inputs);
    const double* p = out.data<double>();
    double s = 0;
    for (size_t i = 0; i < w.size(); ++i) s += w[i] * p[i];
    return s;
  };

  std::vector<GradcheckResult> results;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    GradcheckResult r;
    r.input = x.name().empty() ? "input " + std::to_string(k) : x.name();
    const Tensor g = x.grad();
    const int64_t n = opt.max_elements_per_input < 0 ? x.numel() : std::min(x.numel(), opt.max_elements_per_input);
    r.elements = n;
    double* px = x.data<double>();
    const double* pg = g.defined() ? g.data<double>() : nullptr;
    for (int64_t j = 0; j < n; ++j) {
      const double saved = px[j];
      px[j] = saved + opt.eps;
      const double lp = loss();
      px[j] = saved - opt.eps;
      const double lm = loss();
      px[j] = saved;
      const double numeric = (lp - lm) / (2 * opt.eps);
      const double analytic = pg ? pg[j] : 0.0;
      if (j < opt.record_elements) {
        r.analytic.push_back(analytic);
        r.numeric.push_back(numeric);
      }
      const double err = std::fabs(numeric - analytic);
      const double scale = std::max(std::fabs(numeric), std::fabs(analytic));
      const double ratio = err / (opt.atol + opt.rtol * scale);
      r.max_abs_err = std::max(r.max_abs_err, err);
      if (scale > 0) r.max_rel_err = std::max(r.max_rel_err, err / scale);
      if (ratio > r.worst_ratio || r.worst < 0) {
        r.worst_ratio = ratio;
        r.worst = j;
        r.worst_analytic = analytic;
        r.worst_numeric = numeric;
      }
    }
    r.ok = r.worst_ratio <= 1.0;
    results.push_back(r);
  }
  return results;
}

std::string format_gradcheck(const std::vector<GradcheckResult>& results) {
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "%-28s %9s %12s %12s %10s  %s\n", "input", "elements", "max abs err", "max rel err",
                "% of tol", "verdict");
  os << line;
  for (const auto& r : results) {
    std::snprintf(line, sizeof line, "%-28s %9lld %12.3e %12.3e %9.2f%%  %s", r.input.c_str(),
                  static_cast<long long>(r.elements), r.max_abs_err, r.max_rel_err, 100.0 * r.worst_ratio,
                  r.ok ? "PASS" : "FAIL");
    os << line;
    if (!r.ok) os << "  (element " << r.worst << ": analytic " << r.worst_analytic << ", numeric " << r.worst_numeric << ")";
    os << "\n";
  }
  return os.str();
}

}  // namespace fer
