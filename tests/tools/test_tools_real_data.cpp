// The programs end to end on real FER2013 faces ($FER_DATA/fer2013, CPU): the test takes a small
// stratified slice of the folder set (per class the first 40 train/ and the first 10 test/ JPEGs in
// path order), copies it as a folder tree and writes the same pixels (decoded by fer's own
// data/image_io) as a Kaggle CSV (emotion in the CSV order 0 angry .. 6 neutral, Usage Training /
// PublicTest). Then:
//   1. fertrain --data slice.csv (2 epochs, CNN6 at width 0.25) -> fereval --data slice.csv ->
//      ferpredict on real JPEGs (plain text and --json) -> fercam on one JPEG: each exits 0, its
//      output parses, figures lie in range, class names are the fer7 names;
//   2. the same checkpoint gives the same figures on the folder slice and on the CSV slice (the
//      pixels are the same), fertrain's own val accuracy and ferpredict's per-file predictions agree;
//   3. ferclean on the CSV lists the slice's own Training copies of PublicTest faces (3 disgust rows,
//      checked against a direct pixel comparison) and, with planted rows (an exact duplicate, a
//      cross-label copy, a Training copy of a PublicTest face), writes an index naming CSV rows
//      (`dup.csv:N`) that `fertrain --data dup.csv --exclude FILE` leaves out, exactly those rows;
//   4. a bad CSV (2,303 pixels, emotion 9, pixel 256, Usage Validation, 2 fields) gives one error
//      line naming file:line and the field, a non-zero exit and no run folder.
// The cases are in doctest suite "data" (ctest entry fer_tests_tools_data, labels tools;data); without
// $FER_DATA they say so with MESSAGE and pass. 20-35 s wall, 11-27 s of CPU (2 busy shared cores).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "tests/support/fer_data.h"
#include "tests/unit/test_data_fixtures.h"

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

// Runs build/bin/<program> with `args`; `cwd` (optional) is the working directory.
Run run_program(const std::string& program, const std::string& args, const std::string& cwd = "") {
  const std::string stem =
      (fs::temp_directory_path() / ("fer_test_realdata_" + program + "_" + std::to_string(::getpid()))).string();
  std::ostringstream cmd;
  if (!cwd.empty()) cmd << "cd " << cwd << " && ";
  cmd << FER_BINARY_DIR << "/bin/" << program << " " << args << " > " << stem << ".out 2> " << stem << ".err";
  const int status = std::system(cmd.str().c_str());
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

// The fer7 names in the canonical (CSV) order, and the folder names with their CSV emotion codes
// (DATA.md "Label orders"); written out here rather than taken from data/, so the mapping is checked.
const std::vector<std::string> kFer7 = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
const std::vector<std::pair<std::string, int>> kFolderCodes = {{"angry", 0}, {"disgust", 1}, {"fear", 2},
                                                               {"happy", 3}, {"neutral", 6}, {"sad", 4},
                                                               {"surprise", 5}};
constexpr int kTrainPerClass = 40, kTestPerClass = 10;

// One row of the slice: where the face came from and what the CSV says about it.
struct Row {
  fs::path jpeg;      // the original file under $FER_DATA/fer2013
  std::string folder; // class folder name
  int code;           // CSV emotion code
  bool training;      // Usage Training (else PublicTest)
  std::vector<uint8_t> pixels;
};

std::string csv_line(int code, const std::vector<uint8_t>& px, const std::string& usage) {
  std::ostringstream s;
  s << code << "," << fer::test::pixel_text(px) << "," << usage;
  return s.str();
}

// The first `count` .jpg files of a folder in path order.
std::vector<fs::path> first_jpegs(const fs::path& dir, int count) {
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".jpg") all.push_back(e.path());
  std::sort(all.begin(), all.end());
  if (static_cast<int>(all.size()) > count) all.resize(static_cast<size_t>(count));
  return all;
}

