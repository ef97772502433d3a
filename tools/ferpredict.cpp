// tools/ferpredict.cpp: class probabilities of image files from a trained checkpoint.
//
//   ferpredict --checkpoint runs/x/best.safetensors face.jpg photos/ [--top K] [--json]
//
// Images of any size, gray or RGB(A), are decoded and converted to 48x48 gray exactly as the data
// readers do (data/image_io.h); directories are walked recursively for .jpg/.jpeg/.png/.bmp files
// (sorted by path). Images go through the model in batches. An unreadable file gives one error
// line on stderr (and an "errors" entry with --json); the others are still printed, and the exit
// status is then 1.
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
#include "data/image_io.h"
#include "data/loader.h"
#include "kernels/common.h"
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
  app.set_version_flag("--version", "ferpredict (fer) 0.1");
  std::string checkpoint, device_flag = "cpu";
  std::vector<std::string> inputs;
  bool as_json = false;
  int top = 0;
  int64_t batch_size = 128;
  app.add_option("--checkpoint", checkpoint, "fer checkpoint (best.safetensors of a fertrain run)")->required();
  app.add_option("inputs", inputs, "image files and/or folders (searched recursively for .jpg .jpeg .png .bmp)")
      ->required();
  app.add_option("--top", top, "show the K most probable classes per image (default: all)");
  app.add_option("--device", device_flag, "cpu | cuda");
  app.add_option("--batch-size", batch_size, "images per forward pass");
  app.add_flag("--json", as_json, "print one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    FER_CHECK(top >= 0, "--top must be positive, got " << top);
    FER_CHECK(batch_size >= 1, "--batch-size must be positive, got " << batch_size);
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

    // decode (48x48 gray, as the readers do)
    fer::data::Dataset ds;
    ds.classes = model.classes;
    for (const std::string& f : files) {
      try {
        const std::vector<uint8_t> img = fer::data::load_image_gray48(f);
        ds.push_back(img.data(), 0, fer::data::Split::unknown, f);
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
    std::ostringstream text;
    for (int64_t i = 0; i < ds.size(); ++i) {
      const float* row = probs.data() + i * k;
      std::vector<int> order(static_cast<size_t>(k));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });
      json top_list = json::array(), all = json::object();
      for (int c = 0; c < k; ++c) all[names[static_cast<size_t>(c)]] = row[c];
      text << ds.sources[static_cast<size_t>(i)] << ":";
      for (int t = 0; t < shown; ++t) {
        const int c = order[static_cast<size_t>(t)];
        top_list.push_back({{"class", names[static_cast<size_t>(c)]}, {"probability", row[c]}});
        text << (t ? ", " : "  ") << names[static_cast<size_t>(c)] << " " << std::fixed << std::setprecision(4)
             << row[c];
      }
      text << "\n";
      preds.push_back({{"file", ds.sources[static_cast<size_t>(i)]},
                       {"label", names[static_cast<size_t>(order[0])]},
                       {"probability", row[order[0]]},
                       {"top", top_list},
                       {"probabilities", all}});
    }
    if (as_json) {
      const json j = {{"checkpoint", checkpoint}, {"model", model.name},  {"class_set", model.classes.id},
                      {"classes", names},         {"predictions", preds}, {"errors", errors}};
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
