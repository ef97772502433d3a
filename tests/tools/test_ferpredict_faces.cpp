// ferpredict's faces end to end (CPU), with a tiny checkpoint trained by fertrain on synthetic faces:
// --detect boxes (an external detector's CSV: each box classified exactly as its pre-cropped image,
// clipping, images without a box, bad rows naming FILE:line and the field), --format csv (columns,
// probabilities), --annotate (a PNG of the input's size with the boxes drawn, repeated stems
// suffixed), the --detect haar options (--scale-factor, --min-neighbors, --max-face), and fercam
// --detect haar (the largest face's crop explained; no face is an error). The haar cases need
// $FER_DATA's fer2013/ and Debian's opencv-data cascade and say so when skipped.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/synthetic.h"
#include "tests/unit/test_data_fixtures.h"
#include "tests/unit/test_png_fixtures.h"
#include "tools/common/gradcam.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Run {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Run run_program(const std::string& program, const std::string& args) {
  const std::string stem =
      (fs::temp_directory_path() / ("fer_test_faces_" + program + "_" + std::to_string(::getpid()))).string();
  const std::string cmd =
      std::string(FER_BINARY_DIR) + "/bin/" + program + " " + args + " > " + stem + ".out 2> " + stem + ".err";
  const int status = std::system(cmd.c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(stem + ".out"), slurp(stem + ".err")};
  fs::remove(stem + ".out");
  fs::remove(stem + ".err");
  return r;
}

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

json parse_json(const Run& r) {
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  json j;
  REQUIRE_NOTHROW(j = json::parse(r.out));
  return j;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == sep)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

// A gray scene (200x150): a gradient with synthetic face A enlarged 2x at (20, 30) (96x96) and face
// B at its own size at (140, 80) (48x48), plus a plain gradient image; written once.
constexpr int kW = 200, kH = 150;

struct Fixture {
  fer::test::TempDir dir;
  std::string ckpt, train_log, scene, plain;
  std::vector<uint8_t> scene_px, plain_px;
  bool ok = true;
  Fixture() {
    const Run r =
        run_program("fertrain", "--synthetic-count 140 --width 0.25 --epochs 1 --threads 2 --no-progress --out " +
                                    (dir / "run").string());
    train_log = r.out + r.err;
    ok = r.code == 0;
    ckpt = (dir / "run" / "best.safetensors").string();
    std::vector<uint8_t> a(48 * 48), b(48 * 48);
    fer::data::render_synthetic_face(5, 3, a.data());
    fer::data::render_synthetic_face(7, 11, b.data());
    scene_px.resize(kW * kH);
    plain_px.resize(kW * kH);
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x) {
        uint8_t v = static_cast<uint8_t>(30 + (x + 2 * y) * 150 / 500);
        plain_px[static_cast<size_t>(y * kW + x)] = v;
        if (x >= 20 && x < 116 && y >= 30 && y < 126) v = a[static_cast<size_t>(((y - 30) / 2) * 48 + (x - 20) / 2)];
        if (x >= 140 && x < 188 && y >= 80 && y < 128) v = b[static_cast<size_t>((y - 80) * 48 + (x - 140))];
        scene_px[static_cast<size_t>(y * kW + x)] = v;
      }
    scene = (dir / "scene.png").string();
    plain = (dir / "plain.png").string();
    fer::data::write_image(scene, scene_px.data(), kW, kH, 1);
    fer::data::write_image(plain, plain_px.data(), kW, kH, 1);
  }
  // The scene's region (x, y, w, h) as its own image file.
  std::string write_crop(const std::string& name, int x0, int y0, int w, int h) const {
    std::vector<uint8_t> px(static_cast<size_t>(w * h));
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        px[static_cast<size_t>(y * w + x)] = scene_px[static_cast<size_t>((y0 + y) * kW + x0 + x)];
    const std::string path = (dir / name).string();
    fer::data::write_image(path, px.data(), w, h, 1);
    return path;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::string write_boxes(const fs::path& dir, const std::string& text) {
  const std::string path = (dir / "boxes.csv").string();
  fer::test::write_text(path, text);
  return path;
}

}  // namespace