// "splits:  train 280 (Training), val 70 (PublicTest), ..." -> {280, 70}
std::pair<int64_t, int64_t> split_sizes(const std::string& out) {
  const size_t at = out.find("splits:  train ");
  if (at == std::string::npos) return {-1, -1};
  std::istringstream s(out.substr(at + 15));
  int64_t train = -1, val = -1;
  std::string desc, word;
  s >> train >> desc;
  while (s >> word && word != "val") {
  }
  s >> val;
  return {train, val};
}

// The per-class training counts of fertrain's class table ("         happy   40   10   1.0000").
std::map<std::string, int64_t> train_class_counts(const std::string& out) {
  std::map<std::string, int64_t> counts;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string name;
    int64_t train = 0, val = 0;
    if (!(s >> name)) continue;
    if (name == "classes:") s >> name;  // the header line: "classes: name train val weight"
    if (std::find(kFer7.begin(), kFer7.end(), name) == kFer7.end()) continue;
    if (s >> train >> val) counts[name] = train;
  }
  return counts;
}

struct Slice {
  fer::test::TempDir dir;
  std::string skip;          // why the cases cannot run, "" when they can
  std::vector<Row> rows;     // CSV row r is at line r + 2
  std::string csv, folder;   // the CSV slice and the folder slice
  std::string run, ckpt, train_out;
  bool trained = false;

  Slice() {
    const fs::path root = fer::test::fer_data_root() / "fer2013";
    if (fer::test::fer_data_root().empty() || !fs::is_directory(root / "train") || !fs::is_directory(root / "test")) {
      skip = "skipped: needs $FER_DATA with fer2013/train and fer2013/test (FER_DATA=" +
             fer::test::fer_data_root().string() + ")";
      return;
    }
    for (int pass = 0; pass < 2; ++pass) {
      const bool training = pass == 0;
      for (const auto& [name, code] : kFolderCodes) {
        const std::vector<fs::path> files =
            first_jpegs(root / (training ? "train" : "test") / name, training ? kTrainPerClass : kTestPerClass);
        for (const fs::path& f : files) {
          Row r{f, name, code, training, fer::data::load_image_gray48(f)};
          const fs::path copy = dir / "folder" / (training ? "train" : "test") / name / f.filename();
          fs::create_directories(copy.parent_path());
          fs::copy_file(f, copy);
          rows.push_back(std::move(r));
        }
      }
    }
    std::ostringstream text;
    text << "emotion,pixels,Usage\n";
    for (const Row& r : rows) text << csv_line(r.code, r.pixels, r.training ? "Training" : "PublicTest") << "\n";
    csv = (dir / "slice.csv").string();
    fer::test::write_text(csv, text.str());
    folder = (dir / "folder").string();

    run = (dir / "run").string();
    const Run t = run_program("fertrain", "--data " + csv + " --model cnn6 --width 0.25 --epochs 2 --batch-size 32 "
                                          "--threads 2 --seed 3 --no-progress --out " + run);
    train_out = t.out + t.err;
    ckpt = (dir / "run" / "best.safetensors").string();
    trained = t.code == 0 && fs::exists(ckpt);
  }

  // Rows of one class folder and split, in CSV order.
  std::vector<size_t> rows_of(const std::string& folder_name, bool training) const {
    std::vector<size_t> out;
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].folder == folder_name && rows[i].training == training) out.push_back(i);
    return out;
  }
};

Slice& slice() {
  static Slice s;
  return s;
}

// Checks the shape and range of one of fereval's figure blocks over `images` images.
void check_figures(const json& f, int64_t images) {
  CHECK(f.at("images").get<int64_t>() == images);
  for (const char* key : {"accuracy", "top2_accuracy", "top3_accuracy", "balanced_accuracy", "macro_f1"}) {
    const double v = f.at(key).get<double>();
    CHECK_MESSAGE((v >= 0.0 && v <= 1.0), key);
  }
  CHECK(f.at("top3_accuracy").get<double>() >= f.at("accuracy").get<double>());
  CHECK(std::isfinite(f.at("log_loss").get<double>()));
  CHECK(f.at("log_loss").get<double>() > 0.0);
  std::vector<std::string> auc_names;
  for (const auto& [name, v] : f.at("roc_auc").items()) auc_names.push_back(name);
  std::sort(auc_names.begin(), auc_names.end());
  std::vector<std::string> sorted = kFer7;
  std::sort(sorted.begin(), sorted.end());
  CHECK(auc_names == sorted);
  int64_t total = 0;
  for (const auto& row : f.at("confusion"))
    for (const auto& v : row) total += v.get<int64_t>();
  CHECK(total == images);
}

}  // namespace

