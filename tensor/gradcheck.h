// tensor/gradcheck.h: finite-difference gradient checks of tensor functions (ops, layers, small
// models) in double precision on the CPU. Used by the tests and by the fergradcheck program.
//
// For y = f(x_1, ..., x_k) and a fixed random cotangent w (same shape as y), the scalar
// L = sum(w * y) has dL/dx_j = the gradient autograd computes from y.backward(w). Each element of
// each input is perturbed by +-eps and (L(x+eps) - L(x-eps)) / (2 eps) is compared with it:
// pass when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace fer {

struct GradcheckResult {
  std::string input;      // name of the input (tensor name, or "input <i>")
  int64_t elements = 0;
  double max_abs_err = 0;
  double max_rel_err = 0;
  int64_t worst = -1;     // element with the largest error relative to the threshold
  double worst_analytic = 0, worst_numeric = 0;
  double worst_ratio = 0;  // error / threshold at the worst element (<= 1 passes)
  bool ok = true;
  std::vector<double> analytic, numeric;  // the first GradcheckOptions::record_elements elements
};

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
  uint64_t seed = 1;
  int64_t max_elements_per_input = -1;  // check only the first N elements of large inputs (-1: all)
  int64_t record_elements = 0;          // keep analytic/numeric values of the first N (fergradcheck --show)
};

using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;

// `inputs` must be CPU f64 tensors; those with requires_grad() are checked.
std::vector<GradcheckResult> gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                                       const GradcheckOptions& options = {});

// One line per input: name, elements, max abs/rel error, % of threshold, PASS/FAIL.
std::string format_gradcheck(const std::vector<GradcheckResult>& results);

}  // namespace fer
