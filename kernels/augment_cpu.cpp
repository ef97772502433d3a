// kernels/augment_cpu.cpp: presets, argument checks and the CPU twin of augmentation and ten-crop
// (see augment.h for the pipeline, augment_math.h for the shared per-pixel math).
//
// The loop reads like the pipeline: per image, draw its parameters from its own key, turn them into
// the inverse map for the sizes at hand, then fill every output pixel with one inverse-mapped
// bilinear sample (plus colour, normalisation, erasing) and copy it to the other channels. Images
// are independent, so OpenMP splits the batch without changing any number.
#include <algorithm>
#include <sstream>

#include "kernels/augment.h"

namespace fer {

namespace {
struct Preset {
  const char* name;
  AugmentSpec spec;
};

std::vector<Preset> presets() {
  std::vector<Preset> v;
  v.push_back({"none", AugmentSpec{}});
  {
    AugmentSpec s;  // RMN (R000, MODELS.md 1.4): imgaug Fliplr(0.5), rotation U(-30, 30), fill 0
    s.hflip = true, s.rotate_deg = 30.0;
    v.push_back({"r000", s});
  }
  AugmentSpec r001;  // R001 4.3: flip, rotation (-20, 20), translation 10 px of 48
  r001.hflip = true, r001.rotate_deg = 20.0, r001.translate = 10.0 / 48.0;
  v.push_back({"r001", r001});
  {
    AugmentSpec s = r001;  // R001's conclusion: random erasing (torchvision defaults, p 0.5)
    s.erase_p = 0.5;
    v.push_back({"r001-erase", s});
  }
  {
    AugmentSpec s;  // R003: rotation, translation, zoom, flip (values not given: Keras-typical)
    s.hflip = true, s.rotate_deg = 10.0, s.translate = 0.1, s.zoom_min = 0.9, s.zoom_max = 1.1;
    v.push_back({"r003", s});
  }
  {
    AugmentSpec s;  // R004: flip, rotation, Gaussian noise (values not given)
    s.hflip = true, s.rotate_deg = 15.0, s.noise_std = 0.03;
    v.push_back({"r004", s});
  }
  {
    AugmentSpec s;  // usef-kh VGGNet (MODELS.md 2): RRC(0.8-1.2, 3/4-4/3), p.5 translate 0.2, flip,
    s.hflip = true;  // p.5 rotation 10, RandomErasing p 0.5 (its TenCrop(40) is ten_crop())
    s.scale_min = 0.8, s.scale_max = 1.2, s.ratio_min = 3.0 / 4.0, s.ratio_max = 4.0 / 3.0;
    s.translate = 0.2, s.translate_p = 0.5, s.rotate_deg = 10.0, s.rotate_p = 0.5, s.erase_p = 0.5;
    v.push_back({"usefkh", s});
  }
  {
    AugmentSpec s;  // MODELS.md 5.3's ViT suggestion: random crop + flip + random erasing (the values are ours:
    s.hflip = true;  // a resized crop of 80-100% of the area, ratio 3/4-4/3; erasing p 0.25, DeiT's)
    s.scale_min = 0.8, s.scale_max = 1.0, s.ratio_min = 3.0 / 4.0, s.ratio_max = 4.0 / 3.0, s.erase_p = 0.25;
    v.push_back({"vit", s});
  }
  {
    AugmentSpec s;  // a general-purpose preset: crop, flip, rotation, brightness/contrast, erasing
    s.hflip = true, s.rotate_deg = 10.0, s.scale_min = 0.8, s.scale_max = 1.0, s.ratio_min = 0.9,
    s.ratio_max = 1.1, s.brightness = 0.2, s.contrast = 0.2, s.erase_p = 0.25;
    v.push_back({"strong", s});
  }
  return v;
}
}  // namespace

std::vector<std::string> augment_preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : presets()) names.emplace_back(p.name);
  return names;
}

AugmentSpec augment_preset(const std::string& name) {
  for (const Preset& p : presets())
    if (name == p.name) return p.spec;
  std::ostringstream known;
  for (const Preset& p : presets()) known << (known.tellp() ? ", " : "") << p.name;
  FER_FAIL("augment_preset: unknown augmentation '" << name << "'; known: " << known.str());
}

