// fereval and ferpredict end to end (CPU): tiny checkpoints trained by fertrain on synthetic faces,
// evaluated on a small generated image folder (train/ and test/ with Training_, PublicTest_ and
// PrivateTest_ files, one PrivateTest image a pixel copy of a Training image): JSON output parses
// with figures in range, ensembles, the duplicate-removed figures, --out artefacts, and bad inputs
// (missing or foreign checkpoint, class-order mismatch, tencrop on a 48x48 model, unreadable image)
// giving one clear line and a non-zero exit.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "tests/unit/test_data_fixtures.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Run {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Run run_program(const std::string& program, const std::string& args) {
  const std::string stem =
      (fs::temp_directory_path() / ("fer_test_" + program + "_" + std::to_string(::getpid()))).string();
  const std::string cmd =
      std::string(FER_BINARY_DIR) + "/bin/" + program + " " + args + " > " + stem + ".out 2> " + stem + ".err";
  const int status = std::system(cmd.c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(stem + ".out"), slurp(stem + ".err")};
  fs::remove(stem + ".out");
  fs::remove(stem + ".err");
  return r;
}

std::string png_name(const char* prefix, int id) {
  std::ostringstream s;
  s << prefix << id << ".png";
  return s.str();
}

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

const std::vector<std::string> kFolders = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};

// Tiny checkpoints (fer7 seed 1, fer7 seed 2, fer6; two with --val split:0.5 and seeds 1 and 2)
// and the image folder, made once.
struct Fixture {
  fer::test::TempDir dir;
  std::string ckpt_a, ckpt_b, ckpt_fer6, ckpt_split_1, ckpt_split_2, optim_state, data;
  std::string train_log;
  bool ok = true;

  Fixture() {
    const std::string small =
        "--synthetic-count 280 --width 0.25 --epochs 1 --batch-size 32 --threads 2 --no-progress ";
    struct Spec {
      std::string name, flags;
    };
    for (const Spec& s : {Spec{"a", "--seed 1"}, Spec{"b", "--seed 2"}, Spec{"six", "--classes 6"},
                          Spec{"s1", "--val split:0.5 --seed 1"}, Spec{"s2", "--val split:0.5 --seed 2"}}) {
      const Run r = run_program("fertrain", small + s.flags + " --out " + (dir / s.name).string());
      train_log += r.out + r.err;
      ok = ok && r.code == 0;
    }
    ckpt_a = (dir / "a" / "best.safetensors").string();
    ckpt_b = (dir / "b" / "best.safetensors").string();
    ckpt_fer6 = (dir / "six" / "best.safetensors").string();
    ckpt_split_1 = (dir / "s1" / "best.safetensors").string();
    ckpt_split_2 = (dir / "s2" / "best.safetensors").string();
    optim_state = (dir / "a" / "last.optim.safetensors").string();
    // data: per class 3 Training, 2 PublicTest, 2 PrivateTest images, all different...
    const fs::path root = dir / "data";
    int id = 0;
    auto write = [&](const char* split_dir, const char* prefix, const std::string& c, int count) {
      for (int i = 0; i < count; ++i, ++id)
        fer::test::write_gray48(root / split_dir / c / png_name(prefix, id), fer::test::pattern(id));
    };
    for (const std::string& c : kFolders) {
      write("train", "Training_", c, 3);
      write("test", "PublicTest_", c, 2);
      write("test", "PrivateTest_", c, 2);
    }
    // ...except one PrivateTest image: the pixels of Training_0 (an angry training image), under happy.
    fer::test::write_gray48(root / "test" / "happy" / "PrivateTest_dup.png", fer::test::pattern(0));
    data = root.string();
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

json parse_json(const Run& r) {
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  json j;
  REQUIRE_NOTHROW(j = json::parse(r.out));
  return j;
}

void check_figures(const json& f, int64_t images) {
  CHECK(f.at("images").get<int64_t>() == images);
  for (const char* key :
       {"accuracy", "top2_accuracy", "top3_accuracy", "balanced_accuracy", "macro_f1", "weighted_f1"}) {
    const double v = f.at(key).get<double>();
    CHECK_MESSAGE((v >= 0.0 && v <= 1.0), key);
  }
  CHECK(f.at("top2_accuracy").get<double>() >= f.at("accuracy").get<double>());
  CHECK(f.at("top3_accuracy").get<double>() >= f.at("top2_accuracy").get<double>());
  CHECK(f.at("per_class").size() == 7);
  CHECK(f.at("roc_auc").size() == 7);
  const double auc = f.at("macro_roc_auc").get<double>();
  CHECK((auc >= 0.0 && auc <= 1.0));
  int64_t total = 0;
  for (const auto& row : f.at("confusion"))
    for (const auto& v : row) total += v.get<int64_t>();
  CHECK(total == images);
}

// The comma-separated cells of each line of a CSV without quoted fields.
std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    size_t start = 0;
    for (size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1)
      cells.push_back(line.substr(start, comma - start));
    cells.push_back(line.substr(start));
    rows.push_back(cells);
  }
  return rows;
}

