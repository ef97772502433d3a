// kernels/augment.h: training-time data augmentation and ten-crop views, with the same random
// decisions on the CPU and on CUDA for the same seed.
//
// Pipeline for one image (gray u8 [in_h, in_w] -> T [out_c, out_h, out_w]), the torchvision order:
//   1. random resized crop   a rectangle of the input (area fraction s ~ U(scale), aspect r ~
//                            logU(ratio), 10 tries then a centre fallback, as torchvision)
//   2. resize to out_h x out_w (bilinear, half-pixel centres)
//   3. horizontal flip        p = 0.5
//   4. affine about the centre: rotation ~ U(-rotate_deg, rotate_deg) (counter-clockwise on screen
//                            for a positive angle, as torchvision), zoom ~ U(zoom), translation
//                            ~ U(-translate, translate) * side per axis; constant 0 fill outside
//   5. brightness  v *= b,  b ~ U(1 - brightness, 1 + brightness)
//      contrast    v = (v - 127.5) * c + 127.5,  c ~ U(1 - contrast, 1 + contrast)   (pivot: mid-grey,
//                  not the image mean as torchvision: keeps the op per-pixel)
//      noise       v += 255 * noise_std * N(0, 1) (per output pixel)
//      clamp to [0, 255]
//   6. x = v / 255, x = (x - mean) / std
//   7. random erasing (p = erase_p): a rectangle of the output (area ~ U(erase_scale), aspect
//      ~ logU(erase_ratio), 10 tries, torchvision's RandomErasing) is set to erase_value.
//   8. replicated to out_c channels (1 or 3).
// Steps 1-4 are ONE inverse-mapped bilinear sample per output pixel (augment_math.h, notes/augment.md):
// no intermediate image is ever formed. Spec "none" is exactly a bilinear resize (align_corners=False,
// as cv2.resize / PyTorch) followed by /255 and the normalisation.
//
// Randomness: every parameter of an image is drawn from Philox(seed, stream = key, offsets 0..63)
// with key = augment_key(epoch, dataset_index), and pixel noise from offsets 128 + 4*pixel. So an
// image's augmentation depends only on (seed, epoch, index): not on its batch, its position in it,
// the thread layout or the device. draw_augment_params() is the same FER_HD function on both sides and
// uses only correctly rounded operations (augment_math.h), so the parameters are bit-identical.
//
// Shapes: images u8 [batch, in_h, in_w] (contiguous), keys [batch], out T [batch, out_c, out_h, out_w]
// (written, =). ten_crop: x T [batch, c, h, w] -> y [batch * 10, c, crop_h, crop_w], view v of image
// b at row b * 10 + v: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right, 4 centre, 5..9 the
// same five crops of the horizontally flipped image (torchvision TenCrop order; the centre offset is
// Python's round((h - crop_h) / 2), ties to even).
// random_erase (usef-kh's RandomErasing on each of the ten crops): x T [batch, c, h, w] in place;
// image b's box is the erase step (7) of draw_augment_params(spec, seed, keys[b]) (only the erase_*
// fields of spec are used), set to spec.erase_value in every channel. Keys: ten_crop_erase_key().
// CUDA: augment: one block row per image (blockIdx.y); thread 0 of each block draws the image's
// parameters into shared memory, then the block's threads stride over the image's output pixels.
// ten_crop: one thread per output element, grid-stride.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/augment_math.h"
#include "kernels/common.h"
#include "kernels/hd.h"

