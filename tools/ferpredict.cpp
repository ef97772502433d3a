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
// dropped silently. --detect boxes takes the faces from an external detector instead: a CSV file
// (--boxes FILE, header path,x,y,w,h) whose boxes are cropped and classified exactly like haar's.
//
// --format text | json | csv (--json = --format json); --annotate DIR also writes each image with
// its face boxes and top class drawn on it (DIR/<stem>_fer.png).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>

#include "data/dataset.h"
#include "data/face_detect.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "kernels/common.h"
#include "tools/common/build_info.h"
#include "tools/common/checkpoint_model.h"
#include "tools/common/png_canvas.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// A bad --boxes file: fatal (not one image's error), the message names FILE:line and the field.
struct BoxesFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void boxes_error(const std::string& file, int line, const std::string& what) {
  std::ostringstream s;
  s << file << ":" << line << ": " << what;
  throw BoxesFileError(s.str());
}

// One CSV line split into fields; a field in double quotes may hold commas ("" is a quote).
std::vector<std::string> split_csv(const std::string& line, const std::string& file, int line_no) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        fields.back() += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) boxes_error(file, line_no, "unterminated quote");
  for (std::string& f : fields) {  // surrounding blanks are not part of a field
    const size_t a = f.find_first_not_of(" \t"), b = f.find_last_not_of(" \t");
    f = a == std::string::npos ? std::string() : f.substr(a, b - a + 1);
  }
  return fields;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

struct BoxRow {
  fer::data::FaceBox box;
  int line = 0;
};

// The --boxes file: header path,x,y,w,h, then any number of rows per image. `path` is the image's
// path as ferpredict prints it (as given on the command line, or FOLDER/... for a file found under a
// FOLDER argument), compared after lexical normalisation ("./a.png" is "a.png"; an image given twice
// under two spellings gets the rows of both). x, y, w, h are pixels of the upright image (after the
// JPEG's EXIF orientation, as ferpredict decodes it; decimals are rounded); w and h must be >= 1.
// A UTF-8 byte-order mark before the header (spreadsheet exports) is skipped. Rows are returned per
// image, in file order.
std::map<std::string, std::vector<BoxRow>> read_boxes_file(const std::string& file,
                                                           const std::vector<std::string>& images) {
  std::ifstream in(file, std::ios::binary);
  FER_CHECK(in, "--boxes: cannot open '" << file << "'");
  std::map<std::string, std::vector<std::string>> by_normal;  // normalised path -> the paths as printed
  for (const std::string& f : images) {
    std::vector<std::string>& printed = by_normal[fs::path(f).lexically_normal().string()];
    if (std::find(printed.begin(), printed.end(), f) == printed.end()) printed.push_back(f);
  }
  std::map<std::string, std::vector<BoxRow>> out;
  std::string line;
  int line_no = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 byte-order mark
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::vector<std::string> f = split_csv(line, file, line_no);
    if (!header) {
      if (f != std::vector<std::string>{"path", "x", "y", "w", "h"})
        boxes_error(file, line_no, "the header must be 'path,x,y,w,h', got '" + line + "'");
      header = true;
      continue;
    }
    if (f.size() != 5) {
      std::ostringstream s;
      s << "expected 5 fields (path,x,y,w,h), got " << f.size();
      boxes_error(file, line_no, s.str());
    }
    if (f[0].empty()) boxes_error(file, line_no, "field 'path' is empty");
    const auto known = by_normal.find(fs::path(f[0]).lexically_normal().string());
    if (known == by_normal.end())
      boxes_error(file, line_no,
                  "field 'path': '" + f[0] +
                      "' is not one of the input images; hint: write the path as ferpredict prints it (as given "
                      "on the command line, e.g. photos/a.jpg for a file under the folder argument photos/)");
    static const char* kNames[4] = {"x", "y", "w", "h"};
    int v[4];
    for (int i = 0; i < 4; ++i) {
      const std::string& t = f[static_cast<size_t>(i) + 1];
      double d = 0;
      const auto r = std::from_chars(t.data(), t.data() + t.size(), d);
      if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size() || !std::isfinite(d) || std::abs(d) > 1e9)
        boxes_error(file, line_no, std::string("field '") + kNames[i] + "' is not a number: '" + t + "'");
      v[i] = static_cast<int>(std::lround(d));
      if (i >= 2 && v[i] < 1)
        boxes_error(file, line_no, std::string("field '") + kNames[i] + "' must be a size >= 1 pixel, got '" + t + "'");
    }
    for (const std::string& printed : known->second) out[printed].push_back({{v[0], v[1], v[2], v[3], 0}, line_no});
  }
  if (!header) boxes_error(file, std::max(line_no, 1), "no header 'path,x,y,w,h' (the file is empty)");
  return out;
}