// confusion_<stem>_normalized.csv: the class header, one row per class summing to 1.
void check_normalized_confusion(const fs::path& file) {
  INFO(file.string());
  const auto rows = csv_rows(slurp(file));
  REQUIRE(rows.size() == 1 + kFolders.size());
  CHECK(rows[0].size() == 1 + kFolders.size());
  CHECK(rows[0][0] == "true\\predicted");
  for (size_t r = 1; r < rows.size(); ++r) {
    REQUIRE(rows[r].size() == 1 + kFolders.size());
    double sum = 0;
    for (size_t c = 1; c < rows[r].size(); ++c) sum += std::stod(rows[r][c]);
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-3));
  }
}

// roc_<stem>.csv: per class a block starting at (0, 0) with threshold inf and ending at (1, 1),
// fpr and tpr non-decreasing, thresholds decreasing.
void check_roc_csv(const fs::path& file) {
  INFO(file.string());
  const auto rows = csv_rows(slurp(file));
  REQUIRE(rows.size() > 1);
  CHECK(rows[0] == std::vector<std::string>{"class", "threshold", "fpr", "tpr"});
  std::vector<std::string> seen;
  for (size_t r = 1; r < rows.size(); ++r) {
    REQUIRE(rows[r].size() == 4);
    const std::string& cls = rows[r][0];
    const double threshold = std::stod(rows[r][1]), fpr = std::stod(rows[r][2]), tpr = std::stod(rows[r][3]);
    const bool first = seen.empty() || seen.back() != cls;
    const bool last = r + 1 == rows.size() || rows[r + 1][0] != cls;
    if (first) {
      seen.push_back(cls);
      CHECK(std::isinf(threshold));
      CHECK(fpr == 0);
      CHECK(tpr == 0);
    } else {
      CHECK(threshold < std::stod(rows[r - 1][1]));
      CHECK(fpr >= std::stod(rows[r - 1][2]));
      CHECK(tpr >= std::stod(rows[r - 1][3]));
    }
    if (last) {
      INFO(cls);
      CHECK(fpr == 1);
      CHECK(tpr == 1);
    }
  }
  CHECK(seen == kFolders);  // every class has a curve, in the class order
}

}  // namespace

TEST_CASE("fereval: one checkpoint on PrivateTest, with the duplicate of a Training image removed") {
  Fixture& fx = fixture();
  INFO(fx.train_log);
  REQUIRE(fx.ok);
  const json j = parse_json(run_program("fereval", "--checkpoint " + fx.ckpt_a + " --data " + fx.data + " --json"));
  CHECK(j.at("split") == "test");
  CHECK(j.at("split_description").get<std::string>().find("PrivateTest") != std::string::npos);
  CHECK(j.at("images") == 15);  // 7 x 2 + the planted copy
  CHECK(j.at("duplicates_of_training") == 1);
  check_figures(j.at("all"), 15);
  check_figures(j.at("deduplicated"), 14);
  CHECK(j.at("deduplicated").at("removed") == 1);
  CHECK(j.at("classes").size() == 7);
  CHECK(j.at("ensemble") == false);
}