TEST_CASE("ferpredict --detect boxes: each box classified as its pre-cropped image, clipping, no box listed") {
  Fixture& fx = fixture();
  INFO(fx.train_log);
  REQUIRE(fx.ok);
  const fer::test::TempDir d;
  // face A, face B (written "./"-prefixed: the same path after normalisation), and a box hanging
  // over the bottom-right corner (clipped to 150,100 50x50)
  const std::string boxes = write_boxes(d.path(), "path,x,y,w,h\n" + fx.scene + ",20,30,96,96\n" +
                                                      (fs::path(fx.scene).parent_path() / "." / "scene.png").string() +
                                                      ", 140 , 80 , 48 , 48 \n\n" + fx.scene + ",150,100,100,100\n");
  std::ostringstream args;
  args << "--checkpoint " << fx.ckpt << " --detect boxes --boxes " << boxes << " --json " << fx.scene << " "
       << fx.plain;
  const json j = parse_json(run_program("ferpredict", args.str()));
  REQUIRE(j.at("predictions").size() == 3);
  const json& p = j.at("predictions");
  CHECK(p[0].at("face").at("box") == json::array({20, 30, 96, 96}));
  CHECK(p[1].at("face").at("box") == json::array({140, 80, 48, 48}));
  CHECK(p[2].at("face").at("box") == json::array({150, 100, 50, 50}));
  for (int i = 0; i < 3; ++i) {
    CHECK(p[static_cast<size_t>(i)].at("file") == fx.scene);
    CHECK(p[static_cast<size_t>(i)].at("face").at("index") == i + 1);
  }
  CHECK(j.at("no_face") == json::array({fx.plain}));

  // the same regions cut out beforehand and classified as face crops: the same probabilities
  const std::string ca = fx.write_crop("crop_a.png", 20, 30, 96, 96), cb = fx.write_crop("crop_b.png", 140, 80, 48, 48),
                    cc = fx.write_crop("crop_c.png", 150, 100, 50, 50);
  const json pre =
      parse_json(run_program("ferpredict", "--checkpoint " + fx.ckpt + " --json " + ca + " " + cb + " " + cc));
  REQUIRE(pre.at("predictions").size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(pre.at("predictions")[i].at("label") == p[i].at("label"));
    for (const auto& [name, v] : p[i].at("probabilities").items())
      CHECK(v.get<double>() ==
            doctest::Approx(pre.at("predictions")[i].at("probabilities").at(name).get<double>()).epsilon(1e-5));
  }
  // and not merely any crop: face A and face B differ
  CHECK(p[0].at("probabilities") != p[1].at("probabilities"));

  // text: each face with its box, the image without a box said; --fallback whole classifies it whole
  std::ostringstream targs;
  targs << "--checkpoint " << fx.ckpt << " --detect boxes --boxes " << boxes << " " << fx.plain << " " << fx.scene;
  const Run text = run_program("ferpredict", targs.str());
  INFO(text.out);
  CHECK(text.code == 0);
  CHECK(text.out.find("plain.png: no face found\n") != std::string::npos);
  CHECK(text.out.find("scene.png face 1 at 20,30 96x96:") != std::string::npos);
  CHECK(text.out.find("scene.png face 3 at 150,100 50x50:") != std::string::npos);
  const json whole = parse_json(run_program("ferpredict", targs.str() + " --fallback whole --json"));
  REQUIRE(whole.at("predictions").size() == 4);
  CHECK(whole.at("predictions")[0].at("file") == fx.plain);
  CHECK(whole.at("predictions")[0].at("face").at("index") == 0);
  CHECK(whole.at("predictions")[0].at("face").at("box") == json::array({0, 0, kW, kH}));
  CHECK(whole.at("no_face").empty());

  // a spreadsheet's export (UTF-8 byte-order mark, CRLF) reads the same; an image given twice under
  // two spellings gets its boxes under both
  const std::string bom = write_boxes(d.path(), "\xEF\xBB\xBFpath,x,y,w,h\r\n" + fx.scene + ",20,30,96,96\r\n");
  const std::string dotted = (fs::path(fx.scene).parent_path() / "." / "scene.png").string();
  const json twice = parse_json(run_program(
      "ferpredict", "--checkpoint " + fx.ckpt + " --detect boxes --boxes " + bom + " --json " + fx.scene + " " + dotted));
  REQUIRE(twice.at("predictions").size() == 2);
  CHECK(twice.at("predictions")[0].at("face").at("box") == json::array({20, 30, 96, 96}));
  CHECK(twice.at("predictions")[1].at("file") == dotted);
  CHECK(twice.at("predictions")[1].at("probabilities") == p[0].at("probabilities"));
}

