// CUDA vs CPU parity for augmentation and ten-crop. Parameters drawn on the GPU must equal the CPU's
// bit for bit (same Philox integers, same correctly rounded arithmetic). Augmented pixels: both sides
// run the same explicitly rounded float formula, so they should match exactly; the check allows
// 1e-4 (absolute, on normalised values of order 1). Ten-crop is a gather: tolerance 0.
// GPU outputs are pre-filled with NaN (DeviceArray), CPU outputs with -7.77e7.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "data/loader.h"
#include "data/synthetic.h"
#include "kernels/augment.h"
#include "kernels/device.h"
#include "tests/support/parity.h"

using namespace fer;

namespace {

std::vector<uint8_t> random_images(int64_t n, uint64_t seed) {
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(philox::random_u32(seed, 77, uint64_t(i)) & 255u);
  return v;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

bool same_params(const AugmentParams& a, const AugmentParams& b) {
  return a.flip == b.flip && a.erase == b.erase && same_bits(a.angle_deg, b.angle_deg) && same_bits(a.cos_a, b.cos_a) &&
         same_bits(a.sin_a, b.sin_a) && same_bits(a.tx, b.tx) && same_bits(a.ty, b.ty) && same_bits(a.zoom, b.zoom) &&
         same_bits(a.crop_x, b.crop_x) && same_bits(a.crop_y, b.crop_y) && same_bits(a.crop_w, b.crop_w) &&
         same_bits(a.crop_h, b.crop_h) && same_bits(a.brightness, b.brightness) &&
         same_bits(a.contrast, b.contrast) && same_bits(a.erase_x, b.erase_x) && same_bits(a.erase_y, b.erase_y) &&
         same_bits(a.erase_w, b.erase_w) && same_bits(a.erase_h, b.erase_h);
}

std::vector<uint64_t> make_keys(int64_t batch, int64_t epoch) {
  std::vector<uint64_t> keys;
  for (int64_t b = 0; b < batch; ++b) keys.push_back(augment_key(epoch, 1000 + 37 * b));
  return keys;
}

}  // namespace

TEST_CASE("augment cuda == cpu: parameters drawn bit-identically for every preset") {
  cuda_stream s = cuda::default_stream();
  const int64_t batch = 777;
  const auto keys = make_keys(batch, 5);
  test::DeviceBuffer<uint64_t> d_keys(keys);
  for (const std::string& name : augment_preset_names()) {
    CAPTURE(name);
    const AugmentSpec spec = augment_preset(name);
    std::vector<AugmentParams> cpu_p(batch);
    cpu::draw_augment_params_batch(spec, batch, keys.data(), 1234, cpu_p.data());
    test::DeviceBuffer<AugmentParams> d_p(static_cast<size_t>(batch));
    cuda::draw_augment_params_batch(spec, batch, d_keys.get(), 1234, d_p.get(), s);
    const auto gpu_p = d_p.download();
    int64_t bad = 0;
    for (int64_t b = 0; b < batch; ++b) bad += !same_params(cpu_p[b], gpu_p[b]);
    CHECK_MESSAGE(bad == 0, bad << " of " << batch << " images drew different parameters");
  }
}

TEST_CASE("augment cuda == cpu: outputs within 1e-4 on random images, every preset, odd sizes") {
  cuda_stream s = cuda::default_stream();
  struct Case {
    int64_t batch, in_h, in_w, out_c, out_h, out_w;
  };
  const Case cases[] = {{64, 48, 48, 1, 48, 48}, {5, 48, 48, 3, 224, 224}, {7, 48, 48, 1, 40, 40},
                        {3, 13, 29, 3, 17, 61}, {1, 1, 1, 1, 3, 5}};
  for (const Case& c : cases) {
    const auto imgs = random_images(c.batch * c.in_h * c.in_w, uint64_t(c.batch * 131 + c.out_w));
    const auto keys = make_keys(c.batch, 2);
    test::DeviceBuffer<uint8_t> d_imgs(imgs);
    test::DeviceBuffer<uint64_t> d_keys(keys);
    for (const std::string& name : augment_preset_names()) {
      CAPTURE(name);
      CAPTURE(c.batch);
      CAPTURE(c.out_h);
      CAPTURE(c.out_w);
      AugmentSpec spec = augment_preset(name);
      if (name == "strong") spec.noise_std = 0.05;  // noise exercised on both sides too
      const size_t n = static_cast<size_t>(c.batch * c.out_c * c.out_h * c.out_w);
      auto cpu_out = test::cpu_output(n);
      cpu::augment_batch<float>(spec, c.batch, imgs.data(), c.in_h, c.in_w, keys.data(), 99, c.out_c, c.out_h,
                                c.out_w, 0.5f, 0.25f, cpu_out.data());
      test::DeviceArray d_out(n);
      cuda::augment_batch(spec, c.batch, d_imgs.get(), c.in_h, c.in_w, d_keys.get(), 99, c.out_c, c.out_h, c.out_w,
                          0.5f, 0.25f, d_out.get(), s);
      test::expect_close("augment " + name, d_out.download(), cpu_out, 1e-4, 0.0);
    }
  }
}

TEST_CASE("ten_crop cuda == cpu: identical gather") {
  cuda_stream s = cuda::default_stream();
  for (auto [b, c, h, w, ch, cw] : {std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>{64, 1, 48, 48, 40, 40},
                                    {3, 3, 7, 6, 4, 3}, {1, 2, 5, 5, 5, 5}}) {
    std::vector<float> x(static_cast<size_t>(b * c * h * w));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 1013) * 0.5f;
    const size_t n = static_cast<size_t>(b * 10 * c * ch * cw);
    auto cpu_y = test::cpu_output(n);
    cpu::ten_crop<float>(b, c, h, w, x.data(), ch, cw, cpu_y.data());
    test::DeviceArray d_x(x), d_y(n);
    cuda::ten_crop(b, c, h, w, d_x.get(), ch, cw, d_y.get(), s);
    test::expect_close("ten_crop", d_y.download(), cpu_y, 0.0, 0.0);
  }
}