void check_augment_spec(const char* op, const AugmentSpec& s) {
  auto in01 = [](double x) { return x >= 0.0 && x <= 1.0; };  // false for NaN
  FER_CHECK(s.rotate_deg >= 0.0 && s.rotate_deg <= 180.0, op << ": rotate_deg " << s.rotate_deg << " must be in [0, 180]");
  FER_CHECK(in01(s.rotate_p) && in01(s.translate_p),
            op << ": rotate_p " << s.rotate_p << " and translate_p " << s.translate_p << " must be in [0, 1]");
  FER_CHECK(in01(s.translate), op << ": translate " << s.translate << " must be in [0, 1] (a fraction of the side; "
                                  << "hint: 10 px of a 48 px image is 10/48)");
  FER_CHECK(s.zoom_min > 0.0 && s.zoom_min <= s.zoom_max && s.zoom_max <= 100.0,
            op << ": zoom range [" << s.zoom_min << ", " << s.zoom_max << "] must satisfy 0 < min <= max");
  FER_CHECK(s.scale_min > 0.0 && s.scale_min <= s.scale_max && s.scale_max <= 100.0,
            op << ": crop scale range [" << s.scale_min << ", " << s.scale_max << "] must satisfy 0 < min <= max");
  FER_CHECK(s.ratio_min > 0.0 && s.ratio_min <= s.ratio_max && s.ratio_max <= 100.0,
            op << ": crop ratio range [" << s.ratio_min << ", " << s.ratio_max << "] must satisfy 0 < min <= max");
  FER_CHECK(in01(s.brightness) && in01(s.contrast),
            op << ": brightness " << s.brightness << " and contrast " << s.contrast << " must be in [0, 1]");
  FER_CHECK(in01(s.noise_std), op << ": noise_std " << s.noise_std << " must be in [0, 1] (pixel units of [0, 1])");
  FER_CHECK(in01(s.erase_p), op << ": erase_p " << s.erase_p << " must be in [0, 1]");
  FER_CHECK(s.erase_scale_min > 0.0 && s.erase_scale_min <= s.erase_scale_max && s.erase_scale_max < 1.0,
            op << ": erase scale range [" << s.erase_scale_min << ", " << s.erase_scale_max
               << "] must satisfy 0 < min <= max < 1");
  FER_CHECK(s.erase_ratio_min > 0.0 && s.erase_ratio_min <= s.erase_ratio_max && s.erase_ratio_max <= 100.0,
            op << ": erase ratio range [" << s.erase_ratio_min << ", " << s.erase_ratio_max
               << "] must satisfy 0 < min <= max");
  FER_CHECK(s.erase_value == s.erase_value, op << ": erase_value is NaN");
}

void check_augment_batch(const char* op, const AugmentSpec& spec, int64_t batch, int64_t in_h, int64_t in_w,
                         int64_t out_c, int64_t out_h, int64_t out_w, float std) {
  check_augment_spec(op, spec);
  FER_CHECK(batch >= 0, op << ": batch " << batch << " must be >= 0");
  FER_CHECK(in_h >= 1 && in_w >= 1 && out_h >= 1 && out_w >= 1,
            op << ": sizes must be >= 1, got input " << in_h << "x" << in_w << ", output " << out_h << "x" << out_w);
  FER_CHECK(out_c == 1 || out_c == 3, op << ": out_c " << out_c << " must be 1 or 3 (gray replicated)");
  FER_CHECK(std > 0.0f, op << ": std " << std << " must be > 0");
}

void check_ten_crop(const char* op, int64_t batch, int64_t c, int64_t h, int64_t w, int64_t crop_h, int64_t crop_w) {
  FER_CHECK(batch >= 0 && c >= 1 && h >= 1 && w >= 1,
            op << ": bad input shape [" << batch << ", " << c << ", " << h << ", " << w << "]");
  FER_CHECK(crop_h >= 1 && crop_w >= 1 && crop_h <= h && crop_w <= w,
            op << ": crop " << crop_h << "x" << crop_w << " must be >= 1 and fit the " << h << "x" << w << " image");
}

void check_random_erase(const char* op, const AugmentSpec& spec, int64_t batch, int64_t c, int64_t h, int64_t w) {
  check_augment_spec(op, spec);
  FER_CHECK(batch >= 0 && c >= 1 && h >= 1 && w >= 1,
            op << ": bad input shape [" << batch << ", " << c << ", " << h << ", " << w << "]");
}