namespace fer {

struct AugmentSpec {
  bool hflip = false;             // mirror with p = 0.5
  double rotate_deg = 0.0;        // angle ~ U(-rotate_deg, rotate_deg) degrees, in [0, 180]
  double rotate_p = 1.0;          // probability that the rotation is applied at all
  double translate = 0.0;         // shift ~ U(-translate, translate) * side, per axis (fraction, [0, 1])
  double translate_p = 1.0;       // probability that the translation is applied
  double zoom_min = 1.0, zoom_max = 1.0;    // affine zoom about the centre (> 1 magnifies)
  double scale_min = 1.0, scale_max = 1.0;  // random resized crop: area fraction of the input
  double ratio_min = 1.0, ratio_max = 1.0;  // random resized crop: aspect w/h (relative to the input's)
  double brightness = 0.0;        // factor ~ U(1 - brightness, 1 + brightness), brightness in [0, 1]
  double contrast = 0.0;          // factor ~ U(1 - contrast, 1 + contrast), contrast in [0, 1]
  double noise_std = 0.0;         // additive Gaussian noise, std in [0, 1] pixel units (x 255 internally)
  double erase_p = 0.0;           // random erasing probability
  double erase_scale_min = 0.02, erase_scale_max = 0.33;  // erased area fraction of the output
  double erase_ratio_min = 0.3, erase_ratio_max = 3.3;    // erased aspect h/w (torchvision)
  double erase_value = 0.0;       // value written into the erased box (after normalisation)