TEST_CASE("real data: fertrain, fereval, ferpredict and fercam on a Kaggle CSV slice of FER2013" *
          doctest::test_suite("data")) {
  Slice& s = slice();
  if (!s.skip.empty()) {
    MESSAGE(s.skip);
    return;
  }
  INFO(s.train_out);
  REQUIRE(s.trained);
  REQUIRE(s.rows.size() == 7u * (kTrainPerClass + kTestPerClass));

  // fertrain read the CSV as it was written: 280 Training rows, 70 PublicTest rows as validation,
  // 40 + 10 per class under the fer7 names.
  CHECK(split_sizes(s.train_out) == std::pair<int64_t, int64_t>{280, 70});
  CHECK(s.train_out.find("(PublicTest)") != std::string::npos);
  const auto counts = train_class_counts(s.train_out);
  CHECK(counts.size() == 7);
  for (const std::string& name : kFer7) CHECK_MESSAGE(counts.count(name) == 1, name);
  for (const auto& [name, n] : counts) CHECK_MESSAGE(n == kTrainPerClass, name);
  const json summary = json::parse(slurp(fs::path(s.run) / "summary.json"));
  CHECK(summary.at("data") == s.csv);
  CHECK(summary.at("epochs_done") == 2);
  CHECK(summary.at("val").at("images") == 70);
  const double train_val_acc = summary.at("val").at("accuracy").get<double>();
  CHECK((train_val_acc >= 0.0 && train_val_acc <= 1.0));
  for (const char* f : {"config.json", "metrics.jsonl", "last.safetensors", "confusion_val.csv", "report.html"})
    CHECK_MESSAGE(fs::exists(fs::path(s.run) / f), f);

  // fereval on the CSV: the test split is PublicTest (no PrivateTest rows), 10 per class.
  const json e = parse_json(run_program("fereval", "--checkpoint " + s.ckpt + " --data " + s.csv + " --json"));
  CHECK(e.at("classes") == json(kFer7));
  CHECK(e.at("class_set") == "fer7");
  CHECK(e.at("split_description") == "PublicTest");
  CHECK(e.at("images") == 70);
  check_figures(e.at("all"), 70);
  for (const auto& pc : e.at("all").at("per_class")) CHECK(pc.at("support") == kTestPerClass);
  // fertrain evaluated the same checkpoint on the same 70 images: the same accuracy.
  CHECK(e.at("all").at("accuracy").get<double>() == doctest::Approx(train_val_acc).epsilon(1e-12));
  const Run text = run_program("fereval", "--checkpoint " + s.ckpt + " --data " + s.csv);
  INFO(text.err);
  CHECK(text.code == 0);
  CHECK(text.out.find("split:   test = PublicTest, 70 images") != std::string::npos);
  CHECK(text.out.find("(350 images)") != std::string::npos);

  // plain ferpredict on three real JPEGs straight from $FER_DATA: one line each, all seven classes,
  // probabilities summing to 1, the most probable first.
  const std::vector<size_t> picks = {s.rows_of("happy", false)[0], s.rows_of("surprise", false)[1],
                                     s.rows_of("disgust", true)[2]};
  std::string files;
  for (size_t i : picks) {
    files += ' ';  // (not " " + string: GCC 12's -Wrestrict false positive)
    files += s.rows[i].jpeg.string();
  }
  const Run plain = run_program("ferpredict", "--checkpoint " + s.ckpt + files);
  INFO(plain.out);
  INFO(plain.err);
  REQUIRE(plain.code == 0);
  CHECK(plain.err.empty());
  REQUIRE(lines(plain.out) == picks.size());
  std::istringstream pin(plain.out);
  std::map<std::string, std::string> plain_label;
  for (size_t k = 0; k < picks.size(); ++k) {
    std::string line;
    std::getline(pin, line);
    const std::string file = s.rows[picks[k]].jpeg.string();
    REQUIRE(line.rfind(file + ":  ", 0) == 0);
    std::istringstream rest(line.substr(file.size() + 3));
    std::string name, prob_text;
    double sum = 0, last = 2.0;
    std::set<std::string> seen;
    while (rest >> name >> prob_text) {
      if (!prob_text.empty() && prob_text.back() == ',') prob_text.pop_back();
      const double p = std::stod(prob_text);
      CHECK((p >= 0.0 && p <= 1.0));
      CHECK(p <= last);
      last = p;
      sum += p;
      seen.insert(name);
      if (!plain_label.count(file)) plain_label[file] = name;
    }
    CHECK(seen == std::set<std::string>(kFer7.begin(), kFer7.end()));
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-3));
  }

  // ferpredict --json on the three JPEGs agrees with the text, and fercam on the first explains the
  // same class with the same probability.
  const json pj = parse_json(run_program("ferpredict", "--checkpoint " + s.ckpt + " --json" + files));
  CHECK(pj.at("classes") == json(kFer7));
  REQUIRE(pj.at("predictions").size() == picks.size());
  for (const auto& p : pj.at("predictions")) CHECK(p.at("label") == plain_label[p.at("file").get<std::string>()]);
  const json& first = pj.at("predictions")[0];
  const std::string cam_png = (s.dir / "cam.png").string();
  const Run cam = run_program("fercam", "--checkpoint " + s.ckpt + " --image " + s.rows[picks[0]].jpeg.string() +
                                            " --out " + cam_png);
  INFO(cam.out);
  INFO(cam.err);
  REQUIRE(cam.code == 0);
  const std::string head = s.rows[picks[0]].jpeg.string() + ": " + first.at("label").get<std::string>() + " p=";
  REQUIRE(cam.out.rfind(head, 0) == 0);
  const double cam_p = std::stod(cam.out.substr(head.size(), 6));
  CHECK(cam_p == doctest::Approx(first.at("probability").get<double>()).epsilon(2e-4));
  CHECK(cam.out.find(", layer ") != std::string::npos);
  const fer::data::GrayImage overlay = fer::data::load_image_gray(cam_png);
  CHECK(overlay.width == 4 * 48);
  CHECK(overlay.height > 4 * 48);  // the caption below the image
}

