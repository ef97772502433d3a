// data/loader.cpp: see loader.h.
#include "data/loader.h"

#include "kernels/cast.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"
#include "tensor/ops.h"

namespace fer::data {

DeviceImages::DeviceImages(const Dataset& ds, Device device) {
  ds.validate();
  const int64_t n = ds.size();
  pixels = Tensor::from_vector(ds.pixels, {n, kImageSide, kImageSide}, device);
  labels = Tensor::from_vector(ds.labels, {n}, device);
}

namespace {
// uint8 -> float * scale (no autograd).
Tensor to_unit_float(const Tensor& u8) {
  Tensor out = Tensor::empty(u8.shape(), DType::f32, u8.device());
  const int64_t n = u8.numel();
  on_device(
      "to_unit_float", u8.device(),
      [&] { cpu::u8_to_float<float>(n, u8.data<uint8_t>(), 1.0f / 255.0f, 0.0f, out.data<float>()); },
      [&](cuda_stream s) { cuda::u8_to_float(n, u8.data<uint8_t>(), 1.0f / 255.0f, 0.0f, out.data<float>(), s); });
  return out;
}
}  // namespace

Batch make_batch(const DeviceImages& images, const std::vector<int64_t>& indices, const InputSpec& input) {
  FER_CHECK(!indices.empty(), "make_batch: empty batch");
  FER_CHECK(input.channels >= 1 && input.size >= 1, "make_batch: bad input spec " << input.channels << "x" << input.size);
  NoGradGuard no_grad;
  const int64_t b = static_cast<int64_t>(indices.size());
  std::vector<int32_t> idx32(indices.begin(), indices.end());
  for (int64_t i : indices)
    FER_CHECK(i >= 0 && i < images.size(), "make_batch: index " << i << " outside the dataset of " << images.size());
  const Tensor idx = Tensor::from_vector(idx32, {b}, images.pixels.device());
  Batch batch;
  batch.indices = indices;
  batch.labels = ops::index_select_rows(images.labels, idx);
  Tensor x = to_unit_float(ops::index_select_rows(images.pixels, idx)).reshape({b, 1, kImageSide, kImageSide});
  if (input.size != kImageSide) x = ops::upsample_bilinear2d(x, input.size, input.size);
  if (input.channels > 1) x = ops::concat(std::vector<Tensor>(static_cast<size_t>(input.channels), x), 1);
  batch.images = x;
  return batch;
}

}  // namespace fer::data