  // True when the spec draws nothing random (the spec of "none").
  bool is_identity() const {
    return !hflip && rotate_deg == 0.0 && translate == 0.0 && zoom_min == 1.0 && zoom_max == 1.0 &&
           scale_min == 1.0 && scale_max == 1.0 && ratio_min == 1.0 && ratio_max == 1.0 && brightness == 0.0 &&
           contrast == 0.0 && noise_std == 0.0 && erase_p == 0.0;
  }
};

// Named specs from the reports (MODELS.md): "none"; "r000" (RMN: flip + rotation 30);
// "r001" (flip, rotation 20, translation 10 px of 48); "r001-erase" (r001 + random erasing p 0.5,
// the R001 conclusion); "r003" (flip, rotation 10, shift 0.1, zoom 0.9-1.1: R003 names the
// transforms, the values are Keras-typical guesses); "r004" (flip, rotation 15, Gaussian noise 0.03:
// R004 names the transforms, values guessed); "usefkh" (the usef-kh VGGNet recipe R004 builds on:
// random resized crop 0.8-1.2 / 3:4-4:3, translation 0.2 with p 0.5, flip, rotation 10 with p 0.5,
// random erasing p 0.5; its TenCrop(40) is ten_crop() below, applied after this - so here the box
// is erased once per image before cropping, where usef-kh erases each crop independently).
// Unknown names throw fer::Error listing the known ones.
AugmentSpec augment_preset(const std::string& name);
std::vector<std::string> augment_preset_names();

// Throws fer::Error (naming `op`) unless every field is in its range.
void check_augment_spec(const char* op, const AugmentSpec& spec);

// Philox stream of (epoch, image index): tag "AG" in the top 16 bits (no other fer stream uses it),
// epoch in bits 32..47, the dataset index in bits 0..31. epoch in [0, 65536), index in [0, 2^32).
inline constexpr uint64_t kAugmentKeyTag = 0x4147ull << 48;  // "AG"
inline uint64_t augment_key(int64_t epoch, int64_t image_index) {
  FER_CHECK(epoch >= 0 && epoch < (int64_t(1) << 16),
            "augment_key: epoch " << epoch << " outside [0, 65536); hint: epochs count from 0");
  FER_CHECK(image_index >= 0 && image_index < (int64_t(1) << 32),
            "augment_key: image index " << image_index << " outside [0, 2^32)");
  return kAugmentKeyTag | (static_cast<uint64_t>(epoch) << 32) | static_cast<uint64_t>(image_index);
}

// Philox stream of the erasing of ten-crop view `view` (0..9) of an image: tag "E0".."E9" in the
// top 16 bits, so it never meets an augment_key() stream (tag "AG").
inline uint64_t ten_crop_erase_key(int64_t epoch, int64_t image_index, int view) {
  FER_CHECK(view >= 0 && view < 10, "ten_crop_erase_key: view " << view << " outside [0, 10)");
  const uint64_t tag = (0x4530ull + static_cast<uint64_t>(view)) << 48;  // "E0" + view
  return tag | (augment_key(epoch, image_index) & ((uint64_t(1) << 48) - 1));
}

// The erase-only part of a spec (random_erase draws with it).
inline AugmentSpec erase_only(const AugmentSpec& s) {
  AugmentSpec e;
  e.erase_p = s.erase_p;
  e.erase_scale_min = s.erase_scale_min, e.erase_scale_max = s.erase_scale_max;
  e.erase_ratio_min = s.erase_ratio_min, e.erase_ratio_max = s.erase_ratio_max;
  e.erase_value = s.erase_value;
  return e;
}

// Every random decision for one image. Crop and erase boxes are fractions of the input / output
// sides, so the parameters do not depend on image sizes.
struct AugmentParams {
  int32_t flip = 0;                         // 1: mirrored
  int32_t erase = 0;                        // 1: a box is erased
  double angle_deg = 0.0, cos_a = 1.0, sin_a = 0.0;
  double tx = 0.0, ty = 0.0;                // translation, fraction of out_w / out_h
  double zoom = 1.0;
  double crop_x = 0.0, crop_y = 0.0, crop_w = 1.0, crop_h = 1.0;  // fractions of in_w / in_h
  double brightness = 1.0, contrast = 1.0;  // factors
  double erase_x = 0.0, erase_y = 0.0, erase_w = 0.0, erase_h = 0.0;  // fractions of out_w / out_h
};

namespace augment {
// Philox offsets of the per-image draws (the stream is the image's key).
enum Offset : uint64_t {
  kFlip = 0, kRotateP = 1, kAngle = 2, kTranslateP = 3, kTx = 4, kTy = 5, kZoom = 6, kBrightness = 7,
  kContrast = 8, kEraseP = 9,
  kCropTry = 16,   // try t: area 16 + 2t, ratio 17 + 2t (t < 10)
  kCropPos = 36,   // x 36, y 37
  kEraseTry = 40,  // try t: area 40 + 2t, ratio 41 + 2t (t < 10)
  kErasePos = 60,  // x 60, y 61
};
constexpr int kTries = 10;
}  // namespace augment

FER_HD AugmentParams draw_augment_params(const AugmentSpec& spec, uint64_t seed, uint64_t key) {
  using namespace augment;
  AugmentParams p;
  if (spec.hflip) p.flip = draw(seed, key, kFlip) < 0.5 ? 1 : 0;
  if (spec.rotate_deg > 0.0 && draw(seed, key, kRotateP) < spec.rotate_p) {
    p.angle_deg = lerp(-spec.rotate_deg, spec.rotate_deg, draw(seed, key, kAngle));
    det_sincos_deg(p.angle_deg, &p.sin_a, &p.cos_a);
  }
  if (spec.translate > 0.0 && draw(seed, key, kTranslateP) < spec.translate_p) {
    p.tx = lerp(-spec.translate, spec.translate, draw(seed, key, kTx));
    p.ty = lerp(-spec.translate, spec.translate, draw(seed, key, kTy));
  }
  if (spec.zoom_min != 1.0 || spec.zoom_max != 1.0) p.zoom = lerp(spec.zoom_min, spec.zoom_max, draw(seed, key, kZoom));
  if (spec.brightness > 0.0) {
    p.brightness = lerp(1.0 - spec.brightness, 1.0 + spec.brightness, draw(seed, key, kBrightness));
  }
  if (spec.contrast > 0.0) p.contrast = lerp(1.0 - spec.contrast, 1.0 + spec.contrast, draw(seed, key, kContrast));
  // Random resized crop (torchvision RandomResizedCrop.get_params, in fractions of the sides).
  if (spec.scale_min != 1.0 || spec.scale_max != 1.0 || spec.ratio_min != 1.0 || spec.ratio_max != 1.0) {
    const double log_r0 = det_log(spec.ratio_min), log_r1 = det_log(spec.ratio_max);
    bool found = false;
    for (int t = 0; t < kTries && !found; ++t) {
      const double s = lerp(spec.scale_min, spec.scale_max, draw(seed, key, kCropTry + 2 * t));
      const double r = det_exp(lerp(log_r0, log_r1, draw(seed, key, kCropTry + 2 * t + 1)));
      const double w = dsqrt(dmul(s, r)), h = dsqrt(ddiv(s, r));
      if (w > 0.0 && w <= 1.0 && h > 0.0 && h <= 1.0) {
        found = true;
        p.crop_w = w, p.crop_h = h;
        p.crop_x = dmul(draw(seed, key, kCropPos), dsub(1.0, w));
        p.crop_y = dmul(draw(seed, key, kCropPos + 1), dsub(1.0, h));
      }
    }
    if (!found) {  // centre crop with the aspect clamped into [ratio_min, ratio_max]
      if (spec.ratio_min > 1.0) p.crop_w = 1.0, p.crop_h = ddiv(1.0, spec.ratio_min);
      else if (spec.ratio_max < 1.0) p.crop_h = 1.0, p.crop_w = spec.ratio_max;
      p.crop_x = dmul(0.5, dsub(1.0, p.crop_w));
      p.crop_y = dmul(0.5, dsub(1.0, p.crop_h));
    }
  }
  // Random erasing (torchvision RandomErasing.get_params: h = sqrt(area * r), w = sqrt(area / r)).
  if (spec.erase_p > 0.0 && draw(seed, key, kEraseP) < spec.erase_p) {
    const double log_r0 = det_log(spec.erase_ratio_min), log_r1 = det_log(spec.erase_ratio_max);
    for (int t = 0; t < kTries && !p.erase; ++t) {
      const double s = lerp(spec.erase_scale_min, spec.erase_scale_max, draw(seed, key, kEraseTry + 2 * t));
      const double r = det_exp(lerp(log_r0, log_r1, draw(seed, key, kEraseTry + 2 * t + 1)));
      const double h = dsqrt(dmul(s, r)), w = dsqrt(ddiv(s, r));
      if (h < 1.0 && w < 1.0) {
        p.erase = 1;
        p.erase_w = w, p.erase_h = h;
        p.erase_x = dmul(draw(seed, key, kErasePos), dsub(1.0, w));
        p.erase_y = dmul(draw(seed, key, kErasePos + 1), dsub(1.0, h));
      }
    }
  }
  return p;
}

// The parameters of one image turned into pixel terms for given sizes.
template <typename T>
struct AugmentMap {
  T a00, a01, a02, a10, a11, a12;  // input point (u, v) = [a00 a01; a10 a11] (ox+0.5, oy+0.5) + (a02, a12)
  T brightness, contrast, noise;   // factors; noise = 255 * noise_std
  bool color;                      // any of brightness / contrast / noise active
  int64_t ex0, ex1, ey0, ey1;      // erased output pixels: ex0 <= ox < ex1 and ey0 <= oy < ey1 (empty if none)
};

// Composition (notes/augment.md): output point p -> d = p - C - t -> q = C + R(-angle) d / zoom
// -> flip: q.x = W - q.x -> input point = crop origin + q * (crop size / output size).
template <typename T>
FER_HD AugmentMap<T> augment_map(const AugmentSpec& spec, const AugmentParams& p, int64_t in_h, int64_t in_w,
                                 int64_t out_h, int64_t out_w) {
  using namespace augment;
  const double W = double(out_w), H = double(out_h);
  const double cx = dmul(0.5, W), cy = dmul(0.5, H);
  const double px = dadd(cx, dmul(p.tx, W)), py = dadd(cy, dmul(p.ty, H));  // C + t
  const double cz = ddiv(p.cos_a, p.zoom), sz = ddiv(p.sin_a, p.zoom);
  // q = M p + m with M = [cz -sz; sz cz], m = C - M (C + t)
  double m00 = cz, m01 = -sz, m10 = sz, m11 = cz;
  double m02 = dadd(dsub(cx, dmul(cz, px)), dmul(sz, py));
  const double m12 = dsub(dsub(cy, dmul(sz, px)), dmul(cz, py));
  if (p.flip) m00 = -m00, m01 = -m01, m02 = dsub(W, m02);
  const double kx = ddiv(dmul(p.crop_w, double(in_w)), W), ky = ddiv(dmul(p.crop_h, double(in_h)), H);
  const double ox = dmul(p.crop_x, double(in_w)), oy = dmul(p.crop_y, double(in_h));
  AugmentMap<T> m;
  m.a00 = T(dmul(kx, m00)), m.a01 = T(dmul(kx, m01)), m.a02 = T(dadd(dmul(kx, m02), ox));
  m.a10 = T(dmul(ky, m10)), m.a11 = T(dmul(ky, m11)), m.a12 = T(dadd(dmul(ky, m12), oy));
  m.brightness = T(p.brightness), m.contrast = T(p.contrast), m.noise = T(dmul(255.0, spec.noise_std));
  m.color = p.brightness != 1.0 || p.contrast != 1.0 || spec.noise_std > 0.0;
  m.ex0 = m.ex1 = m.ey0 = m.ey1 = 0;
  if (p.erase) {  // whole pixels, rounded half up
    m.ex0 = static_cast<int64_t>(floor(dadd(dmul(p.erase_x, W), 0.5)));
    m.ey0 = static_cast<int64_t>(floor(dadd(dmul(p.erase_y, H), 0.5)));
    m.ex1 = m.ex0 + static_cast<int64_t>(floor(dadd(dmul(p.erase_w, W), 0.5)));
    m.ey1 = m.ey0 + static_cast<int64_t>(floor(dadd(dmul(p.erase_h, H), 0.5)));
  }
  return m;
}

// True when output pixel (oy, ox) lies in the erased box.
template <typename T>
FER_HD bool augment_erased(const AugmentMap<T>& m, int64_t oy, int64_t ox) {
  return ox >= m.ex0 && ox < m.ex1 && oy >= m.ey0 && oy < m.ey1;
}

// The value of output pixel (oy, ox) of one image after steps 1-6 (erasing is the caller's
// augment_erased() test; channel replication too).
template <typename T>
FER_HD T augment_pixel(const AugmentMap<T>& m, const uint8_t* img, int64_t in_h, int64_t in_w, int64_t out_w,
                       int64_t oy, int64_t ox, uint64_t seed, uint64_t key, T mean, T std_) {
  using namespace augment;
  const T px = radd(T(ox), T(0.5)), py = radd(T(oy), T(0.5));
  const T u = radd(radd(rmul(m.a00, px), rmul(m.a01, py)), m.a02);
  const T v = radd(radd(rmul(m.a10, px), rmul(m.a11, py)), m.a12);
  T val = sample_bilinear<T>(img, in_h, in_w, u, v);
  if (m.color) {
    val = rmul(val, m.brightness);
    val = radd(rmul(rsub(val, T(127.5)), m.contrast), T(127.5));
    if (m.noise > T(0)) val = radd(val, rmul(m.noise, T(pixel_noise(seed, key, uint64_t(oy * out_w + ox)))));
    if (val < T(0)) val = T(0);
    if (val > T(255)) val = T(255);
  }
  return rdiv(rsub(rdiv(val, T(255)), mean), std_);
}

namespace cpu {
// out[b] = augmented image b (see the pipeline above); images and keys on the host.
template <typename T>
void augment_batch(const AugmentSpec& spec, int64_t batch, const uint8_t* images, int64_t in_h, int64_t in_w,
                   const uint64_t* keys, uint64_t seed, int64_t out_c, int64_t out_h, int64_t out_w, float mean,
                   float std, T* out);
// params[b] = draw_augment_params(spec, seed, keys[b]).
void draw_augment_params_batch(const AugmentSpec& spec, int64_t batch, const uint64_t* keys, uint64_t seed,
                               AugmentParams* params);
template <typename T>
void ten_crop(int64_t batch, int64_t c, int64_t h, int64_t w, const T* x, int64_t crop_h, int64_t crop_w, T* y);
template <typename T>
void random_erase(const AugmentSpec& spec, int64_t batch, int64_t c, int64_t h, int64_t w, const uint64_t* keys,
                  uint64_t seed, T* x);
}  // namespace cpu

namespace cuda {
// The same on the GPU: images, keys and out are device pointers.
void augment_batch(const AugmentSpec& spec, int64_t batch, const uint8_t* images, int64_t in_h, int64_t in_w,
                   const uint64_t* keys, uint64_t seed, int64_t out_c, int64_t out_h, int64_t out_w, float mean,
                   float std, float* out, cuda_stream stream);
// params: device array of `batch` AugmentParams (for parity checks and logging).
void draw_augment_params_batch(const AugmentSpec& spec, int64_t batch, const uint64_t* keys, uint64_t seed,
                               AugmentParams* params, cuda_stream stream);
void ten_crop(int64_t batch, int64_t c, int64_t h, int64_t w, const float* x, int64_t crop_h, int64_t crop_w,
              float* y, cuda_stream stream);
void random_erase(const AugmentSpec& spec, int64_t batch, int64_t c, int64_t h, int64_t w, const uint64_t* keys,
                  uint64_t seed, float* x, cuda_stream stream);
}  // namespace cuda

// Shared argument checks (called by both backends).
void check_augment_batch(const char* op, const AugmentSpec& spec, int64_t batch, int64_t in_h, int64_t in_w,
                         int64_t out_c, int64_t out_h, int64_t out_w, float std);
void check_ten_crop(const char* op, int64_t batch, int64_t c, int64_t h, int64_t w, int64_t crop_h, int64_t crop_w);
void check_random_erase(const char* op, const AugmentSpec& spec, int64_t batch, int64_t c, int64_t h, int64_t w);

namespace augment {
// Top-left corner of ten-crop view v (0..9) of an h x w image; *flip = the view is mirrored.
// Views 5..9 crop the flipped image, i.e. view 5 (top-left of the flipped image) reads the
// original's top-right block mirrored.
FER_HD void ten_crop_origin(int v, int64_t h, int64_t w, int64_t ch, int64_t cw, int64_t* y0, int64_t* x0, bool* flip) {
  const int k = v % 5;
  *flip = v >= 5;
  // Python round((n - c) / 2): ties to even.
  const int64_t dh = h - ch, dw = w - cw;
  const int64_t cy = (dh % 2 == 0) ? dh / 2 : ((dh / 2) % 2 == 0 ? dh / 2 : dh / 2 + 1);
  const int64_t cxx = (dw % 2 == 0) ? dw / 2 : ((dw / 2) % 2 == 0 ? dw / 2 : dw / 2 + 1);
  int64_t fy = 0, fx = 0;  // origin in the (possibly flipped) image
  switch (k) {
    case 0: fy = 0, fx = 0; break;
    case 1: fy = 0, fx = dw; break;
    case 2: fy = dh, fx = 0; break;
    case 3: fy = dh, fx = dw; break;
    default: fy = cy, fx = cxx; break;
  }
  *y0 = fy;
  *x0 = fx;
}
// Source column of crop column j for a view with origin x0 in the (flipped) image of width w.
FER_HD int64_t ten_crop_col(int64_t j, int64_t x0, int64_t w, bool flip) { return flip ? w - 1 - (x0 + j) : x0 + j; }
}  // namespace augment

}  // namespace fer