TEST_CASE("real data: one checkpoint, the folder slice and the CSV slice give the same figures" *
          doctest::test_suite("data")) {
  Slice& s = slice();
  if (!s.skip.empty()) {
    MESSAGE(s.skip);
    return;
  }
  INFO(s.train_out);
  REQUIRE(s.trained);
  const json c = parse_json(run_program("fereval", "--checkpoint " + s.ckpt + " --data " + s.csv + " --json"));
  const json f = parse_json(run_program("fereval", "--checkpoint " + s.ckpt + " --data " + s.folder + " --json"));
  CHECK(f.at("split_description") == "PublicTest");
  CHECK(f.at("images") == 70);
  check_figures(f.at("all"), 70);
  // PublicTest faces whose pixels also occur among the slice's Training faces, counted here directly.
  int64_t in_training = 0;
  for (const Row& t : s.rows) {
    if (t.training) continue;
    for (const Row& r : s.rows)
      if (r.training && r.pixels == t.pixels) {
        ++in_training;
        break;
      }
  }
  CHECK(c.at("duplicates_of_training") == in_training);
  CHECK(f.at("duplicates_of_training") == in_training);
  CHECK(f.at("deduplicated").at("accuracy").get<double>() == c.at("deduplicated").at("accuracy").get<double>());
  CHECK(f.at("all").at("accuracy").get<double>() == c.at("all").at("accuracy").get<double>());
  CHECK(f.at("all").at("confusion") == c.at("all").at("confusion"));
  CHECK(f.at("all").at("top2_accuracy").get<double>() == c.at("all").at("top2_accuracy").get<double>());
  CHECK(f.at("all").at("log_loss").get<double>() == doctest::Approx(c.at("all").at("log_loss").get<double>()).epsilon(1e-5));
  CHECK(f.at("all").at("macro_roc_auc").get<double>() ==
        doctest::Approx(c.at("all").at("macro_roc_auc").get<double>()).epsilon(1e-9));

  // and the 280 Training faces
  const json ct = parse_json(run_program("fereval", "--checkpoint " + s.ckpt + " --data " + s.csv + " --split train --json"));
  const json ft = parse_json(run_program("fereval", "--checkpoint " + s.ckpt + " --data " + s.folder + " --split train --json"));
  check_figures(ct.at("all"), 280);
  CHECK(ft.at("all").at("confusion") == ct.at("all").at("confusion"));
  CHECK(ft.at("all").at("log_loss").get<double>() == doctest::Approx(ct.at("all").at("log_loss").get<double>()).epsilon(1e-5));

  // ferpredict on the folder slice's 70 test JPEGs: the accuracy of its labels against the folder
  // names is fereval's.
  const json p = parse_json(run_program("ferpredict", "--checkpoint " + s.ckpt + " --json " + s.folder + "/test"));
  REQUIRE(p.at("predictions").size() == 70);
  int correct = 0;
  for (const auto& pred : p.at("predictions")) {
    const fs::path file = pred.at("file").get<std::string>();
    correct += pred.at("label") == file.parent_path().filename().string();
  }
  CHECK(correct / 70.0 == doctest::Approx(c.at("all").at("accuracy").get<double>()).epsilon(1e-12));
}

