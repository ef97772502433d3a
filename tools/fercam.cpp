// tools/fercam.cpp: Grad-CAM overlay of one image for a trained checkpoint.
//
//   fercam --checkpoint runs/x/best.safetensors --image face.jpg --out cam.png
//          [--layer NAME] [--class NAME] [--scale 4] [--device cpu|cuda]
//
// The image is read as every fer program reads it (48x48 gray, data/image_io.h) and made into the
// model's input as the loader does (resized / channels replicated). The cam (tools/common/gradcam.h)
// explains the predicted class, or --class; --layer picks the module (default: the last 4-D feature
// map before pooling). The PNG shows the image scaled `--scale` times with the cam as jet colours
// at 50%, and a caption "class p=0.87 layer NAME". Errors: one line on stderr, exit status 1.
//
// --detect haar (a photo): the faces are found as ferpredict --detect haar finds them
// (data/face_detect.h) and the largest face's 48x48 crop (--face-margin as ferpredict's) is
// explained instead of the whole image squashed to 48x48, so the map explains what ferpredict
// classified. No face: an error "no face found in X; hint: --detect none".
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <vector>

#include "data/dataset.h"
#include "data/face_detect.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "kernels/common.h"
#include "tools/common/build_info.h"
#include "tools/common/checkpoint_model.h"
#include "tools/common/gradcam.h"

int main(int argc, char** argv) {
  CLI::App app{"fercam: Grad-CAM overlay of a face image for a fer checkpoint."};
  app.set_version_flag("--version", fer::tools::version_text("fercam"));
  std::string checkpoint, image, layer, class_name, out, device_flag = "cpu";
  int scale = 4;
  app.add_option("--checkpoint", checkpoint, "fer checkpoint (best.safetensors of a fertrain run)")->required();
  app.add_option("--image", image, "the image (any size, gray or RGB; read as 48x48 gray)")->required();
  app.add_option("--layer", layer, "module path to explain (default: the last 4-D feature map)");
  app.add_option("--class", class_name, "class to explain (default: the predicted class)");
  app.add_option("--out", out, "output PNG")->required();
  app.add_option("--scale", scale, "upscaling of the 48x48 image in the PNG (nearest)");
  app.add_option("--device", device_flag, "cpu | cuda");
  std::string detect = "none", cascade_path = fer::data::kDefaultFaceCascade;
  int min_face = 0;
  double face_margin = 0.0;
  app.add_option("--detect", detect,
                 "none: the image is one face crop, squashed to 48x48; haar: explain the "
                 "largest face found (as ferpredict --detect haar) instead")
      ->check(CLI::IsMember({"none", "haar"}));
  app.add_option("--cascade", cascade_path, "the Haar cascade XML for --detect haar (Debian: opencv-data)");
  app.add_option("--min-face", min_face, "--detect haar: smallest face side in pixels (default: the cascade's 24)");
  app.add_option("--face-margin", face_margin, "--detect haar: widen the face box by this fraction of its side");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    FER_CHECK(scale >= 1 && scale <= 32, "--scale must be in 1..32, got " << scale);
    FER_CHECK(min_face >= 0, "--min-face must be >= 0, got " << min_face);
    FER_CHECK(face_margin >= 0 && face_margin <= 1, "--face-margin must be in [0, 1], got " << face_margin);
    const bool haar = detect == "haar";
    for (const char* flag : {"--cascade", "--min-face", "--face-margin"})
      FER_CHECK(haar || app.count(flag) == 0, flag << " applies to --detect haar; hint: add --detect haar");
    fer::data::HaarCascade cascade;
    if (haar) {
      FER_CHECK(std::filesystem::exists(cascade_path), "--detect haar: no cascade at "
                                                           << cascade_path
                                                           << "; hint: apt-get install opencv-data, or --cascade FILE");
      cascade = fer::data::load_haar_cascade(cascade_path);
    }
    const fer::Device device = fer::tools::device_from_name(device_flag);
    fer::tools::LoadedModel model = fer::tools::load_model_from_checkpoint(checkpoint, device);
    fer::tools::require_classifier(model, "fercam");
    int class_index = -1;
    if (!class_name.empty()) {
      class_index = model.classes.index_of(class_name);
      if (class_index < 0) {
        std::ostringstream names;
        for (size_t i = 0; i < model.classes.names.size(); ++i) names << (i ? ", " : "") << model.classes.names[i];
        FER_FAIL("--class '" << class_name << "' is not a class of this checkpoint (" << model.classes.id
                             << "); classes: " << names.str());
      }
    }
    std::vector<uint8_t> gray;
    std::string face_text;  // " face at x,y wxh" with --detect haar
    if (haar) {
      const fer::data::GrayImage photo = fer::data::load_image_gray(image);
      fer::data::FaceDetectOptions o;
      o.min_size = min_face;
      const std::vector<fer::data::FaceBox> found = fer::data::detect_faces(cascade, photo, o);
      FER_CHECK(!found.empty(), "no face found in " << image << "; hint: --detect none explains the whole image");
      fer::data::FaceBox largest = found[0];  // strongest first: the first of the largest
      for (const fer::data::FaceBox& b : found)
        if (static_cast<int64_t>(b.w) * b.h > static_cast<int64_t>(largest.w) * largest.h) largest = b;
      gray = fer::data::crop_face48(photo, largest, face_margin);
      std::ostringstream s;
      s << " face at " << largest.x << "," << largest.y << " " << largest.w << "x" << largest.h << " (of "
        << found.size() << ")";
      face_text = s.str();
    } else {
      gray = fer::data::load_image_gray48(image);
    }
    fer::data::Dataset ds;
    ds.classes = model.classes;
    ds.push_back(gray.data(), 0, fer::data::Split::unknown, image);
    const fer::data::DeviceImages images(ds, device);
    const fer::data::Batch batch = fer::data::make_batch(images, {0}, model.input);

    const fer::tools::GradCam cam = fer::tools::grad_cam(model, batch.images, layer, class_index);
    const std::string& cls = model.classes.names[static_cast<size_t>(cam.class_index)];
    if (cam.all_zero)
      std::fprintf(stderr,
                   "fercam: warning: the Grad-CAM of class '%s' at layer '%s' is zero everywhere (no positive "
                   "evidence for the class at this layer); the overlay shows no heat\n",
                   cls.c_str(), cam.layer.c_str());
    const fer::tools::Canvas canvas = fer::tools::render_gradcam(gray.data(), 48, 48, cam, cls, scale);
    canvas.save_png(out);
    std::printf("%s%s: %s p=%.4f, layer %s (%dx%d), wrote %s (%dx%d)\n", image.c_str(), face_text.c_str(), cls.c_str(),
                static_cast<double>(cam.prob), cam.layer.c_str(), cam.layer_h, cam.layer_w, out.c_str(), canvas.width(),
                canvas.height());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fercam: error: %s\n", e.what());
    return 1;
  }
}