TEST_CASE("fereval: --split val (PublicTest), flip TTA, an ensemble of two checkpoints, --out, text report") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const json v = parse_json(
      run_program("fereval", "--checkpoint " + fx.ckpt_a + " --data " + fx.data + " --split val --tta flip --json"));
  CHECK(v.at("split_description") == "PublicTest");
  CHECK(v.at("tta") == "flip");
  check_figures(v.at("all"), 14);
  CHECK(v.at("duplicates_of_training") == 0);

  const fer::test::TempDir out;
  const json e = parse_json(run_program("fereval", "--checkpoint " + fx.ckpt_a + " --checkpoint " + fx.ckpt_b +
                                                       " --data " + fx.data + " --json --out " + out.path().string()));
  CHECK(e.at("ensemble") == true);
  CHECK(e.at("checkpoints").size() == 2);
  check_figures(e.at("all"), 15);
  for (const char* f : {"confusion_test.csv", "confusion_test.png", "confusion_test_normalized.png",
                        "confusion_test_dedup.csv", "classification_test.txt", "eval.json",
                        "confusion_test_normalized.csv", "confusion_test_dedup_normalized.csv", "roc_test.csv",
                        "roc_test.png", "roc_test_dedup.csv", "roc_test_dedup.png"})
    CHECK_MESSAGE(fs::exists(out / f), f);
  check_normalized_confusion(out / "confusion_test_normalized.csv");
  check_normalized_confusion(out / "confusion_test_dedup_normalized.csv");
  check_roc_csv(out / "roc_test.csv");
  check_roc_csv(out / "roc_test_dedup.csv");
  const fer::data::GrayImage roc_png = fer::data::load_image_gray(out / "roc_test.png");
  CHECK(roc_png.width == 720);
  CHECK(roc_png.height == 640);
  CHECK(json::parse(slurp(out / "eval.json")).at("images") == 15);

  const Run t = run_program("fereval", "--checkpoint " + fx.ckpt_a + " --data " + fx.data);
  INFO(t.out);
  INFO(t.err);
  CHECK(t.code == 0);
  CHECK(t.out.find("deduplicated (14)") != std::string::npos);
  CHECK(t.out.find("1 also in Training") != std::string::npos);
  CHECK(t.out.find("ROC AUC") != std::string::npos);
  CHECK(t.out.find("no AUC or ROC curve") == std::string::npos);  // every class occurs in the split
}

TEST_CASE("fereval: --tta rmn10 (R000's 10 random flip+rotate views) is reproducible and not the plain pass") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const std::string args = "--checkpoint " + fx.ckpt_a + " --data " + fx.data + " --split val --json";
  const json a = parse_json(run_program("fereval", args + " --tta rmn10"));
  const json b = parse_json(run_program("fereval", args + " --tta rmn10"));
  const json plain = parse_json(run_program("fereval", args));
  CHECK(a.at("tta") == "rmn10");
  check_figures(a.at("all"), 14);
  CHECK(a.at("all") == b.at("all"));  // fixed seed: the same views, the same figures
  // Averaging 10 rotated views changes the probabilities, hence the one-vs-rest AUCs.
  CHECK(a.at("all").at("roc_auc") != plain.at("all").at("roc_auc"));
}

TEST_CASE("fereval: bad inputs give one clear line and a non-zero exit") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const std::string data = " --data " + fx.data;
  const Run missing = run_program("fereval", "--checkpoint /nonexistent/best.safetensors" + data);
  CHECK(missing.code != 0);
  CHECK(lines(missing.err) == 1);
  CHECK(missing.err.find("/nonexistent/best.safetensors': no such file") != std::string::npos);

  const Run foreign = run_program("fereval", "--checkpoint " + fx.optim_state + data);
  CHECK(foreign.code != 0);
  CHECK(lines(foreign.err) == 1);
  CHECK(foreign.err.find("not a fer model checkpoint") != std::string::npos);
  CHECK(foreign.err.find("fer.model") != std::string::npos);

  const Run mismatch = run_program("fereval", "--checkpoint " + fx.ckpt_a + " --checkpoint " + fx.ckpt_fer6 + data);
  CHECK(mismatch.code != 0);
  CHECK(lines(mismatch.err) == 1);
  CHECK(mismatch.err.find("an ensemble needs one class order") != std::string::npos);

  // members validated on different seeded splits of Training: --split val would score one on its
  // own training images; the test split is fine
  const std::string split_members = "--checkpoint " + fx.ckpt_split_1 + " --checkpoint " + fx.ckpt_split_2 + data;
  const Run leaky = run_program("fereval", split_members + " --split val");
  CHECK(leaky.code != 0);
  CHECK(lines(leaky.err) == 1);
  CHECK(leaky.err.find("was trained with --val split:0.5 --seed 2: ") != std::string::npos);
  CHECK(leaky.err.find(" are in its training part") != std::string::npos);
  // also when --val is given, and for one checkpoint whose run split the data otherwise
  const Run leaky_flag = run_program("fereval", split_members + " --split val --val split:0.5");
  CHECK(leaky_flag.code != 0);
  CHECK(leaky_flag.err.find("was trained with --val split:0.5 --seed 2: ") != std::string::npos);
  // ckpt_a validated on auto (PublicTest here) and so trained on all of Training: half of Training is its own
  const Run other_val = run_program("fereval", "--checkpoint " + fx.ckpt_a + data + " --split val --val split:0.5");
  CHECK(other_val.code != 0);
  CHECK(other_val.err.find("was trained with --val auto --seed 1: ") != std::string::npos);
  CHECK(other_val.err.find("are in its training part") != std::string::npos);
  // a spec that names the same split is fine: ckpt_a validated on auto (= publictest here)
  CHECK(run_program("fereval", "--checkpoint " + fx.ckpt_a + data + " --split val --val publictest --json").code == 0);
  CHECK(run_program("fereval", split_members + " --split test --json").code == 0);
  // their split of Training is rebuilt on data they were not trained on (the synthetic faces): warned
  const Run other_data = run_program("fereval", "--checkpoint " + fx.ckpt_split_1 + data + " --split val --json");
  CHECK(other_data.code == 0);
  CHECK(other_data.err.find("warning: --split val rebuilds the seeded split split:0.5 of Training") != std::string::npos);
  CHECK(other_data.err.find("was trained on 'the synthetic faces'") != std::string::npos);
  CHECK(run_program("fereval", "--checkpoint " + fx.ckpt_split_1 + data + " --split test --json").err.empty());
  CHECK(run_program("fereval", "--checkpoint " + fx.ckpt_split_1 + " --checkpoint " + fx.ckpt_split_1 + data +
                                   " --split val --json")
            .code == 0);

  const Run tencrop = run_program("fereval", "--checkpoint " + fx.ckpt_a + data + " --tta tencrop");
  CHECK(tencrop.code != 0);
  CHECK(lines(tencrop.err) == 1);
  CHECK(tencrop.err.find("tencrop needs a crop-size model") != std::string::npos);

  const Run nodata = run_program("fereval", "--checkpoint " + fx.ckpt_a + " --data /nonexistent/fer");
  CHECK(nodata.code != 0);
  CHECK(nodata.err.find("/nonexistent/fer") != std::string::npos);

  const Run split = run_program("fereval", "--checkpoint " + fx.ckpt_a + data + " --split holdout");
  CHECK(split.code != 0);
  CHECK(split.err.find("--split 'holdout'") != std::string::npos);
}