TEST_CASE("real data: ferclean's index of CSV rows round-trips into fertrain --exclude" * doctest::test_suite("data")) {
  Slice& s = slice();
  if (!s.skip.empty()) {
    MESSAGE(s.skip);
    return;
  }
  // An index file's entries: "name.csv:N" -> the reason comment.
  auto read_index = [](const fs::path& file) {
    std::map<std::string, std::string> entries;
    std::istringstream in(slurp(file));
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      const size_t hash = line.find("  # ");
      if (hash == std::string::npos) entries[line] = "";
      else entries[line.substr(0, hash)] = line.substr(hash + 4);
    }
    return entries;
  };
  auto line_of = [](size_t row) { return static_cast<int>(row) + 2; };

  // The slice itself: the first 40 disgust Training faces hold 3 copies of the first 10 disgust
  // PublicTest faces (FER2013's Training/test overlap); ferclean lists exactly the Training rows whose
  // pixels equal a PublicTest row's, found here by comparing the pixels directly.
  const fs::path clean_idx = s.dir / "slice.exclude";
  const json clean = parse_json(run_program("ferclean", "--data " + s.csv + " --out " + clean_idx.string() + " --json"));
  CHECK(clean.at("images") == 350);
  std::map<std::string, std::string> natural;  // as they must read in dup.csv's index
  for (size_t r = 0; r < s.rows.size(); ++r) {
    if (!s.rows[r].training) continue;
    for (const Row& t : s.rows)
      if (!t.training && t.pixels == s.rows[r].pixels) {
        natural["dup.csv:" + std::to_string(line_of(r))] = "test_overlap";
        break;
      }
  }
  {
    std::map<std::string, std::string> renamed;
    for (const auto& [e, why] : read_index(clean_idx)) {
      CHECK(e.rfind("slice.csv:", 0) == 0);
      renamed["dup.csv:" + e.substr(10)] = why;
    }
    CHECK(renamed == natural);
    CHECK(clean.at("excluded") == static_cast<int64_t>(natural.size()));
  }

  // dup.csv: the slice plus three planted rows at the end.
  const size_t happy0 = s.rows_of("happy", true)[0], sad0 = s.rows_of("sad", true)[0];
  const size_t surprise_test0 = s.rows_of("surprise", false)[0];
  const int n = static_cast<int>(s.rows.size());
  const int planted_dup = n + 2, planted_cross = n + 3, planted_overlap = n + 4;
  std::ostringstream text;
  text << slurp(s.csv);
  text << csv_line(3, s.rows[happy0].pixels, "Training") << "\n";          // same label: a duplicate copy
  text << csv_line(0, s.rows[sad0].pixels, "Training") << "\n";            // sad's pixels as angry: cross-label
  text << csv_line(5, s.rows[surprise_test0].pixels, "Training") << "\n";  // a PublicTest face in Training
  const fs::path dup = s.dir / "dup.csv";
  fer::test::write_text(dup, text.str());

  // ferclean run from the CSV's own folder with a relative --data, fertrain with the absolute path.
  const fs::path idx = s.dir / "dup.exclude";
  const json j = parse_json(run_program("ferclean", "--data dup.csv --out dup.exclude --json", s.dir.path().string()));
  const int64_t n_natural = static_cast<int64_t>(natural.size());
  CHECK(j.at("images") == 353);
  CHECK(j.at("excluded") == 4 + n_natural);
  CHECK(j.at("reasons").at("duplicate").at("images") == 1);
  CHECK(j.at("reasons").at("cross_label").at("images") == 2);
  CHECK(j.at("reasons").at("test_overlap").at("images") == 1 + n_natural);
  auto entry = [](int line) { return "dup.csv:" + std::to_string(line); };
  std::map<std::string, std::string> expected = natural;
  expected[entry(planted_dup)] = "duplicate of " + entry(line_of(happy0));
  expected[entry(line_of(sad0))] = "cross_label (sad)";
  expected[entry(planted_cross)] = "cross_label (angry)";
  expected[entry(planted_overlap)] = "test_overlap";
  const std::map<std::string, std::string> entries = read_index(idx);
  CHECK(entries == expected);

  // The training split fertrain must see: per class 40 + the planted rows, minus the listed Training
  // rows (every listed row is a Training row: the cross-label pair, the copies, the test overlap).
  std::map<std::string, int64_t> want;
  for (const std::string& name : kFer7) want[name] = kTrainPerClass;
  want["happy"]++, want["angry"]++, want["surprise"]++;  // the planted rows
  for (const auto& [e, why] : entries) {
    const int line = std::stoi(e.substr(8));
    const std::string name = line == planted_dup        ? "happy"
                             : line == planted_cross    ? "angry"
                             : line == planted_overlap  ? "surprise"
                                                        : s.rows[static_cast<size_t>(line - 2)].folder;
    REQUIRE((line >= planted_dup || s.rows[static_cast<size_t>(line - 2)].training));
    want[name]--;
  }
  int64_t want_train = 0;
  for (const auto& [name, c] : want) want_train += c;
  CHECK(want_train == 283 - static_cast<int64_t>(entries.size()));

  // fertrain leaves exactly those rows out.
  const std::string run = (s.dir / "run_excluded").string();
  const Run t = run_program("fertrain", "--data " + dup.string() + " --exclude " + idx.string() +
                                            " --model cnn6 --width 0.25 --epochs 1 --batch-size 32 --threads 2 --seed 3 "
                                            "--no-progress --out " + run);
  INFO(t.out);
  INFO(t.err);
  REQUIRE(t.code == 0);
  std::ostringstream excluded_note;
  excluded_note << "excluded " << entries.size() << " images listed in " << idx.string();
  CHECK(t.out.find(excluded_note.str()) != std::string::npos);
  CHECK(split_sizes(t.out) == std::pair<int64_t, int64_t>{want_train, 70});
  CHECK(train_class_counts(t.out) == want);
  const json summary = json::parse(slurp(fs::path(run) / "summary.json"));
  CHECK(summary.at("val").at("images") == 70);

  // Without --exclude the same file trains on all 283 Training rows.
  const Run all = run_program("fertrain", "--data " + dup.string() + " --model cnn6 --width 0.25 --epochs 1 "
                                          "--batch-size 32 --threads 2 --seed 3 --no-progress --stop-after-steps 1 --out " +
                                              (s.dir / "run_all").string());
  CHECK(split_sizes(all.out) == std::pair<int64_t, int64_t>{283, 70});

  // An index entry naming a row the CSV does not have is refused, naming the entry.
  fer::test::write_text(s.dir / "stale.exclude", "dup.csv:9999  # not a row\n");
  const Run stale = run_program("fertrain", "--data " + dup.string() + " --exclude " + (s.dir / "stale.exclude").string() +
                                                " --epochs 1 --no-progress --out " + (s.dir / "run_stale").string());
  CHECK(stale.code != 0);
  CHECK(lines(stale.err) == 1);
  CHECK(stale.err.find("'dup.csv:9999' names no image") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir / "run_stale"));
}