namespace cpu {

void draw_augment_params_batch(const AugmentSpec& spec, int64_t batch, const uint64_t* keys, uint64_t seed,
                               AugmentParams* params) {
  check_augment_spec("draw_augment_params_batch", spec);
  for (int64_t b = 0; b < batch; ++b) params[b] = draw_augment_params(spec, seed, keys[b]);
}

template <typename T>
void augment_batch(const AugmentSpec& spec, int64_t batch, const uint8_t* images, int64_t in_h, int64_t in_w,
                   const uint64_t* keys, uint64_t seed, int64_t out_c, int64_t out_h, int64_t out_w, float mean,
                   float std, T* out) {
  check_augment_batch("augment_batch", spec, batch, in_h, in_w, out_c, out_h, out_w, std);
  const int64_t plane = out_h * out_w;
  const T erase_value = T(spec.erase_value);
#pragma omp parallel for schedule(static) if (batch * plane > 16384)
  for (int64_t b = 0; b < batch; ++b) {
    const AugmentParams p = draw_augment_params(spec, seed, keys[b]);
    const AugmentMap<T> m = augment_map<T>(spec, p, in_h, in_w, out_h, out_w);
    const uint8_t* img = images + b * in_h * in_w;
    T* y = out + b * out_c * plane;
    for (int64_t oy = 0; oy < out_h; ++oy)
      for (int64_t ox = 0; ox < out_w; ++ox)
        y[oy * out_w + ox] = augment_erased(m, oy, ox)
                                 ? erase_value
                                 : augment_pixel<T>(m, img, in_h, in_w, out_w, oy, ox, seed, keys[b], T(mean), T(std));
    for (int64_t c = 1; c < out_c; ++c)
      for (int64_t i = 0; i < plane; ++i) y[c * plane + i] = y[i];  // gray replicated
  }
}

template <typename T>
void ten_crop(int64_t batch, int64_t c, int64_t h, int64_t w, const T* x, int64_t crop_h, int64_t crop_w, T* y) {
  check_ten_crop("ten_crop", batch, c, h, w, crop_h, crop_w);
  const int64_t crop = crop_h * crop_w;
#pragma omp parallel for schedule(static) if (batch * 10 * c * crop > 65536)
  for (int64_t bv = 0; bv < batch * 10; ++bv) {
    const int64_t b = bv / 10;
    int64_t y0 = 0, x0 = 0;
    bool flip = false;
    augment::ten_crop_origin(static_cast<int>(bv % 10), h, w, crop_h, crop_w, &y0, &x0, &flip);
    for (int64_t ch = 0; ch < c; ++ch) {
      const T* src = x + (b * c + ch) * h * w;
      T* dst = y + (bv * c + ch) * crop;
      for (int64_t i = 0; i < crop_h; ++i)
        for (int64_t j = 0; j < crop_w; ++j) dst[i * crop_w + j] = src[(y0 + i) * w + augment::ten_crop_col(j, x0, w, flip)];
    }
  }
}

template <typename T>
void random_erase(const AugmentSpec& spec, int64_t batch, int64_t c, int64_t h, int64_t w, const uint64_t* keys,
                  uint64_t seed, T* x) {
  check_random_erase("random_erase", spec, batch, c, h, w);
  const AugmentSpec e = erase_only(spec);
  const T value = T(e.erase_value);
  for (int64_t b = 0; b < batch; ++b) {
    const AugmentParams p = draw_augment_params(e, seed, keys[b]);
    if (!p.erase) continue;
    const AugmentMap<T> m = augment_map<T>(e, p, h, w, h, w);
    const int64_t ey1 = std::min(m.ey1, h), ex1 = std::min(m.ex1, w);  // rounding can reach one past the edge
    for (int64_t ch = 0; ch < c; ++ch) {
      T* plane = x + (b * c + ch) * h * w;
      for (int64_t oy = m.ey0; oy < ey1; ++oy)
        for (int64_t ox = m.ex0; ox < ex1; ++ox) plane[oy * w + ox] = value;
    }
  }
}

template void augment_batch<float>(const AugmentSpec&, int64_t, const uint8_t*, int64_t, int64_t, const uint64_t*,
                                   uint64_t, int64_t, int64_t, int64_t, float, float, float*);
template void augment_batch<double>(const AugmentSpec&, int64_t, const uint8_t*, int64_t, int64_t, const uint64_t*,
                                    uint64_t, int64_t, int64_t, int64_t, float, float, double*);
template void ten_crop<float>(int64_t, int64_t, int64_t, int64_t, const float*, int64_t, int64_t, float*);
template void ten_crop<double>(int64_t, int64_t, int64_t, int64_t, const double*, int64_t, int64_t, double*);
template void random_erase<float>(const AugmentSpec&, int64_t, int64_t, int64_t, int64_t, const uint64_t*, uint64_t,
                                  float*);
template void random_erase<double>(const AugmentSpec&, int64_t, int64_t, int64_t, int64_t, const uint64_t*, uint64_t,
                                   double*);

}  // namespace cpu
}  // namespace fer
