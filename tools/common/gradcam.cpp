// tools/common/gradcam.cpp: Grad-CAM and its overlay (see gradcam.h).
#include "tools/common/gradcam.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "kernels/common.h"
#include "tensor/autograd.h"

namespace fer::tools {

namespace {

bool is_feature_map(nn::Module* m) {
  const Tensor& y = m->captured_output();
  return y.defined() && y.ndim() == 4 && y.size(0) == 1 && y.size(2) * y.size(3) > 1;
}

std::string parent_path(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

std::string join_names(const std::vector<std::string>& names) {
  std::ostringstream os;
  for (size_t i = 0; i < names.size(); ++i) os << (i ? ", " : "") << names[i];
  return os.str();
}

// Captures every module's output (not the root's), runs `fn`, and switches capture off again.
struct CaptureAll {
  std::vector<std::pair<std::string, nn::Module*>> modules;
  explicit CaptureAll(nn::Module& root) : modules(root.named_modules()) {
    for (auto& [path, m] : modules)
      if (!path.empty()) m->capture(true);
  }
  ~CaptureAll() {
    for (auto& [path, m] : modules) m->capture(false);
  }
  CaptureAll(const CaptureAll&) = delete;
  CaptureAll& operator=(const CaptureAll&) = delete;
};

Tensor run_forward(LoadedModel& model, const Tensor& input) {
  FER_CHECK(input.defined() && input.ndim() == 4 && input.size(0) == 1,
            "grad_cam: the input must be one image [1, C, H, W], got "
                << (input.defined() ? shape_str(input.shape()) : "undefined"));
  Tensor x = input.detach();
  x.requires_grad_(true);  // so the graph reaches every layer even when parameters are frozen
  const Tensor logits = (*model.model)(x);
  FER_CHECK(logits.ndim() == 2 && logits.size(0) == 1,
            "grad_cam: the model's output must be logits [1, K], got " << shape_str(logits.shape()));
  return logits;
}

std::vector<std::string> feature_map_names(const std::vector<std::pair<std::string, nn::Module*>>& modules) {
  std::vector<std::string> out;
  for (const auto& [path, m] : modules)
    if (!path.empty() && is_feature_map(m)) out.push_back(path);
  return out;
}

}  // namespace

std::vector<std::string> gradcam_layers(LoadedModel& model, const Tensor& input) {
  CaptureAll cap(*model.model);
  NoGradGuard no_grad;
  run_forward(model, input);
  return feature_map_names(cap.modules);
}

GradCam grad_cam(LoadedModel& model, const Tensor& input, const std::string& layer, int class_index) {
  CaptureAll cap(*model.model);
  const Tensor logits = run_forward(model, input);
  const int k = static_cast<int>(logits.size(1));
  const std::vector<float> z = logits.detach().to(Device::cpu).to_dtype(DType::f32).to_vector<float>();

  GradCam out;
  // softmax on the host
  {
    const float zmax = *std::max_element(z.begin(), z.end());
    double total = 0.0;
    out.probs.resize(z.size());
    for (size_t i = 0; i < z.size(); ++i) total += std::exp(static_cast<double>(z[i] - zmax));
    for (size_t i = 0; i < z.size(); ++i)
      out.probs[i] = static_cast<float>(std::exp(static_cast<double>(z[i] - zmax)) / total);
  }
  if (class_index < 0) class_index = static_cast<int>(std::max_element(z.begin(), z.end()) - z.begin());
  FER_CHECK(class_index < k,
            "grad_cam: class index " << class_index << " out of range; the model has " << k << " classes");
  out.class_index = class_index;
  out.prob = out.probs[static_cast<size_t>(class_index)];

  // d logit_c / d everything
  std::vector<float> onehot(static_cast<size_t>(k), 0.0f);
  onehot[static_cast<size_t>(class_index)] = 1.0f;
  logits.backward(Tensor::from_vector(onehot, {1, k}, logits.device()).to_dtype(logits.dtype()));
  model.model->zero_grad();

  const std::vector<std::string> valid = feature_map_names(cap.modules);
  nn::Module* target = nullptr;
  std::string name = layer;
  if (!layer.empty()) {
    target = model.model->find(layer);
    FER_CHECK(target != nullptr && is_feature_map(target),
              "layer '" << layer << "' "
                        << (target ? "does not output a 4-D feature map [1, C, h, w]" : "is not a module of the model")
                        << "; valid layers: " << join_names(valid));
  } else {
    FER_CHECK(!valid.empty(), "grad_cam: no module of model '"
                                  << model.name << "' outputs a 4-D feature map [1, C, h, w] with h*w > 1");
    // the last conv-like module (a Conv2d or a block of modules) with a feature map, else any
    name = valid.back();
    for (auto it = valid.rbegin(); it != valid.rend(); ++it) {
      nn::Module* cand = model.model->find(*it);
      if (cand->type_name() == "Conv2d" || !cand->children().empty()) {
        name = *it;
        break;
      }
    }
    target = model.model->find(name);
    // climb to the enclosing module while it still outputs a feature map (it ends with this one)
    for (std::string p = parent_path(name); !p.empty(); p = parent_path(p)) {
      nn::Module* up = model.model->find(p);
      if (up == nullptr || !is_feature_map(up) || !up->captured_grad().defined()) break;
      name = p;
      target = up;
    }
  }
  FER_CHECK(target->captured_grad().defined(),
            "grad_cam: layer '" << name << "' does not feed the class score (no gradient reached it); valid layers: "
                                << join_names(valid));
  out.layer = name;

  const Tensor& a_t = target->captured_output();
  const int64_t c = a_t.size(1), h = a_t.size(2), w = a_t.size(3), hw = h * w;
  const std::vector<float> a = a_t.to(Device::cpu).to_dtype(DType::f32).to_vector<float>();
  const std::vector<float> g = target->captured_grad().to(Device::cpu).to_dtype(DType::f32).to_vector<float>();
  FER_CHECK(static_cast<int64_t>(g.size()) == c * hw,
            "grad_cam: the gradient at '" << name << "' has " << g.size() << " values, expected " << c * hw);
  out.alpha.resize(static_cast<size_t>(c));
  std::vector<double> cam(static_cast<size_t>(hw), 0.0);
  for (int64_t ch = 0; ch < c; ++ch) {
    double s = 0.0;
    for (int64_t i = 0; i < hw; ++i) s += g[static_cast<size_t>(ch * hw + i)];
    const double alpha = s / static_cast<double>(hw);
    out.alpha[static_cast<size_t>(ch)] = static_cast<float>(alpha);
    for (int64_t i = 0; i < hw; ++i) cam[static_cast<size_t>(i)] += alpha * a[static_cast<size_t>(ch * hw + i)];
  }
  out.layer_h = static_cast<int>(h);
  out.layer_w = static_cast<int>(w);
  out.raw.resize(static_cast<size_t>(hw));
  for (int64_t i = 0; i < hw; ++i)
    out.raw[static_cast<size_t>(i)] = static_cast<float>(std::max(0.0, cam[static_cast<size_t>(i)]));

  out.h = static_cast<int>(input.size(2));
  out.w = static_cast<int>(input.size(3));
  out.cam = resize_bilinear(out.raw, out.layer_h, out.layer_w, out.h, out.w);
  const float m = *std::max_element(out.cam.begin(), out.cam.end());
  out.all_zero = !(m > 0.0f);
  for (float& v : out.cam) v = out.all_zero ? 0.0f : v / m;
  return out;
}

Rgb jet_colour(float t) {
  t = std::clamp(t, 0.0f, 1.0f);
  auto ch = [&](float centre) {
    const float v = std::clamp(1.5f - std::fabs(4.0f * t - centre), 0.0f, 1.0f);
    return static_cast<uint8_t>(std::lround(v * 255.0f));
  };
  return Rgb{ch(3.0f), ch(2.0f), ch(1.0f)};
}

std::vector<float> resize_bilinear(const std::vector<float>& src, int sh, int sw, int dh, int dw) {
  FER_CHECK(
      sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1 && src.size() == static_cast<size_t>(sh) * static_cast<size_t>(sw),
      "resize_bilinear: bad sizes " << sh << "x" << sw << " (" << src.size() << " values) -> " << dh << "x" << dw);
  auto coord = [](int o, int s, int d, int& i0, int& i1, float& f) {
    float x = (static_cast<float>(o) + 0.5f) * static_cast<float>(s) / static_cast<float>(d) - 0.5f;
    x = std::clamp(x, 0.0f, static_cast<float>(s - 1));
    i0 = static_cast<int>(std::floor(x));
    i1 = std::min(i0 + 1, s - 1);
    f = x - static_cast<float>(i0);
  };
  std::vector<float> out(static_cast<size_t>(dh) * static_cast<size_t>(dw));
  for (int y = 0; y < dh; ++y) {
    int y0, y1;
    float fy;
    coord(y, sh, dh, y0, y1, fy);
    for (int x = 0; x < dw; ++x) {
      int x0, x1;
      float fx;
      coord(x, sw, dw, x0, x1, fx);
      auto at = [&](int yy, int xx) {
        return src[static_cast<size_t>(yy) * static_cast<size_t>(sw) + static_cast<size_t>(xx)];
      };
      const float top = at(y0, x0) * (1.0f - fx) + at(y0, x1) * fx;
      const float bottom = at(y1, x0) * (1.0f - fx) + at(y1, x1) * fx;
      out[static_cast<size_t>(y) * static_cast<size_t>(dw) + static_cast<size_t>(x)] = top * (1.0f - fy) + bottom * fy;
    }
  }
  return out;
}

int gradcam_caption_height() {
  return Canvas::text_height("A\nA", 1) + 8;
}

Canvas render_gradcam(const uint8_t* gray, int gh, int gw, const GradCam& cam, const std::string& class_name,
                      int scale) {
  FER_CHECK(gray != nullptr && gh >= 1 && gw >= 1 && scale >= 1,
            "render_gradcam: bad image " << gh << "x" << gw << " at scale " << scale);
  FER_CHECK(cam.h >= 1 && cam.w >= 1 && cam.cam.size() == static_cast<size_t>(cam.h) * static_cast<size_t>(cam.w),
            "render_gradcam: the cam is empty or its size does not match " << cam.h << "x" << cam.w);
  const int W = gw * scale, H = gh * scale;
  Canvas canvas(W, H + gradcam_caption_height(), colors::kWhite);
  const std::vector<float> heat = resize_bilinear(cam.cam, cam.h, cam.w, H, W);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const int v = gray[static_cast<size_t>(y / scale) * static_cast<size_t>(gw) + static_cast<size_t>(x / scale)];
      const Rgb c = jet_colour(heat[static_cast<size_t>(y) * static_cast<size_t>(W) + static_cast<size_t>(x)]);
      auto blend = [&](uint8_t col) { return static_cast<uint8_t>((v + col + 1) / 2); };
      canvas.pixel(x, y, Rgb{blend(c.r), blend(c.g), blend(c.b)});
    }
  char p[32];
  std::snprintf(p, sizeof p, "%.2f", static_cast<double>(cam.prob));
  const std::string first = class_name + " p=" + p;
  std::string layer = "layer " + cam.layer;
  std::string caption = first + " " + layer;
  if (Canvas::text_width(caption) > W - 8) {
    // two lines; a layer name too long for the width keeps its end
    while (layer.size() > 4 && Canvas::text_width(layer) > W - 8) layer.replace(0, 4, "...");
    caption = first + "\n" + layer;
  }
  canvas.text(4, H + 4, caption, colors::kBlack);
  return canvas;
}

}  // namespace fer::tools