TEST_CASE("real data: a bad CSV row stops fertrain with one line naming file:line and the field" *
          doctest::test_suite("data")) {
  Slice& s = slice();
  if (!s.skip.empty()) {
    MESSAGE(s.skip);
    return;
  }
  const std::vector<uint8_t>& px = s.rows[0].pixels;
  const std::vector<uint8_t> short_px(px.begin(), px.end() - 1);
  std::vector<uint8_t> ok_px = px;
  std::string big = fer::test::pixel_text(px);
  big.replace(big.rfind(' ') + 1, std::string::npos, "256");  // the last pixel
  struct Bad {
    std::string name, row, expect;
  };
  const std::vector<Bad> cases = {
      {"short", csv_line(2, short_px, "Training"), "pixels holds 2303 values, expected 2304"},
      {"emotion", csv_line(9, px, "Training"), "emotion is '9', expected an integer 0..6"},
      {"pixel", "4," + big + ",Training", "pixel 2303 is 256, expected an integer 0..255"},
      {"usage", csv_line(4, px, "Validation"), "Usage is 'Validation', expected Training, PublicTest or PrivateTest"},
      {"fields", "4," + fer::test::pixel_text(px), "row has 2 fields, the header has 3"},
  };
  for (const Bad& b : cases) {
    CAPTURE(b.name);
    // header, three good rows, the bad one at line 5, one more good row
    std::ostringstream text;
    text << "emotion,pixels,Usage\n";
    for (int r = 0; r < 3; ++r) text << csv_line(s.rows[r].code, s.rows[r].pixels, "Training") << "\n";
    text << b.row << "\n" << csv_line(3, ok_px, "PublicTest") << "\n";
    const fs::path csv = s.dir / ("bad_" + b.name + ".csv");
    fer::test::write_text(csv, text.str());
    const fs::path out = s.dir / ("run_bad_" + b.name);
    const Run t = run_program("fertrain", "--data " + csv.string() + " --width 0.25 --epochs 1 --threads 2 "
                                          "--no-progress --out " + out.string());
    INFO(t.out);
    INFO(t.err);
    CHECK(t.code == 1);
    CHECK(lines(t.err) == 1);
    CHECK(t.err.rfind("fertrain: error: " + csv.string() + ":5: " + b.expect, 0) == 0);
    CHECK_FALSE(fs::exists(out));
  }
  // fereval and ferclean say the same about the same file.
  const fs::path csv = s.dir / "bad_short.csv";
  if (s.trained) {
    const Run e = run_program("fereval", "--checkpoint " + s.ckpt + " --data " + csv.string());
    CHECK(e.code == 1);
    CHECK(lines(e.err) == 1);
    CHECK(e.err.find(csv.string() + ":5: pixels holds 2303 values") != std::string::npos);
  }
  const Run c = run_program("ferclean", "--data " + csv.string() + " --out " + (s.dir / "never.exclude").string());
  CHECK(c.code == 1);
  CHECK(lines(c.err) == 1);
  CHECK(c.err.find(csv.string() + ":5: pixels holds 2303 values") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir / "never.exclude"));
}