TEST_CASE("ferpredict --detect boxes: a bad row names FILE:line and the field") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const fer::test::TempDir d;
  struct Case {
    std::string rows, where, what;
  };
  const std::string s = fx.scene;
  const std::vector<Case> cases = {
      {"file,x,y,w,h\n" + s + ",1,1,10,10\n", "boxes.csv:1:", "header must be 'path,x,y,w,h'"},
      {"", "boxes.csv:1:", "no header"},
      {"path,x,y,w,h\n" + s + ",abc,1,10,10\n", "boxes.csv:2:", "field 'x' is not a number: 'abc'"},
      {"path,x,y,w,h\n" + s + ",1,1,10,10\n" + s + ",1,,10,10\n", "boxes.csv:3:", "field 'y' is not a number"},
      {"path,x,y,w,h\n" + s + ",1,1,-5,10\n", "boxes.csv:2:", "field 'w' must be a size >= 1"},
      {"path,x,y,w,h\n\n" + s + ",1,1,10,0\n", "boxes.csv:3:", "field 'h' must be a size >= 1"},
      {"path,x,y,w,h\n" + s + ",1,1,10\n", "boxes.csv:2:", "expected 5 fields"},
      {"path,x,y,w,h\n" + (d / "elsewhere.png").string() + ",1,1,10,10\n",
       "boxes.csv:2:", "field 'path': '" + (d / "elsewhere.png").string() + "' is not one of the input images"},
      {"path,x,y,w,h\n" + s + ",1,1,10,10\n" + s + ",200,10,20,20\n",
       "boxes.csv:3:", "the box 200,10 20x20 lies outside the 200x150 image"},
      {"path,x,y,w,h\n" + s + ",-30,5,30,20\n", "boxes.csv:2:", "fields x,y,w,h"},
  };
  for (const Case& c : cases) {
    const std::string boxes = write_boxes(d.path(), c.rows);
    const Run r = run_program("ferpredict", "--checkpoint " + fx.ckpt + " --detect boxes --boxes " + boxes + " " + s);
    INFO(c.rows);
    INFO(r.err);
    CHECK(r.code != 0);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(c.where) != std::string::npos);
    CHECK(r.err.find(c.what) != std::string::npos);
    CHECK(r.out.empty());
  }
  const Run no_file = run_program("ferpredict", "--checkpoint " + fx.ckpt + " --detect boxes " + s);
  CHECK(no_file.code != 0);
  CHECK(no_file.err.find("--detect boxes needs --boxes FILE") != std::string::npos);
  const Run stray =
      run_program("ferpredict", "--checkpoint " + fx.ckpt + " --boxes " + (d / "boxes.csv").string() + " " + s);
  CHECK(stray.code != 0);
  CHECK(stray.err.find("--boxes applies to --detect boxes") != std::string::npos);
}

