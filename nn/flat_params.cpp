// nn/flat_params.cpp: see flat_params.h.
#include "nn/flat_params.h"

namespace fer::nn {

namespace {
// Makes `t` (and every handle sharing its impl) a view of `flat` starting at `offset`.
void repoint(Tensor& t, const Tensor& flat, int64_t offset) {
  t.impl().storage = flat.impl().storage;
  t.impl().offset = flat.impl().offset + offset;
}
}  // namespace

FlatParameters::FlatParameters(Module& model) {
  const auto named = model.named_parameters();
  FER_CHECK(!named.empty(), "FlatParameters: the model has no parameters");
  const Device device = named.front().second.device();
  const DType dtype = named.front().second.dtype();
  int64_t total = 0;
  for (const auto& [name, p] : named) {
    FER_CHECK(p.device() == device && p.dtype() == dtype,
              "FlatParameters: parameter " << name << " is " << describe(p) << " but the first one is "
                                           << dtype_name(dtype) << " on " << device_name(device)
                                           << "; hint: move the whole model with to() first");
    entries_.push_back({name, p, total, p.numel()});
    total += p.numel();
  }
  values_ = Tensor::empty({total}, dtype, device);
  grads_ = Tensor::zeros({total}, dtype, device);
  for (Entry& e : entries_) {
    Tensor view = values_.narrow_rows(e.offset, e.count).reshape(e.param.shape());
    view.copy_from(e.param);
    repoint(e.param, values_, e.offset);
    Tensor g = grads_.narrow_rows(e.offset, e.count).reshape(e.param.shape());
    e.param.impl().grad = g.impl_ptr();
  }
}

std::vector<std::pair<int64_t, int64_t>> FlatParameters::trainable_runs() const {
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (const Entry& e : entries_) {
    if (!e.param.requires_grad()) continue;
    if (!runs.empty() && runs.back().first + runs.back().second == e.offset) runs.back().second += e.count;
    else runs.emplace_back(e.offset, e.count);
  }
  return runs;
}

}  // namespace fer::nn
