// tools/common/reconstruction.cpp: see reconstruction.h.
#include "tools/common/reconstruction.h"

#include <algorithm>
#include <cmath>

#include "tensor/autograd.h"
#include "tensor/ops.h"

namespace fer::tools {

std::vector<double> reconstruction_errors(nn::Module& model, const data::DeviceImages& images,
                                          const std::vector<int64_t>& indices, const data::InputSpec& input,
                                          int64_t batch_size) {
  FER_CHECK(batch_size >= 1, "reconstruction_errors: batch size must be positive, got " << batch_size);
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<double> errors;
  errors.reserve(indices.size());
  for (size_t start = 0; start < indices.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(indices.size(), start + static_cast<size_t>(batch_size));
    const std::vector<int64_t> chunk(indices.begin() + static_cast<std::ptrdiff_t>(start),
                                     indices.begin() + static_cast<std::ptrdiff_t>(end));
    const data::Batch batch = data::make_batch(images, chunk, input);
    const Tensor out = model(batch.images);
    FER_CHECK(out.shape() == batch.images.shape(),
              "reconstruction error: the model returned " << describe(out) << " for the input "
                                                          << describe(batch.images)
                                                          << "; hint: only an autoencoder (a model whose output is "
                                                          << "the reconstruction of its input) has one");
    const auto e = ops::mse_loss(out, batch.images, ops::Reduction::per_sample).to(Device::cpu).to_dtype(DType::f64)
                       .to_vector<double>();  // to the host first: one transfer
    errors.insert(errors.end(), e.begin(), e.end());
  }
  model.train(was_training);
  return errors;
}

double percentile_linear(std::vector<double> values, double q) {
  FER_CHECK(!values.empty(), "percentile: no values");
  FER_CHECK(q >= 0.0 && q <= 100.0, "percentile: q must lie in [0, 100], got " << q);
  for (double v : values) FER_CHECK(std::isfinite(v), "percentile: a value is not finite (" << v << ")");
  std::sort(values.begin(), values.end());
  const double h = static_cast<double>(values.size() - 1) * q / 100.0;
  const size_t lo = std::min(values.size() - 1, static_cast<size_t>(std::floor(h)));
  const size_t hi = std::min(values.size() - 1, lo + 1);
  const double t = h - static_cast<double>(lo);
  // numpy's _lerp: a + (b - a) t, computed from the nearer end for t >= 0.5 (exact at t = 1)
  const double a = values[lo], b = values[hi];
  return t >= 0.5 ? b - (b - a) * (1.0 - t) : a + (b - a) * t;
}

}  // namespace fer::tools