TEST_CASE("fereval: a fer6 checkpoint evaluates on fer6 (disgust dropped)") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const json j = parse_json(run_program("fereval", "--checkpoint " + fx.ckpt_fer6 + " --data " + fx.data + " --json"));
  CHECK(j.at("class_set") == "fer6");
  CHECK(j.at("classes").size() == 6);
  CHECK(j.at("images") == 13);  // the two disgust PrivateTest images are dropped
}

TEST_CASE("ferpredict: files and folders, any size and colour, --top, --json, an unreadable file") {
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const fer::test::TempDir d;
  fer::test::write_gray48(d / "face.png", fer::test::pattern(3));
  // a 100x80 RGB image and a BMP inside a folder, plus a file that is not an image (ignored)
  std::vector<uint8_t> rgb(100 * 80 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 13 % 251);
  fs::create_directories(d / "folder" / "sub");
  fer::data::write_image(d / "folder" / "color.png", rgb.data(), 100, 80, 3);
  fer::test::write_gray48(d / "folder" / "sub" / "gray.bmp", fer::test::pattern(4));
  fer::test::write_text(d / "folder" / "notes.txt", "not an image");

  const json j = parse_json(run_program("ferpredict", "--checkpoint " + fx.ckpt_a + " " + (d / "face.png").string() +
                                                          " " + (d / "folder").string() + " --json --top 2"));
  REQUIRE(j.at("predictions").size() == 3);
  CHECK(j.at("errors").empty());
  CHECK(j.at("predictions")[0].at("file") == (d / "face.png").string());
  for (const auto& p : j.at("predictions")) {
    CHECK(p.at("top").size() == 2);
    CHECK(p.at("top")[0].at("probability").get<double>() >= p.at("top")[1].at("probability").get<double>());
    CHECK(p.at("label") == p.at("top")[0].at("class"));
    double sum = 0;
    for (const auto& [name, v] : p.at("probabilities").items()) sum += v.get<double>();
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-4));
  }

  fer::test::write_text(d / "broken.png", "this is not a PNG");
  const Run bad = run_program(
      "ferpredict", "--checkpoint " + fx.ckpt_a + " " + (d / "broken.png").string() + " " + (d / "face.png").string());
  INFO(bad.out);
  INFO(bad.err);
  CHECK(bad.code != 0);
  CHECK(lines(bad.err) == 1);
  CHECK(bad.err.find("broken.png") != std::string::npos);
  CHECK(lines(bad.out) == 1);  // face.png is still predicted
  CHECK(bad.out.find("face.png:") != std::string::npos);

  const Run none = run_program("ferpredict", "--checkpoint /nonexistent.safetensors " + (d / "face.png").string());
  CHECK(none.code != 0);
  CHECK(lines(none.err) == 1);
}

