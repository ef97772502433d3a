// tools/ferpredict.cpp: class probabilities of image files from a trained checkpoint.
//
//   ferpredict --checkpoint runs/x/best.safetensors face.jpg photos/ [--top K] [--json]
//
// Images of any size, gray or RGB(A), are decoded and converted to 48x48 gray exactly as the data
// readers do (data/image_io.h); directories are walked recursively for .jpg/.jpeg/.png/.bmp files
// (sorted by path). Images go through the model in batches. An unreadable file gives one error
// line on stderr (and an "errors" entry with --json); the others are still printed, and the exit
// status is then 1.
//
// Photos (not face crops): --detect haar finds the faces first (data/face_detect.h, OpenCV's
// frontal-face Haar cascade from Debian's opencv-data, evaluated by fer) and classifies each one's
// 48x48 crop; every face is printed with its box. An image without a face is said so ("no face
// found", the JSON's "no_face" list), or classified whole with --fallback whole; it is never
// dropped silently.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "data/dataset.h"
#include "data/face_detect.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "kernels/common.h"
#include "tools/common/build_info.h"
#include "tools/common/checkpoint_model.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferpredict: class probabilities of face images (any size, gray or RGB) from a fer checkpoint."};
  app.set_version_flag("--version", fer::tools::version_text("ferpredict"));
  std::string checkpoint, device_flag = "cpu";
  std::vector<std::string> inputs;
  bool as_json = false;
  int top = 0;
  int64_t batch_size = 128;
  std::string detect = "none", cascade_path = fer::data::kDefaultFaceCascade, fallback = "none";
  int min_face = 0;
  double face_margin = 0.0;
  app.add_option("--checkpoint", checkpoint, "fer checkpoint (best.safetensors of a fertrain run)")->required();
  app.add_option("inputs", inputs, "image files and/or folders (searched recursively for .jpg .jpeg .png .bmp)")
      ->required();
  app.add_option("--top", top, "show the K most probable classes per image (default: all)");
  app.add_option("--device", device_flag, "cpu | cuda");
  app.add_option("--batch-size", batch_size, "images per forward pass");
  app.add_flag("--json", as_json, "print one JSON object");
  app.add_option("--detect", detect, "none: each image is one face crop (FER2013-style); haar: find the faces in "
                                     "each image first (OpenCV's frontal-face Haar cascade)")
      ->check(CLI::IsMember({"none", "haar"}));
  app.add_option("--cascade", cascade_path, "the Haar cascade XML for --detect haar (Debian: opencv-data)");
  app.add_option("--min-face", min_face, "--detect haar: smallest face side in pixels (default: the cascade's 24)");
  app.add_option("--face-margin", face_margin, "--detect haar: widen each face box by this fraction of its side");
  app.add_option("--fallback", fallback, "--detect haar, an image without a face: none (say so) | whole (classify "
                                         "the whole image)")
      ->check(CLI::IsMember({"none", "whole"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    FER_CHECK(top >= 0, "--top must be positive, got " << top);
    FER_CHECK(batch_size >= 1, "--batch-size must be positive, got " << batch_size);
    FER_CHECK(min_face >= 0, "--min-face must be >= 0, got " << min_face);
    FER_CHECK(face_margin >= 0 && face_margin <= 1, "--face-margin must be in [0, 1], got " << face_margin);
    const bool detecting = detect == "haar";
    for (const char* flag : {"--cascade", "--min-face", "--face-margin", "--fallback"})
      FER_CHECK(detecting || app.count(flag) == 0, flag << " applies to --detect haar; hint: add --detect haar");
    fer::data::HaarCascade cascade;
    if (detecting) {
      FER_CHECK(fs::exists(cascade_path), "--detect haar: no cascade at " << cascade_path
                                                                          << "; hint: apt-get install opencv-data, or "
                                                                             "--cascade FILE");
      cascade = fer::data::load_haar_cascade(cascade_path);
    }
    const fer::Device device = fer::tools::device_from_name(device_flag);
    const fer::tools::LoadedModel model = fer::tools::load_model_from_checkpoint(checkpoint, device);
    fer::tools::require_classifier(model, "ferpredict");
    const std::vector<std::string>& names = model.classes.names;
    const int k = static_cast<int>(names.size());
    const int shown = top == 0 ? k : std::min(top, k);

    // the files
    json errors = json::array();
    auto fail = [&](const std::string& file, const std::string& why) {
      std::fprintf(stderr, "ferpredict: error: %s\n", why.c_str());
      errors.push_back({{"file", file}, {"error", why}});
    };
    std::vector<std::string> files;
    for (const std::string& in : inputs) {
      std::error_code ec;
      if (fs::is_directory(in, ec)) {
        std::vector<std::string> found;
        for (auto it = fs::recursive_directory_iterator(in, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec))
          if (it->is_regular_file(ec) && is_image_name(it->path())) found.push_back(it->path().string());
        if (ec) fail(in, "'" + in + "': cannot list the folder: " + ec.message());
        std::sort(found.begin(), found.end());
        if (found.empty() && !ec) fail(in, "'" + in + "': no .jpg/.jpeg/.png/.bmp files in this folder");
        files.insert(files.end(), found.begin(), found.end());
      } else if (fs::exists(in, ec)) {
        files.push_back(in);
      } else {
        fail(in, "'" + in + "': no such file or folder");
      }
    }

    // decode (48x48 gray, as the readers do); with --detect, one 48x48 crop per face
    fer::data::Dataset ds;
    ds.classes = model.classes;
    struct Face {
      fer::data::FaceBox box;
      int index = 0;       // 1-based within its image; 0: the whole image
    };
    std::vector<Face> faces;  // per entry of ds (with --detect)
    std::vector<std::string> no_face;
    // the text output in file order: each readable file's entries of ds [first, first + count), or
    // its "no face found" line
    struct FileLines {
      std::string file;
      int64_t first = 0, count = 0;
    };
    std::vector<FileLines> file_lines;
    for (const std::string& f : files) {
      try {
        if (!detecting) {
          const std::vector<uint8_t> img = fer::data::load_image_gray48(f);
          file_lines.push_back({f, ds.size(), 1});
          ds.push_back(img.data(), 0, fer::data::Split::unknown, f);
          continue;
        }
        const fer::data::GrayImage image = fer::data::load_image_gray(f);
        fer::data::FaceDetectOptions o;
        o.min_size = min_face;
        const std::vector<fer::data::FaceBox> found = fer::data::detect_faces(cascade, image, o);
        std::vector<std::vector<uint8_t>> crops;  // all of them first: a failure adds nothing
        for (const fer::data::FaceBox& b : found) crops.push_back(fer::data::crop_face48(image, b, face_margin));
        file_lines.push_back({f, ds.size(), static_cast<int64_t>(found.size())});
        for (size_t i = 0; i < found.size(); ++i) {
          ds.push_back(crops[i].data(), 0, fer::data::Split::unknown, f);
          faces.push_back({found[i], static_cast<int>(i) + 1});
        }
        if (!found.empty()) continue;
        if (fallback == "whole") {
          std::vector<uint8_t> whole(fer::data::kImagePixels);
          fer::data::resize_gray(image.pixels.data(), image.width, image.height, whole.data(), fer::data::kImageSide,
                                 fer::data::kImageSide);
          ds.push_back(whole.data(), 0, fer::data::Split::unknown, f);
          faces.push_back({{0, 0, image.width, image.height, 0}, 0});
          file_lines.back().count = 1;
        } else {
          no_face.push_back(f);
        }
      } catch (const std::exception& e) {
        fail(f, e.what());
      }
    }

    std::vector<float> probs;
    if (ds.size() > 0) {
      const fer::data::DeviceImages images(ds, device);
      std::vector<int64_t> indices(static_cast<size_t>(ds.size()));
      std::iota(indices.begin(), indices.end(), int64_t{0});
      probs = fer::tools::predict_probs(model, images, indices, fer::tools::Tta::none, batch_size);
    }

    json preds = json::array();
    std::vector<std::string> entry_text(static_cast<size_t>(ds.size()));
    for (int64_t i = 0; i < ds.size(); ++i) {
      const float* row = probs.data() + i * k;
      std::vector<int> order(static_cast<size_t>(k));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });
      json top_list = json::array(), all = json::object();
      for (int c = 0; c < k; ++c) all[names[static_cast<size_t>(c)]] = row[c];
      std::ostringstream text;
      text << ds.sources[static_cast<size_t>(i)];
      json face_json;
      if (detecting) {
        const Face& fc = faces[static_cast<size_t>(i)];
        const fer::data::FaceBox& b = fc.box;
        if (fc.index > 0)
          text << " face " << fc.index << " at " << b.x << "," << b.y << " " << b.w << "x" << b.h;
        else
          text << " (no face found: the whole image)";
        face_json = {{"index", fc.index}, {"box", {b.x, b.y, b.w, b.h}}, {"neighbors", b.neighbors}};
      }
      text << ":";
      for (int t = 0; t < shown; ++t) {
        const int c = order[static_cast<size_t>(t)];
        top_list.push_back({{"class", names[static_cast<size_t>(c)]}, {"probability", row[c]}});
        text << (t ? ", " : "  ") << names[static_cast<size_t>(c)] << " " << std::fixed << std::setprecision(4)
             << row[c];
      }
      text << "\n";
      entry_text[static_cast<size_t>(i)] = text.str();
      json entry = {{"file", ds.sources[static_cast<size_t>(i)]},
                    {"label", names[static_cast<size_t>(order[0])]},
                    {"probability", row[order[0]]},
                    {"top", top_list},
                    {"probabilities", all}};
      if (detecting) entry["face"] = face_json;
      preds.push_back(entry);
    }
    std::ostringstream text;
    for (const FileLines& fl : file_lines) {
      if (fl.count == 0) text << fl.file << ": no face found\n";
      for (int64_t i = fl.first; i < fl.first + fl.count; ++i) text << entry_text[static_cast<size_t>(i)];
    }
    if (as_json) {
      json j = {{"checkpoint", checkpoint}, {"model", model.name},  {"class_set", model.classes.id},
                {"classes", names},         {"predictions", preds}, {"errors", errors}};
      if (detecting) j["no_face"] = no_face;
      std::cout << j.dump() << "\n";
    } else {
      std::cout << text.str();
    }
    std::cout.flush();
    return errors.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferpredict: error: %s\n", e.what());
    return 1;
  }
}
