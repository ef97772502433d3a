// fercam end to end (CPU): a tiny checkpoint trained by fertrain on synthetic faces, a synthetic
// face written as PNG; the Grad-CAM overlay decodes with the expected size, --layer / --class pick
// what is explained, and a bad layer, class or image gives one clear line and a non-zero exit.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/synthetic.h"
#include "tests/unit/test_data_fixtures.h"
#include "tests/unit/test_png_fixtures.h"
#include "tools/common/gradcam.h"

namespace fs = std::filesystem;

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
      (fs::temp_directory_path() / ("fer_test_fercam_" + program + "_" + std::to_string(::getpid()))).string();
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

struct Fixture {
  fer::test::TempDir dir;
  std::string ckpt, face, train_log;
  bool ok = true;
  Fixture() {
    const Run r =
        run_program("fertrain", "--synthetic-count 140 --width 0.25 --epochs 1 --threads 2 --no-progress --out " +
                                    (dir / "run").string());
    train_log = r.out + r.err;
    ok = r.code == 0;
    ckpt = (dir / "run" / "best.safetensors").string();
    std::vector<uint8_t> px(48 * 48);
    fer::data::render_synthetic_face(5, 3, px.data());
    face = (dir / "face.png").string();
    fer::data::write_image(face, px.data(), 48, 48, 1);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

TEST_CASE("fercam: writes a Grad-CAM overlay PNG of the expected size") {
  Fixture& f = fixture();
  INFO(f.train_log);
  REQUIRE(f.ok);
  const std::string out = (f.dir / "cam.png").string();
  const Run r = run_program("fercam", "--checkpoint " + f.ckpt + " --image " + f.face + " --out " + out);
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("layer ") != std::string::npos);
  const auto png = fer::test::decode_png(slurp(out));
  REQUIRE(png.ok());
  CHECK(png.width == 192);
  CHECK(png.height == 192 + fer::tools::gradcam_caption_height());

  // --class and --layer (a name taken from the error's list of valid layers) and --scale
  const Run bad = run_program("fercam", "--checkpoint " + f.ckpt + " --image " + f.face + " --layer nope --out " + out);
  const auto at = bad.err.find("valid layers: ");
  REQUIRE(at != std::string::npos);
  std::string first = bad.err.substr(at + 14);
  first = first.substr(0, first.find_first_of(",\n"));
  const std::string out2 = (f.dir / "cam2.png").string();
  const Run r2 = run_program("fercam", "--checkpoint " + f.ckpt + " --image " + f.face + " --class happy --layer " +
                                           first + " --scale 2 --out " + out2);
  INFO(r2.err);
  REQUIRE(r2.code == 0);
  CHECK(r2.out.find("happy p=") != std::string::npos);
  CHECK(r2.out.find("layer " + first) != std::string::npos);
  const auto png2 = fer::test::decode_png(slurp(out2));
  CHECK(png2.width == 96);
  CHECK(png2.height == 96 + fer::tools::gradcam_caption_height());
}

TEST_CASE("fercam: a bad layer, class or image gives one clear line and a non-zero exit") {
  Fixture& f = fixture();
  REQUIRE(f.ok);
  const std::string out = (f.dir / "never.png").string();
  const std::string base = "--checkpoint " + f.ckpt + " --out " + out + " ";

  const Run layer = run_program("fercam", base + "--image " + f.face + " --layer no.such.layer");
  CHECK(layer.code != 0);
  CHECK(lines(layer.err) == 1);
  CHECK(layer.err.find("'no.such.layer' is not a module") != std::string::npos);
  CHECK(layer.err.find("valid layers: ") != std::string::npos);

  const Run cls = run_program("fercam", base + "--image " + f.face + " --class joyful");
  CHECK(cls.code != 0);
  CHECK(lines(cls.err) == 1);
  CHECK(cls.err.find("'joyful'") != std::string::npos);
  CHECK(cls.err.find("angry") != std::string::npos);
  CHECK(cls.err.find("neutral") != std::string::npos);

  const Run img = run_program("fercam", base + "--image " + (f.dir / "missing.png").string());
  CHECK(img.code != 0);
  CHECK(lines(img.err) == 1);
  CHECK(img.err.find("missing.png") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
}
