// data/synthetic.cpp: the procedural face renderer behind make_synthetic_faces.
//
// Coordinates: the face frame has its origin between the eyes' row and the mouth, u to the right,
// v downwards, the head ellipse spans u in [-0.72, 0.72], v in [-0.92, 0.92]. An image sample at
// (x, y) maps to the face frame by the inverse pose: u,v = R(-angle) * ((x, y) - centre) / scale.
// Shading is a painter's algorithm per sample (background, hair, neck, head, eyes, brows, nose,
// mouth, occluder), then lighting; four samples per pixel are averaged and noise is added.
#include "data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "data/sampler.h"
#include "kernels/common.h"
#include "kernels/philox.h"

namespace fer::data {

namespace {

// Expression parameters as offsets from the neutral face; one row per fer7 class.
struct Expression {
  float eye_open, brow_raise, brow_tilt, brow_arch, mouth_curve, mouth_open, mouth_width, mouth_lift, asym, wrinkle, teeth;
};
//                                eye    brow   tilt   arch   curve  open   width  lift   asym   wrink  teeth
constexpr Expression kExpr[7] = {{-0.40f, -0.07f, -0.11f, 0.00f, -0.04f, 0.00f, -0.05f, 0.00f, 0.00f, 0.20f, 0.0f},  // angry
                                 {-0.45f, -0.05f, -0.04f, 0.00f, -0.07f, 0.03f, -0.01f, -0.05f, 0.07f, 1.00f, 0.6f},  // disgust
                                 {+0.50f, +0.08f, +0.08f, 0.00f, -0.03f, 0.06f, +0.08f, 0.00f, 0.00f, 0.00f, 0.6f},  // fear
                                 {-0.30f, +0.01f, 0.00f, 0.00f, +0.14f, 0.04f, +0.08f, 0.00f, 0.00f, 0.00f, 1.0f},  // happy
                                 {-0.28f, +0.01f, +0.11f, 0.00f, -0.11f, 0.00f, -0.02f, 0.00f, 0.00f, 0.00f, 0.0f},  // sad
                                 {+0.60f, +0.14f, 0.00f, +0.05f, 0.00f, 0.15f, -0.11f, 0.00f, 0.00f, 0.00f, 0.3f},  // surprise
                                 {0.00f, 0.00f, 0.00f, 0.00f, 0.00f, 0.00f, 0.00f, 0.00f, 0.00f, 0.00f, 0.0f}};  // neutral

// FER2013 Training class counts (fer7 order), for SyntheticOptions::fer_frequencies.
constexpr double kFerCounts[7] = {3995, 436, 4097, 7215, 4830, 3171, 4965};

// Every random quantity of one image, drawn once from its own Philox stream.
struct Face {
  // pose and image
  float cx, cy, scale, cos_a, sin_a;
  float bg, bg_gx, bg_gy, light_gx, light_gy, contrast, noise;
  // tones
  float skin, hair, eye_white, pupil, lip;
  bool has_hair;
  float hair_line;
  // geometry
  float head_rx, head_ry, eye_dx, eye_y, eye_w, eye_h, gaze;
  float brow_y, brow_tilt, brow_arch, brow_thick;
  float mouth_y, mouth_w, mouth_curve, mouth_open, asym, wrinkle, teeth;
  // occluder: 0 none, 1 rectangle, 2 ellipse (image frame), 3 glasses (face frame)
  int occ;
  float ox, oy, ow, oh, otone;
};

// Parameter draws: the k-th uniform of image i's stream.
struct Draw {
  uint64_t seed, stream;
  float u(int k) const { return philox::uniform(seed, stream, static_cast<uint64_t>(k)); }
  float range(int k, float lo, float hi) const { return lo + (hi - lo) * u(k); }
  float jitter(int k, float amp) const { return amp * (2.0f * u(k) - 1.0f); }
};

int choose_label(const Draw& d, int64_t index, const SyntheticOptions& opt) {
  if (!opt.fer_frequencies) return static_cast<int>(index % kFer7Classes);
  double total = 0;
  for (double c : kFerCounts) total += c;
  double r = d.u(63) * total;
  for (int c = 0; c < kFer7Classes; ++c) {
    if (r < kFerCounts[c]) return c;
    r -= kFerCounts[c];
  }
  return kFer7Classes - 1;
}

Face make_face(const Draw& d, int label) {
  Face f{};
  const Expression& e = kExpr[label];
  const float a = d.range(0, 0.55f, 1.2f);  // expression intensity
  // Pose.
  const float angle = d.range(1, -12.0f, 12.0f) * 3.14159265f / 180.0f;
  f.cos_a = std::cos(angle);
  f.sin_a = std::sin(angle);
  f.scale = 20.0f * d.range(2, 0.88f, 1.10f);
  f.cx = 24.0f + d.jitter(3, 3.0f);
  f.cy = 24.5f + d.jitter(4, 3.0f);
  // Tones: skin, a background that differs from it, hair.
  f.skin = d.range(5, 95.0f, 205.0f);
  const float sign = d.u(6) < 0.5f ? -1.0f : 1.0f;
  f.bg = std::clamp(f.skin + sign * d.range(7, 35.0f, 100.0f), 10.0f, 245.0f);
  if (std::fabs(f.bg - f.skin) < 30.0f) f.bg = f.skin > 128.0f ? f.skin - 60.0f : f.skin + 60.0f;
  f.bg_gx = d.jitter(8, 30.0f);
  f.bg_gy = d.jitter(9, 30.0f);
  f.has_hair = d.u(10) < 0.8f;
  f.hair = d.u(11) < 0.75f ? d.range(12, 10.0f, 70.0f) : d.range(12, 150.0f, 230.0f);
  f.hair_line = d.range(13, -0.66f, -0.50f);
  f.eye_white = std::min(250.0f, f.skin + d.range(14, 25.0f, 60.0f));
  f.pupil = d.range(15, 10.0f, 45.0f);
  f.lip = f.skin * d.range(16, 0.55f, 0.75f);
  // Geometry: neutral face + a * expression + jitter.
  f.head_rx = d.range(17, 0.66f, 0.76f);
  f.head_ry = d.range(18, 0.86f, 0.96f);
  f.eye_dx = d.range(19, 0.27f, 0.33f);
  f.eye_y = d.range(20, -0.16f, -0.08f);
  f.eye_w = d.range(21, 0.11f, 0.14f);
  f.eye_h = 0.075f * std::max(0.15f, 1.0f + a * e.eye_open + d.jitter(22, 0.12f));
  f.gaze = d.jitter(23, 0.03f);
  f.brow_y = f.eye_y - 0.17f - a * e.brow_raise + d.jitter(24, 0.025f);
  f.brow_tilt = a * e.brow_tilt + d.jitter(25, 0.025f);
  f.brow_arch = 0.02f + a * e.brow_arch + d.jitter(26, 0.01f);
  f.brow_thick = d.range(27, 0.028f, 0.045f);
  f.mouth_y = d.range(28, 0.44f, 0.52f) + a * e.mouth_lift;
  f.mouth_w = 0.25f + a * e.mouth_width + d.jitter(29, 0.025f);
  f.mouth_curve = a * e.mouth_curve + d.jitter(30, 0.025f);
  f.mouth_open = std::max(0.0f, a * e.mouth_open + d.jitter(31, 0.015f));
  if (label == 3) f.mouth_open *= 2.0f * d.u(32);  // smiles: closed to open
  f.asym = a * e.asym * (d.u(33) < 0.5f ? -1.0f : 1.0f);
  f.wrinkle = a * e.wrinkle;
  f.teeth = e.teeth;
  // Lighting, contrast, noise.
  f.light_gx = d.jitter(34, 0.35f);
  f.light_gy = d.jitter(35, 0.25f);
  f.contrast = d.range(36, 0.75f, 1.15f);
  f.noise = d.range(37, 2.0f, 9.0f);
  // Occluder in about a third of the images.
  const float o = d.u(38);
  f.occ = o < 0.12f ? 1 : o < 0.24f ? 2 : o < 0.33f ? 3 : 0;
  f.ox = d.range(39, 4.0f, 44.0f);
  f.oy = d.range(40, 4.0f, 44.0f);
  f.ow = d.range(41, 4.0f, 9.0f);
  f.oh = d.range(42, 4.0f, 9.0f);
  f.otone = d.range(43, 0.0f, 255.0f);
  return f;
}

float sq(float x) { return x * x; }

// The gray level of the sample at image position (x, y) before lighting and noise.
float shade(const Face& f, float x, float y) {
  // Face frame.
  const float dx = (x - f.cx) / f.scale, dy = (y - f.cy) / f.scale;
  const float u = f.cos_a * dx + f.sin_a * dy;
  const float v = -f.sin_a * dx + f.cos_a * dy;
  float val = f.bg + f.bg_gx * (x - 24.0f) / 24.0f + f.bg_gy * (y - 24.0f) / 24.0f;
  // Hair behind the head, neck below it.
  if (f.has_hair && sq(u / (f.head_rx * 1.12f)) + sq((v + 0.08f) / (f.head_ry * 1.02f)) < 1.0f && v < 0.15f)
    val = f.hair;
  if (std::fabs(u) < 0.32f && v > 0.55f) val = f.skin * 0.82f;
  const float r2 = sq(u / f.head_rx) + sq(v / f.head_ry);
  if (r2 >= 1.0f) return val;
  // Head with darker rim, hair fringe on the forehead.
  val = f.skin * (1.0f - 0.18f * r2 * r2);
  if (f.has_hair && v < f.hair_line + 0.06f * std::cos(u * 9.0f)) return f.hair;
  // Eyes: lid ring, white, pupil.
  for (float s : {-1.0f, 1.0f}) {
    const float eu = u - s * f.eye_dx, ev = v - f.eye_y;
    const float e2 = sq(eu / f.eye_w) + sq(ev / f.eye_h);
    if (e2 < 1.0f) {
      val = (sq(eu - f.gaze) + sq(ev) < sq(0.05f)) ? f.pupil : f.eye_white;
    } else if (sq(eu / (f.eye_w + 0.03f)) + sq(ev / (f.eye_h + 0.025f)) < 1.0f) {
      val = f.skin * 0.6f;
    }
    // Brow over this eye: t = 0 at the inner end, 1 at the outer end; tilt > 0 raises the inner end.
    const float t = (s * u - 0.09f) / 0.36f;
    if (t >= 0.0f && t <= 1.0f) {
      const float by = f.brow_y - f.brow_tilt * (1.0f - t) - f.brow_arch * 4.0f * t * (1.0f - t);
      if (std::fabs(v - by) < f.brow_thick * (1.0f - 0.4f * t)) val = std::min(f.hair, f.skin * 0.45f);
    }
  }
  // Nose: bridge shadow, nostrils, wrinkles (disgust).
  if (u > 0.02f && u < 0.06f && v > -0.02f && v < 0.2f) val *= 0.9f;
  for (float s : {-1.0f, 1.0f})
    if (sq((u - s * 0.07f) / 0.04f) + sq((v - 0.24f) / 0.025f) < 1.0f) val *= 0.55f;
  if (f.wrinkle > 0.0f && std::fabs(u) < 0.09f)
    for (float wy : {0.0f, 0.06f, 0.12f})
      if (std::fabs(v - wy) < 0.012f) val *= 1.0f - 0.45f * std::min(1.0f, f.wrinkle);
  // Mouth: centre line v_c(u) = mouth_y - curve * (u/w)^2 - asym * u/w, half-opening h(u).
  const float mu = u / f.mouth_w;
  if (std::fabs(mu) < 1.0f) {
    const float vc = f.mouth_y - f.mouth_curve * mu * mu - f.asym * mu;
    const float h = f.mouth_open * (1.0f - mu * mu);
    const float d = v - vc;
    if (std::fabs(d) < h) {
      val = (f.teeth > 0.0f && d < -h + 0.5f * h * f.teeth) ? f.eye_white * 0.95f : f.skin * 0.2f;
    } else if (std::fabs(d) < h + 0.025f * (1.0f - 0.5f * mu * mu)) {
      val = f.lip;
    }
  }
  // Glasses (face frame): dark rims around both eyes and a bridge.
  if (f.occ == 3) {
    for (float s : {-1.0f, 1.0f}) {
      const float rr = std::sqrt(sq(u - s * f.eye_dx) + sq(v - f.eye_y));
      if (std::fabs(rr - 0.17f) < 0.025f) val = 20.0f;
    }
    if (std::fabs(u) < f.eye_dx - 0.17f && std::fabs(v - f.eye_y + 0.03f) < 0.02f) val = 20.0f;
  }
  return val;
}

}  // namespace

int32_t render_synthetic_face(uint64_t seed, int64_t index, uint8_t* out, const SyntheticOptions& options) {
  FER_CHECK(index >= 0 && index < (int64_t{1} << 32), "synthetic faces: index " << index << " is outside 0..2^32-1");
  const Draw d{seed, kStreamSynthetic | static_cast<uint64_t>(index)};
  const int label = choose_label(d, index, options);
  const Face f = make_face(d, label);
  for (int y = 0; y < kImageSide; ++y) {
    for (int x = 0; x < kImageSide; ++x) {
      float acc = 0.0f;
      for (int sy = 0; sy < 2; ++sy)
        for (int sx = 0; sx < 2; ++sx) {
          const float px = x + 0.25f + 0.5f * sx, py = y + 0.25f + 0.5f * sy;
          float val = shade(f, px, py);
          if ((f.occ == 1 && std::fabs(px - f.ox) < f.ow && std::fabs(py - f.oy) < f.oh) ||
              (f.occ == 2 && sq((px - f.ox) / f.ow) + sq((py - f.oy) / f.oh) < 1.0f))
            val = f.otone;
          acc += val;
        }
      float val = 0.25f * acc;
      // Lighting: contrast around mid-gray and a linear gradient across the image.
      val = (128.0f + f.contrast * (val - 128.0f)) *
            (1.0f + f.light_gx * (x - 23.5f) / 24.0f + f.light_gy * (y - 23.5f) / 24.0f);
      // Noise: sum of 4 uniforms, centred and scaled to unit variance (approximately Gaussian).
      const philox::Uint4 r = philox::random4(seed, d.stream, 64 + static_cast<uint64_t>(y * kImageSide + x));
      const float g = (philox::u32_to_uniform(r.x) + philox::u32_to_uniform(r.y) + philox::u32_to_uniform(r.z) +
                       philox::u32_to_uniform(r.w) - 2.0f) * 1.7320508f;
      val += f.noise * g;
      out[y * kImageSide + x] = static_cast<uint8_t>(std::clamp(std::floor(val + 0.5f), 0.0f, 255.0f));
    }
  }
  return label;
}

Dataset make_synthetic_faces(int64_t count, uint64_t seed, const SyntheticOptions& options) {
  FER_CHECK(count > 0, "synthetic faces: count must be positive, got " << count);
  Dataset ds;
  ds.classes = fer7_classes();
  ds.origin = "synthetic(count=" + std::to_string(count) + ", seed=" + std::to_string(seed) +
              (options.fer_frequencies ? ", fer_frequencies" : "") + ")";
  ds.pixels.resize(static_cast<size_t>(count) * kImagePixels);
  ds.labels.resize(count);
  ds.splits.resize(count);
  ds.sources.resize(count);
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < count; ++i) {
    ds.labels[i] = render_synthetic_face(seed, i, ds.image(i), options);
    ds.splits[i] = (i % 5 == 4) ? Split::public_test : Split::training;
    ds.sources[i] = "synthetic:" + std::to_string(i);
  }
  return ds;
}

}  // namespace fer::data