TEST_CASE("ferpredict --detect haar: the face in a photo with its box, no face said, --fallback whole") {
  const char* data_root = std::getenv("FER_DATA");
  const fs::path face_file = fs::path(data_root ? data_root : "") / "fer2013/test/angry/PublicTest_10116449.jpg";
  if (!data_root || !fs::exists(face_file) || !fs::exists("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")) {
    MESSAGE("skipped: needs $FER_DATA's fer2013/ and /usr/share/opencv4/haarcascades (apt-get install opencv-data)");
    return;
  }
  Fixture& fx = fixture();
  REQUIRE(fx.ok);
  const fer::test::TempDir d;
  // a 320x240 RGB photo: a gradient with a FER2013 face enlarged 2x at (120, 70); OpenCV 4.6 finds it at
  // (116, 60) 93x93 (tests/fixtures/face_detect_opencv.json)
  const std::vector<uint8_t> face = fer::data::load_image_gray48(face_file);
  std::vector<uint8_t> photo(320 * 240 * 3), blank(320 * 240 * 3);
  for (int y = 0; y < 240; ++y)
    for (int x = 0; x < 320; ++x) {
      const bool in_face = x >= 120 && x < 216 && y >= 70 && y < 166;
      const uint8_t g = static_cast<uint8_t>(40 + (x + y) * 160 / 560);
      const uint8_t v = in_face ? face[static_cast<size_t>(((y - 70) / 2) * 48 + (x - 120) / 2)] : g;
      for (int c = 0; c < 3; ++c) {
        photo[static_cast<size_t>((y * 320 + x) * 3 + c)] = v;
        blank[static_cast<size_t>((y * 320 + x) * 3 + c)] = g;
      }
    }
  fer::data::write_image(d / "photo.png", photo.data(), 320, 240, 3);
  fer::data::write_image(d / "blank.png", blank.data(), 320, 240, 3);
  std::ostringstream file_args;  // (not " " + string: GCC 12's -Wrestrict false positive)
  file_args << " " << (d / "blank.png").string() << " " << (d / "photo.png").string();
  const std::string files = file_args.str();

  const json j = parse_json(run_program("ferpredict", "--checkpoint " + fx.ckpt_a + " --detect haar --json" + files));
  REQUIRE(j.at("predictions").size() == 1);
  const json& p = j.at("predictions")[0];
  CHECK(p.at("file") == (d / "photo.png").string());
  CHECK(p.at("face").at("index") == 1);
  const std::vector<int> box = p.at("face").at("box").get<std::vector<int>>();
  const int ix = std::max(0, std::min(box[0] + box[2], 216) - std::max(box[0], 120));
  const int iy = std::max(0, std::min(box[1] + box[3], 166) - std::max(box[1], 70));
  CHECK(static_cast<double>(ix) * iy / (box[2] * box[3] + 96.0 * 96.0 - static_cast<double>(ix) * iy) >= 0.5);
  CHECK(p.at("face").at("neighbors").get<int>() > 3);
  CHECK(j.at("no_face") == json::array({(d / "blank.png").string()}));

  const Run text = run_program("ferpredict", "--checkpoint " + fx.ckpt_a + " --detect haar" + files);
  INFO(text.out);
  CHECK(text.code == 0);
  CHECK(text.out.find("blank.png: no face found\n") == text.out.find("blank.png"));  // first, in file order
  CHECK(text.out.find("photo.png face 1 at ") != std::string::npos);

  const json whole = parse_json(
      run_program("ferpredict", "--checkpoint " + fx.ckpt_a + " --detect haar --fallback whole --json" + files));
  REQUIRE(whole.at("predictions").size() == 2);
  CHECK(whole.at("predictions")[0].at("face").at("index") == 0);
  CHECK(whole.at("predictions")[0].at("face").at("box") == json::array({0, 0, 320, 240}));
  CHECK(whole.at("no_face").empty());

  const json big = parse_json(run_program("ferpredict", "--checkpoint " + fx.ckpt_a + " --detect haar --min-face 150 --json" + files));
  CHECK(big.at("predictions").empty());
  CHECK(big.at("no_face").size() == 2);

  const Run without = run_program("ferpredict", "--checkpoint " + fx.ckpt_a + " --min-face 40" + files);
  CHECK(without.code != 0);
  CHECK(without.err.find("--min-face applies to --detect haar") != std::string::npos);

  const Run missing = run_program("ferpredict", "--checkpoint " + fx.ckpt_a + " --detect haar --cascade /nonexistent.xml" + files);
  CHECK(missing.code != 0);
  CHECK(lines(missing.err) == 1);
  CHECK(missing.err.find("apt-get install opencv-data") != std::string::npos);
}
