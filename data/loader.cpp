// data/loader.cpp: see loader.h.
#include "data/loader.h"

#include "kernels/augment.h"
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

Batch make_batch(const DeviceImages& images, const std::vector<int64_t>& indices, const InputSpec& input,
                 const AugmentOptions& augment) {
  FER_CHECK(!indices.empty(), "make_batch: empty batch");
  FER_CHECK(input.channels == 1 || input.channels == 3,
            "make_batch: augmentation makes 1 or 3 channels, the input spec asks for " << input.channels);
  FER_CHECK(input.size >= 1, "make_batch: bad input size " << input.size);
  NoGradGuard no_grad;
  const int64_t b = static_cast<int64_t>(indices.size());
  const Device dev = images.pixels.device();
  std::vector<int32_t> idx32(indices.begin(), indices.end());
  std::vector<int64_t> keys(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    FER_CHECK(indices[i] >= 0 && indices[i] < images.size(),
              "make_batch: index " << indices[i] << " outside the dataset of " << images.size());
    keys[i] = static_cast<int64_t>(augment_key(augment.epoch, indices[i]));  // < 2^63: the tag is 0x4147 << 48
  }
  const Tensor idx = Tensor::from_vector(idx32, {b}, dev);
  const Tensor key_t = Tensor::from_vector(keys, {b}, dev);
  Batch batch;
  batch.indices = indices;
  batch.labels = ops::index_select_rows(images.labels, idx);
  const Tensor px = ops::index_select_rows(images.pixels, idx);  // u8 [B, 48, 48]
  Tensor out = Tensor::empty({b, input.channels, input.size, input.size}, DType::f32, dev);
  const auto* k = reinterpret_cast<const uint64_t*>(key_t.data<int64_t>());
  const AugmentOptions& a = augment;
  on_device(
      "make_batch(augment)", dev,
      [&] {
        cpu::augment_batch<float>(a.spec, b, px.data<uint8_t>(), kImageSide, kImageSide, k, a.seed, input.channels,
                                  input.size, input.size, a.mean, a.std, out.data<float>());
      },
      [&](cuda_stream s) {
        cuda::augment_batch(a.spec, b, px.data<uint8_t>(), kImageSide, kImageSide, k, a.seed, input.channels,
                            input.size, input.size, a.mean, a.std, out.data<float>(), s);
      });
  batch.images = out;
  return batch;
}

Batch make_ten_crop_batch(const DeviceImages& images, const std::vector<int64_t>& indices, const InputSpec& input,
                          const AugmentOptions& augment) {
  FER_CHECK(input.size < kImageSide, "make_ten_crop_batch: ten-crop training needs a model input smaller than "
                                         << kImageSide << "x" << kImageSide << ", got " << input.size << "x" << input.size);
  NoGradGuard no_grad;
  AugmentOptions whole = augment;  // the erasing happens per crop, below
  whole.spec.erase_p = 0.0;
  const Batch full = make_batch(images, indices, {input.channels, kImageSide}, whole);
  const int64_t b = static_cast<int64_t>(indices.size()), c = input.channels, s = input.size;
  const Device dev = images.pixels.device();
  Tensor crops = Tensor::empty({b * 10, c, s, s}, DType::f32, dev);
  std::vector<int64_t> keys(static_cast<size_t>(b * 10)), rep_indices(static_cast<size_t>(b * 10));
  for (int64_t i = 0; i < b * 10; ++i) {
    rep_indices[static_cast<size_t>(i)] = indices[static_cast<size_t>(i / 10)];
    // < 2^63: the tag is at most "E9" = 0x4539 << 48
    keys[static_cast<size_t>(i)] =
        static_cast<int64_t>(ten_crop_erase_key(augment.epoch, rep_indices[static_cast<size_t>(i)], static_cast<int>(i % 10)));
  }
  const Tensor key_t = Tensor::from_vector(keys, {b * 10}, dev);
  const auto* k = reinterpret_cast<const uint64_t*>(key_t.data<int64_t>());
  const AugmentSpec& spec = augment.spec;
  const uint64_t seed = augment.seed;
  on_device(
      "make_ten_crop_batch", dev,
      [&] {
        cpu::ten_crop<float>(b, c, kImageSide, kImageSide, full.images.data<float>(), s, s, crops.data<float>());
        if (spec.erase_p > 0.0) cpu::random_erase<float>(spec, b * 10, c, s, s, k, seed, crops.data<float>());
      },
      [&](cuda_stream st) {
        cuda::ten_crop(b, c, kImageSide, kImageSide, full.images.data<float>(), s, s, crops.data<float>(), st);
        if (spec.erase_p > 0.0) cuda::random_erase(spec, b * 10, c, s, s, k, seed, crops.data<float>(), st);
      });
  // the labels, each repeated for its ten crops, gathered on the device (no copy back to the host)
  std::vector<int32_t> rep_idx32(rep_indices.begin(), rep_indices.end());
  Batch batch;
  batch.images = crops;
  batch.labels = ops::index_select_rows(images.labels, Tensor::from_vector(rep_idx32, {b * 10}, dev));
  batch.indices = rep_indices;
  return batch;
}

}  // namespace fer::data