TEST_CASE("ferpredict --format csv: one row per face, the class columns, probabilities summing to 1") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const fer::test::TempDir d;
  const std::string boxes =
      write_boxes(d.path(), "path,x,y,w,h\n" + fx.scene + ",20,30,96,96\n" + fx.scene + ",140,80,48,48\n");
  const std::string common =
      "--checkpoint " + fx.ckpt + " --detect boxes --boxes " + boxes + " " + fx.scene + " " + fx.plain;
  const json j = parse_json(run_program("ferpredict", common + " --json"));
  const std::vector<std::string> classes = j.at("classes").get<std::vector<std::string>>();
  REQUIRE(classes.size() == 7);

  const Run r = run_program("ferpredict", common + " --format csv");
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::vector<std::string> rows = split(r.out, '\n');
  REQUIRE(rows.back().empty());
  rows.pop_back();
  REQUIRE(rows.size() == 4);  // header, two faces, the image without a box
  std::vector<std::string> header = {"path", "face", "x", "y", "w", "h", "predicted", "confidence"};
  header.insert(header.end(), classes.begin(), classes.end());
  CHECK(split(rows[0], ',') == header);
  for (size_t i = 1; i <= 2; ++i) {
    const std::vector<std::string> f = split(rows[i], ',');
    REQUIRE(f.size() == header.size());
    CHECK(f[0] == fx.scene);
    CHECK(f[1] == std::to_string(i));
    CHECK(f[2] == (i == 1 ? "20" : "140"));
    CHECK(f[5] == (i == 1 ? "96" : "48"));
    double sum = 0, best = -1;
    size_t arg = 0;
    for (size_t c = 0; c < classes.size(); ++c) {
      const double v = std::stod(f[8 + c]);
      CHECK(v >= 0);
      sum += v;
      if (v > best) best = v, arg = c;
      CHECK(v ==
            doctest::Approx(j.at("predictions")[i - 1].at("probabilities").at(classes[c]).get<double>()).epsilon(1e-5));
    }
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-4));
    CHECK(f[6] == classes[arg]);
    CHECK(std::stod(f[7]) == doctest::Approx(best));
  }
  const std::vector<std::string> none = split(rows[3], ',');
  CHECK(none.size() == header.size());
  CHECK(none[0] == fx.plain);
  CHECK(std::all_of(none.begin() + 1, none.end(), [](const std::string& s) { return s.empty(); }));

  // without detection: one row per image, the box columns empty
  const Run plain = run_program("ferpredict", "--checkpoint " + fx.ckpt + " --format csv " + fx.plain);
  REQUIRE(plain.code == 0);
  const std::vector<std::string> prow = split(split(plain.out, '\n')[1], ',');
  REQUIRE(prow.size() == header.size());
  CHECK(prow[0] == fx.plain);
  for (size_t c = 1; c <= 5; ++c) CHECK(prow[c].empty());
  CHECK(!prow[6].empty());

  const Run both = run_program("ferpredict", "--checkpoint " + fx.ckpt + " --json --format csv " + fx.plain);
  CHECK(both.code != 0);
  CHECK(both.err.find("--json is --format json") != std::string::npos);
}

TEST_CASE("ferpredict --annotate: the image with each box drawn, a repeated stem suffixed") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const fer::test::TempDir d;
  fs::create_directories(d / "a");
  fs::create_directories(d / "b");
  fs::copy_file(fx.scene, d / "a" / "scene.png");
  fs::copy_file(fx.plain, d / "b" / "scene.png");
  const std::string first = (d / "a" / "scene.png").string(), second = (d / "b" / "scene.png").string();
  const std::string boxes = write_boxes(d.path(), "path,x,y,w,h\n" + first + ",20,30,96,96\n");
  const json j = parse_json(run_program("ferpredict", "--checkpoint " + fx.ckpt + " --detect boxes --boxes " + boxes +
                                                          " --annotate " + (d / "ann").string() + " --json " + first +
                                                          " " + second));
  REQUIRE(j.at("annotated").size() == 2);
  CHECK(j.at("annotated")[0].at("file") == first);
  CHECK(j.at("annotated")[0].at("png") == (d / "ann" / "scene_fer.png").string());
  CHECK(j.at("annotated")[1].at("png") == (d / "ann" / "scene_fer-2.png").string());

  const auto png = fer::test::decode_png(slurp(d / "ann" / "scene_fer.png"));
  REQUIRE(png.ok());
  CHECK(png.width == kW);
  CHECK(png.height == kH);
  auto is_image = [&](int x, int y) {
    const uint8_t v = fx.scene_px[static_cast<size_t>(y * kW + x)];
    return png.at(x, y) == fer::tools::Rgb{v, v, v};
  };
  int border = 0, changed = 0;  // the box outline (bottom and both sides; the label may cover the top)
  for (int y = 30; y < 126; ++y, border += 2) changed += !is_image(20, y) + !is_image(115, y);
  for (int x = 20; x < 116; ++x, ++border) changed += !is_image(x, 125);
  CHECK(changed == border);
  int inside = 0;  // the face itself, inside the outline, is untouched
  for (int y = 40; y < 120; ++y)
    for (int x = 25; x < 110; ++x) inside += !is_image(x, y);
  CHECK(inside == 0);
  // the label above the box: ink in the band just above y = 30
  int label = 0;
  for (int y = 18; y < 30; ++y)
    for (int x = 20; x < 80; ++x) label += !is_image(x, y);
  CHECK(label > 100);
  // far from the box, the picture is the input's
  CHECK(is_image(170, 20));
  CHECK(is_image(160, 140));

  const auto second_png = fer::test::decode_png(slurp(d / "ann" / "scene_fer-2.png"));
  REQUIRE(second_png.ok());
  CHECK(second_png.width == kW);
  // the plain image (not the scene again), with "no face" on a vermillion label at its top-left
  const uint8_t v = fx.plain_px[static_cast<size_t>(70 * kW + 60)];
  CHECK(second_png.at(60, 70) == fer::tools::Rgb{v, v, v});
  CHECK(second_png.at(0, 0) == fer::tools::colors::kVermillion);
  CHECK(png.at(0, 0) != fer::tools::colors::kVermillion);
}

