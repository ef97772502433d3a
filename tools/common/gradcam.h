// tools/common/gradcam.h: Grad-CAM (Selvaraju et al., 2017) of a loaded model on one image, and
// the overlay picture fercam writes.
//
// For a layer L whose output A is [1, C, h, w] and the score y_c (the logit of class c):
//   G = dy_c / dA                      (Module::capture keeps A and, after backward, G)
//   alpha_k = mean over (h, w) of G_k  (one weight per channel)
//   cam = ReLU(sum_k alpha_k A_k)       [h, w]
// then upsampled bilinearly (align_corners = false) to the model's input size and divided by its
// maximum, so it lies in [0, 1]. A cam that is zero everywhere (no positive evidence) stays zero
// and GradCam::all_zero says so.
//
// The default layer (layer == ""): a forward pass captures every module's output; the last
// conv-like module (Conv2d, or a block: a module with children) in tree order whose output is 4-D
// with more than one spatial position is taken (any module when none is conv-like), then replaced by
// its enclosing module as long as that one also outputs a 4-D map and that module ends with it
// (e.g. ResNet's "layer4" rather than "layer4.1.bn2"): the last feature map before global
// pooling / flatten.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "tools/common/checkpoint_model.h"
#include "tools/common/png_canvas.h"

namespace fer::tools {

struct GradCam {
  std::vector<float> cam;  // h x w (the model input's size), row-major, in [0, 1]
  int h = 0, w = 0;
  int class_index = -1;  // the class whose score was explained
  float prob = 0.0f;     // its softmax probability
  std::string layer;     // the module path used
  // details
  std::vector<float> raw;  // the cam at the layer's resolution, before upsampling/normalising
  int layer_h = 0, layer_w = 0;
  std::vector<float> alpha;  // [C] channel weights
  std::vector<float> probs;  // softmax over all classes
  bool all_zero = false;     // the cam was zero everywhere (cam is then all zeros)
};

// input: [1, channels, size, size] on the model's device (data::make_batch of one image).
// layer: a module path ("" = the default above); class_index -1 = the predicted class.
// A fer::Error for an unknown layer or a layer without a 4-D output (listing the valid names), a
// class index out of range, or an input batch other than 1.
GradCam grad_cam(LoadedModel& model, const Tensor& input, const std::string& layer, int class_index);

// The module paths whose output on `input` is 4-D [1, C, h, w] (h * w > 1), in tree order.
std::vector<std::string> gradcam_layers(LoadedModel& model, const Tensor& input);

// Jet-like colour map: t in [0, 1] (clamped) -> dark blue .. cyan .. yellow .. dark red.
Rgb jet_colour(float t);

// Bilinear resize (align_corners = false, edges replicated) of a float map sh x sw -> dh x dw.
std::vector<float> resize_bilinear(const std::vector<float>& src, int sh, int sw, int dh, int dw);

// The overlay: the gray image (gh x gw bytes) scaled `scale`x (nearest), the cam resized
// bilinearly to the same size and blended 50% as jet colours over it, and a caption band below
// ("happy p=0.87 layer conv6", split over two lines when it does not fit).
// Size: (gw * scale) x (gh * scale + gradcam_caption_height()).
Canvas render_gradcam(const uint8_t* gray, int gh, int gw, const GradCam& cam, const std::string& class_name,
                      int scale = 4);
int gradcam_caption_height();

}  // namespace fer::tools