TEST_CASE("random_erase cuda == cpu: the same boxes, odd sizes") {
  cuda_stream s = cuda::default_stream();
  AugmentSpec spec = augment_preset("usefkh");
  spec.erase_p = 0.7;
  spec.erase_value = -1.5;
  for (auto [b, c, h, w] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{640, 1, 40, 40}, {13, 3, 7, 11}, {1, 2, 5, 5}}) {
    std::vector<uint64_t> keys;
    for (int64_t i = 0; i < b; ++i) keys.push_back(ten_crop_erase_key(2, 7 + i / 10, static_cast<int>(i % 10)));
    std::vector<float> x(static_cast<size_t>(b * c * h * w));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 977) * 0.25f;
    std::vector<float> cpu_x = x;
    cpu::random_erase<float>(spec, b, c, h, w, keys.data(), 31, cpu_x.data());
    CHECK(cpu_x != x);  // something was erased
    test::DeviceArray d_x(x);
    test::DeviceBuffer<uint64_t> d_keys(keys);
    cuda::random_erase(spec, b, c, h, w, d_keys.get(), 31, d_x.get(), s);
    test::expect_close("random_erase", d_x.download(), cpu_x, 0.0, 0.0);
  }
}

TEST_CASE("data batches cuda == cpu: make_batch (plain, augmented) and make_ten_crop_batch, labels on the device") {
  const data::Dataset ds = data::make_synthetic_faces(40, 5);
  const data::DeviceImages host(ds, Device::cpu), dev(ds, Device::cuda);
  const std::vector<int64_t> idx = {3, 17, 0, 39, 8, 8, 21};
  data::AugmentOptions a;
  a.spec = augment_preset("usefkh"), a.epoch = 2, a.seed = 13;
  const data::Batch plain_c = data::make_batch(host, idx, {3, 64}), plain_g = data::make_batch(dev, idx, {3, 64});
  test::expect_close("make_batch", plain_g.images.to_vector<float>(), plain_c.images.to_vector<float>(), 1e-6, 0.0);
  CHECK(plain_g.labels.to_vector<int32_t>() == plain_c.labels.to_vector<int32_t>());
  const data::Batch aug_c = data::make_batch(host, idx, {1, 48}, a), aug_g = data::make_batch(dev, idx, {1, 48}, a);
  test::expect_close("make_batch(augment)", aug_g.images.to_vector<float>(), aug_c.images.to_vector<float>(), 1e-4, 0.0);
  const data::Batch ten_c = data::make_ten_crop_batch(host, idx, {1, 40}, a);
  const data::Batch ten_g = data::make_ten_crop_batch(dev, idx, {1, 40}, a);
  CHECK(ten_g.labels.is_cuda());
  CHECK(ten_g.labels.to_vector<int32_t>() == ten_c.labels.to_vector<int32_t>());
  CHECK(ten_g.indices == ten_c.indices);
  test::expect_close("make_ten_crop_batch", ten_g.images.to_vector<float>(), ten_c.images.to_vector<float>(), 1e-4, 0.0);
}