TEST_CASE("ferpredict --detect haar options: --scale-factor, --min-neighbors, --max-face") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  struct Case {
    std::string flags, what;
  };
  const std::vector<Case> cases = {
      {"--detect haar --scale-factor 1.0", "--scale-factor must be > 1.0"},
      {"--detect haar --scale-factor 0.5", "--scale-factor must be > 1.0"},
      {"--detect haar --min-neighbors -1", "--min-neighbors must be >= 0"},
      {"--detect haar --max-face -3", "--max-face must be >= 0"},
      {"--detect haar --min-face 80 --max-face 40", "--max-face 40 is smaller than --min-face 80"},
      {"--scale-factor 1.2", "--scale-factor applies to --detect haar"},
      {"--min-neighbors 2", "--min-neighbors applies to --detect haar"},
      {"--max-face 100", "--max-face applies to --detect haar"},
      {"--face-margin 0.1", "--face-margin applies to --detect haar or --detect boxes"},
  };
  for (const Case& c : cases) {
    const Run r = run_program("ferpredict", "--checkpoint " + fx.ckpt + " " + c.flags + " " + fx.scene);
    INFO(c.flags);
    INFO(r.err);
    CHECK(r.code != 0);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(c.what) != std::string::npos);
  }
}

namespace {

// The ferpredict haar test's photo: a 320x240 gradient with a FER2013 face enlarged 2x at (120, 70)
// (OpenCV 4.6 finds it at 116,60 93x93); empty when $FER_DATA or the cascade is missing.
bool write_haar_photo(const fs::path& photo, const fs::path& blank) {
  const char* data_root = std::getenv("FER_DATA");
  const fs::path face_file = fs::path(data_root ? data_root : "") / "fer2013/test/angry/PublicTest_10116449.jpg";
  if (!data_root || !fs::exists(face_file) ||
      !fs::exists("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"))
    return false;
  const std::vector<uint8_t> face = fer::data::load_image_gray48(face_file);
  std::vector<uint8_t> p(320 * 240), b(320 * 240);
  for (int y = 0; y < 240; ++y)
    for (int x = 0; x < 320; ++x) {
      const bool in_face = x >= 120 && x < 216 && y >= 70 && y < 166;
      const uint8_t g = static_cast<uint8_t>(40 + (x + y) * 160 / 560);
      p[static_cast<size_t>(y * 320 + x)] =
          in_face ? face[static_cast<size_t>(((y - 70) / 2) * 48 + (x - 120) / 2)] : g;
      b[static_cast<size_t>(y * 320 + x)] = g;
    }
  fer::data::write_image(photo, p.data(), 320, 240, 1);
  fer::data::write_image(blank, b.data(), 320, 240, 1);
  return true;
}

}  // namespace