// The DIR/<stem>_fer.png of each image; the same stem twice (two folders) gets <stem>_fer-2.png, ...
std::string annotation_path(const fs::path& dir, const std::string& file, std::set<std::string>& used) {
  const std::string stem = fs::path(file).stem().string() + "_fer";
  std::string name = stem + ".png";
  for (int n = 2; used.count(name) > 0; ++n) {
    std::ostringstream s;
    s << stem << "-" << n << ".png";
    name = s.str();
  }
  used.insert(name);
  return (dir / name).string();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferpredict: class probabilities of face images (any size, gray or RGB) from a fer checkpoint."};
  app.set_version_flag("--version", fer::tools::version_text("ferpredict"));
  std::string checkpoint, device_flag = "cpu", format = "text", annotate_dir, boxes_path;
  std::vector<std::string> inputs;
  bool as_json = false;
  int top = 0;
  int64_t batch_size = 128;
  std::string detect = "none", cascade_path = fer::data::kDefaultFaceCascade, fallback = "none";
  const fer::data::FaceDetectOptions defaults;
  int min_face = 0, max_face = 0, min_neighbors = defaults.min_neighbors;
  double face_margin = 0.0, scale_factor = defaults.scale_factor;
  app.add_option("--checkpoint", checkpoint, "fer checkpoint (best.safetensors of a fertrain run)")->required();
  app.add_option("inputs", inputs, "image files and/or folders (searched recursively for .jpg .jpeg .png .bmp)")
      ->required();
  app.add_option("--top", top, "show the K most probable classes per image (default: all; text and json)");
  app.add_option("--device", device_flag, "cpu | cuda");
  app.add_option("--batch-size", batch_size, "images per forward pass");
  app.add_option("--format", format,
                 "text | json (one object) | csv (one row per face: path,face,x,y,w,h,"
                 "predicted,confidence, then one probability column per class)")
      ->check(CLI::IsMember({"text", "json", "csv"}));
  app.add_flag("--json", as_json, "the same as --format json");
  app.add_option("--annotate", annotate_dir,
                 "also write each image with its face boxes and top class drawn on it "
                 "to DIR/<stem>_fer.png (<stem>_fer-2.png, ... for a repeated stem)");
  app.add_option("--detect", detect,
                 "none: each image is one face crop (FER2013-style); haar: find the faces in "
                 "each image first (OpenCV's frontal-face Haar cascade); boxes: the faces "
                 "listed in --boxes FILE (an external detector)")
      ->check(CLI::IsMember({"none", "haar", "boxes"}));
  app.add_option("--boxes", boxes_path,
                 "--detect boxes: CSV with header path,x,y,w,h (path as ferpredict prints "
                 "it: as given on the command line); any number of boxes per image");
  app.add_option("--cascade", cascade_path, "the Haar cascade XML for --detect haar (Debian: opencv-data)");
  app.add_option("--min-face", min_face, "--detect haar: smallest face side in pixels (default: the cascade's 24)");
  app.add_option("--max-face", max_face, "--detect haar: largest face side in pixels (default: no limit)");
  app.add_option("--scale-factor", scale_factor,
                 "--detect haar: the image pyramid's step, > 1 (default 1.1; "
                 "larger is faster and misses more faces)");
  app.add_option("--min-neighbors", min_neighbors,
                 "--detect haar: a face needs more than this many overlapping "
                 "windows, >= 0 (default 3; 0: every window, ungrouped)");
  app.add_option("--face-margin", face_margin, "--detect haar|boxes: widen each face box by this fraction of its side");
  app.add_option("--fallback", fallback,
                 "--detect haar|boxes, an image without a face: none (say so) | whole "
                 "(classify the whole image)")
      ->check(CLI::IsMember({"none", "whole"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    FER_CHECK(top >= 0, "--top must be positive, got " << top);
    FER_CHECK(batch_size >= 1, "--batch-size must be positive, got " << batch_size);
    FER_CHECK(!as_json || app.count("--format") == 0 || format == "json",
              "--json is --format json, but --format " << format << " was given too; hint: keep one of them");
    if (as_json) format = "json";
    FER_CHECK(min_face >= 0, "--min-face must be >= 0, got " << min_face);
    FER_CHECK(max_face >= 0, "--max-face must be >= 0, got " << max_face);
    FER_CHECK(max_face == 0 || max_face >= min_face,
              "--max-face " << max_face << " is smaller than --min-face " << min_face);
    FER_CHECK(std::isfinite(scale_factor) && scale_factor > 1.0,
              "--scale-factor must be > 1.0 (each pyramid level shrinks the image by it), got "
                  << scale_factor << "; hint: 1.1 or 1.2");
    FER_CHECK(min_neighbors >= 0, "--min-neighbors must be >= 0, got " << min_neighbors);
    FER_CHECK(face_margin >= 0 && face_margin <= 1, "--face-margin must be in [0, 1], got " << face_margin);
    const bool haar = detect == "haar", by_boxes = detect == "boxes", detecting = haar || by_boxes;
    for (const char* flag : {"--cascade", "--min-face", "--max-face", "--scale-factor", "--min-neighbors"})
      FER_CHECK(haar || app.count(flag) == 0, flag << " applies to --detect haar; hint: add --detect haar");
    for (const char* flag : {"--face-margin", "--fallback"})
      FER_CHECK(detecting || app.count(flag) == 0,
                flag << " applies to --detect haar or --detect boxes; hint: add --detect haar");
    FER_CHECK(by_boxes || app.count("--boxes") == 0, "--boxes applies to --detect boxes; hint: add --detect boxes");
    FER_CHECK(!by_boxes || !boxes_path.empty(), "--detect boxes needs --boxes FILE (CSV: path,x,y,w,h)");
    fer::data::HaarCascade cascade;
    if (haar) {
      FER_CHECK(fs::exists(cascade_path), "--detect haar: no cascade at " << cascade_path
                                                                          << "; hint: apt-get install opencv-data, or "
                                                                             "--cascade FILE");
      cascade = fer::data::load_haar_cascade(cascade_path);
    }
    fer::data::FaceDetectOptions detect_options;
    detect_options.min_size = min_face;
    detect_options.max_size = max_face;
    detect_options.scale_factor = scale_factor;
    detect_options.min_neighbors = min_neighbors;

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
    std::map<std::string, std::vector<BoxRow>> listed;
    if (by_boxes) listed = read_boxes_file(boxes_path, files);

    const fer::Device device = fer::tools::device_from_name(device_flag);
    const fer::tools::LoadedModel model = fer::tools::load_model_from_checkpoint(checkpoint, device);
    fer::tools::require_classifier(model, "ferpredict");
    const std::vector<std::string>& names = model.classes.names;
    const int k = static_cast<int>(names.size());
    const int shown = top == 0 ? k : std::min(top, k);

    // decode (48x48 gray, as the readers do); with --detect, one 48x48 crop per face
    fer::data::Dataset ds;
    ds.classes = model.classes;
    struct Face {
      fer::data::FaceBox box;  // as classified (clipped to the image); the whole image without --detect
      int index = 0;           // 1-based within its image; 0: the whole image
    };
    std::vector<Face> faces;  // per entry of ds
    std::vector<std::string> no_face;
    // the output in file order: each readable file's entries of ds [first, first + count), or its
    // "no face found" line
    struct FileLines {
      std::string file;
      int64_t first = 0, count = 0;
    };
    std::vector<FileLines> file_lines;
    for (const std::string& f : files) {
      try {
        const fer::data::GrayImage image = fer::data::load_image_gray(f);
        const fer::data::FaceBox whole_box{0, 0, image.width, image.height, 0};
        auto push_whole = [&] {
          std::vector<uint8_t> whole(fer::data::kImagePixels);
          if (image.width == fer::data::kImageSide && image.height == fer::data::kImageSide)
            whole = image.pixels;
          else
            fer::data::resize_gray(image.pixels.data(), image.width, image.height, whole.data(), fer::data::kImageSide,
                                   fer::data::kImageSide);
          ds.push_back(whole.data(), 0, fer::data::Split::unknown, f);
          faces.push_back({whole_box, 0});
        };
        if (!detecting) {
          file_lines.push_back({f, ds.size(), 1});
          push_whole();
          continue;
        }
        std::vector<fer::data::FaceBox> found;
        if (haar) {
          found = fer::data::detect_faces(cascade, image, detect_options);
        } else if (const auto it = listed.find(f); it != listed.end()) {
          for (const BoxRow& r : it->second) {  // clipped to the image; at least one pixel must remain
            const fer::data::FaceBox& b = r.box;
            const int x0 = std::max(0, b.x), y0 = std::max(0, b.y);
            const int x1 = std::min(image.width, b.x + b.w), y1 = std::min(image.height, b.y + b.h);
            if (x1 - x0 < 1 || y1 - y0 < 1) {
              std::ostringstream s;
              s << "fields x,y,w,h: the box " << b.x << "," << b.y << " " << b.w << "x" << b.h << " lies outside the "
                << image.width << "x" << image.height << " image '" << f << "' (nothing left after clipping)";
              boxes_error(boxes_path, r.line, s.str());
            }
            found.push_back({x0, y0, x1 - x0, y1 - y0, 0});
          }
        }
        std::vector<std::vector<uint8_t>> crops;  // all of them first: a failure adds nothing
        for (const fer::data::FaceBox& b : found) crops.push_back(fer::data::crop_face48(image, b, face_margin));
        file_lines.push_back({f, ds.size(), static_cast<int64_t>(found.size())});
        for (size_t i = 0; i < found.size(); ++i) {
          ds.push_back(crops[i].data(), 0, fer::data::Split::unknown, f);
          faces.push_back({found[i], static_cast<int>(i) + 1});
        }
        if (!found.empty()) continue;
        if (fallback == "whole") {
          push_whole();
          file_lines.back().count = 1;
        } else {
          no_face.push_back(f);
        }
      } catch (const BoxesFileError&) {
        throw;
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
    std::vector<std::string> entry_text(static_cast<size_t>(ds.size())), entry_csv(static_cast<size_t>(ds.size()));
    std::vector<int> best(static_cast<size_t>(ds.size()));
    for (int64_t i = 0; i < ds.size(); ++i) {
      const float* row = probs.data() + i * k;
      std::vector<int> order(static_cast<size_t>(k));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });
      best[static_cast<size_t>(i)] = order[0];
      json top_list = json::array(), all = json::object();
      for (int c = 0; c < k; ++c) all[names[static_cast<size_t>(c)]] = row[c];
      const std::string& source = ds.sources[static_cast<size_t>(i)];
      const Face& fc = faces[static_cast<size_t>(i)];
      const fer::data::FaceBox& b = fc.box;
      std::ostringstream text, csv;
      text << source;
      csv << csv_field(source) << ",";
      json face_json;
      if (detecting) {
        if (fc.index > 0)
          text << " face " << fc.index << " at " << b.x << "," << b.y << " " << b.w << "x" << b.h;
        else
          text << " (no face found: the whole image " << b.w << "x" << b.h << ")";
        face_json = {{"index", fc.index}, {"box", {b.x, b.y, b.w, b.h}}};
        if (haar) face_json["neighbors"] = b.neighbors;
        csv << fc.index << "," << b.x << "," << b.y << "," << b.w << "," << b.h;
      } else {
        csv << ",,,,";
      }
      text << ":";
      csv << "," << csv_field(names[static_cast<size_t>(order[0])]) << std::fixed << std::setprecision(6) << ","
          << row[order[0]];
      for (int c = 0; c < k; ++c) csv << "," << row[c];
      csv << "\n";
      for (int t = 0; t < shown; ++t) {
        const int c = order[static_cast<size_t>(t)];
        top_list.push_back({{"class", names[static_cast<size_t>(c)]}, {"probability", row[c]}});
        text << (t ? ", " : "  ") << names[static_cast<size_t>(c)] << " " << std::fixed << std::setprecision(4)
             << row[c];
      }
      text << "\n";
      entry_text[static_cast<size_t>(i)] = text.str();
      entry_csv[static_cast<size_t>(i)] = csv.str();
      json entry = {{"file", source},
                    {"label", names[static_cast<size_t>(order[0])]},
                    {"probability", row[order[0]]},
                    {"top", top_list},
                    {"probabilities", all}};
      if (detecting) entry["face"] = face_json;
      preds.push_back(entry);
    }

    // --annotate: the image (gray) with each face's box and "class p" above it
    json annotated = json::array();
    if (!annotate_dir.empty()) {
      std::error_code ec;
      fs::create_directories(annotate_dir, ec);
      FER_CHECK(!ec && fs::is_directory(annotate_dir),
                "--annotate: cannot create the folder '" << annotate_dir << "': " << ec.message());
      std::set<std::string> used;
      for (const FileLines& fl : file_lines) {
        try {
          const fer::data::GrayImage image = fer::data::load_image_gray(fl.file);
          fer::tools::Canvas canvas(image.width, image.height, fer::tools::colors::kBlack);
          for (int y = 0; y < image.height; ++y)
            for (int x = 0; x < image.width; ++x) {
              const uint8_t v = image.at(x, y);
              canvas.pixel(x, y, {v, v, v});
            }
          const int side = std::min(image.width, image.height);
          const int thick = std::max(1, side / 160), scale = std::max(1, side / 240), pad = scale;
          auto label = [&](int x, int y, const std::string& s, fer::tools::Rgb c) {
            const int tw = fer::tools::Canvas::text_width(s, scale) + 2 * pad;
            const int th = fer::tools::Canvas::text_height(s, scale) + 2 * pad;
            const int ly = y - th >= 0 ? y - th : y;  // above the box, or inside at its top
            const int lx = std::min(std::max(0, x), std::max(0, image.width - tw));
            canvas.fill_rect(lx, ly, tw, th, c);
            canvas.text(lx + pad, ly + pad, s, fer::tools::colors::kWhite, scale);
          };
          if (fl.count == 0) label(0, 0, "no face", fer::tools::colors::kVermillion);
          for (int64_t i = fl.first; i < fl.first + fl.count; ++i) {
            const fer::data::FaceBox& b = faces[static_cast<size_t>(i)].box;
            const fer::tools::Rgb c = fer::tools::colors::palette(static_cast<int>(i - fl.first));
            canvas.rect(b.x, b.y, b.w, b.h, c, thick);
            std::ostringstream s;
            const int cls = best[static_cast<size_t>(i)];
            s << names[static_cast<size_t>(cls)] << " " << std::fixed << std::setprecision(2)
              << probs[static_cast<size_t>(i * k + cls)];
            label(b.x, b.y, s.str(), c);
          }
          const std::string out = annotation_path(annotate_dir, fl.file, used);
          canvas.save_png(out);
          annotated.push_back({{"file", fl.file}, {"png", out}});
        } catch (const std::exception& e) {
          fail(fl.file, std::string("--annotate: ") + e.what());
        }
      }
    }

    if (format == "json") {
      json j = {{"checkpoint", checkpoint}, {"model", model.name},  {"class_set", model.classes.id},
                {"classes", names},         {"predictions", preds}, {"errors", errors}};
      if (detecting) j["no_face"] = no_face;
      if (!annotate_dir.empty()) j["annotated"] = annotated;
      std::cout << j.dump() << "\n";
    } else {
      std::ostringstream out;
      if (format == "csv") {
        out << "path,face,x,y,w,h,predicted,confidence";
        for (const std::string& n : names) out << "," << csv_field(n);
        out << "\n";
      }
      for (const FileLines& fl : file_lines) {
        if (fl.count == 0) {
          if (format == "csv")
            out << csv_field(fl.file) << std::string(7 + static_cast<size_t>(k), ',') << "\n";
          else
            out << fl.file << ": no face found\n";
        }
        for (int64_t i = fl.first; i < fl.first + fl.count; ++i)
          out << (format == "csv" ? entry_csv : entry_text)[static_cast<size_t>(i)];
      }
      std::cout << out.str();
    }
    std::cout.flush();
    return errors.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferpredict: error: %s\n", e.what());
    return 1;
  }
}