TEST_CASE("ferpredict --detect haar with --max-face / --min-neighbors / --scale-factor on a FER2013 photo") {
  const fer::test::TempDir d;
  if (!write_haar_photo(d / "photo.png", d / "blank.png")) {
    MESSAGE("skipped: needs $FER_DATA's fer2013/ and /usr/share/opencv4/haarcascades (apt-get install opencv-data)");
    return;
  }
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const std::string base = "--checkpoint " + fx.ckpt + " --detect haar --json " + (d / "photo.png").string();
  const json def = parse_json(run_program("ferpredict", base));
  REQUIRE(def.at("predictions").size() == 1);
  const int side = def.at("predictions")[0].at("face").at("box")[2].get<int>();
  CHECK(side > 60);
  const json small = parse_json(run_program("ferpredict", base + " --max-face 60"));
  INFO(small.dump());
  for (const json& p : small.at("predictions")) {  // the 93x93 face is gone; only boxes up to 60 (a part of it)
    CHECK(p.at("face").at("box")[2].get<int>() <= 60);
    CHECK(p.at("face").at("box")[3].get<int>() <= 60);
  }
  const json tiny = parse_json(run_program("ferpredict", base + " --max-face 30"));
  CHECK(tiny.at("predictions").empty());
  CHECK(tiny.at("no_face").size() == 1);
  const json raw = parse_json(run_program("ferpredict", base + " --min-neighbors 0"));
  CHECK(raw.at("predictions").size() > def.at("predictions").size());  // every window, ungrouped
  const json coarse = parse_json(run_program("ferpredict", base + " --scale-factor 1.3"));
  CHECK(coarse.at("predictions").size() <= 1);
}

TEST_CASE(
    "fercam --detect haar: the largest face's crop explained (as ferpredict classified it); no face is an error") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const fer::test::TempDir d;
  const Run stray = run_program(
      "fercam", "--checkpoint " + fx.ckpt + " --image " + fx.scene + " --min-face 30 --out " + (d / "x.png").string());
  CHECK(stray.code != 0);
  CHECK(stray.err.find("--min-face applies to --detect haar") != std::string::npos);
  if (!write_haar_photo(d / "photo.png", d / "blank.png")) {
    MESSAGE("skipped: needs $FER_DATA's fer2013/ and /usr/share/opencv4/haarcascades (apt-get install opencv-data)");
    return;
  }
  const std::string photo = (d / "photo.png").string(), out = (d / "cam.png").string();
  const Run r = run_program("fercam", "--checkpoint " + fx.ckpt + " --image " + photo + " --detect haar --out " + out);
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("photo.png face at ") != std::string::npos);
  const auto png = fer::test::decode_png(slurp(out));
  REQUIRE(png.ok());
  CHECK(png.width == 192);
  CHECK(png.height == 192 + fer::tools::gradcam_caption_height());

  // the class and probability fercam explains are ferpredict --detect haar's for that face
  const json j = parse_json(run_program("ferpredict", "--checkpoint " + fx.ckpt + " --detect haar --json " + photo));
  REQUIRE(j.at("predictions").size() == 1);
  const std::string label = ": " + j.at("predictions")[0].at("label").get<std::string>() + " p=";
  const size_t at = r.out.find(label);
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(r.out.substr(at + label.size())) ==
        doctest::Approx(j.at("predictions")[0].at("probability").get<double>()).epsilon(2e-4));
  // ...and not the whole photo squashed (which --detect none explains)
  const Run whole =
      run_program("fercam", "--checkpoint " + fx.ckpt + " --image " + photo + " --out " + (d / "w.png").string());
  REQUIRE(whole.code == 0);
  CHECK(slurp(out) != slurp(d / "w.png"));

  const Run none = run_program("fercam", "--checkpoint " + fx.ckpt + " --image " + (d / "blank.png").string() +
                                             " --detect haar --out " + (d / "none.png").string());
  CHECK(none.code != 0);
  CHECK(lines(none.err) == 1);
  CHECK(none.err.find("no face found in " + (d / "blank.png").string()) != std::string::npos);
  CHECK(none.err.find("hint: --detect none") != std::string::npos);
  CHECK(!fs::exists(d / "none.png"));
}
