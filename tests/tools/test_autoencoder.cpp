// R003's outlier pipeline end to end (CPU): fertrain trains the autoencoder (the reconstruction task:
// MSE against the input, val MSE picks best.safetensors, accuracy fields null, no confusion
// matrices), an interrupted run resumes to the same losses, and ferclean --autoencoder scores a
// small generated folder whose two planted noise images are the only Training images above the 98th
// percentile (100 Training images: (n - 1) * 0.98 = 97.02, so exactly the top 2 are above); the
// noise image in test/ is never flagged, and fertrain --exclude accepts the index. Bad flags give
// one clear line and a non-zero exit.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "nn/safetensors.h"
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
      (fs::temp_directory_path() / ("fer_test_autoencoder_" + program + "_" + std::to_string(::getpid()))).string();
  const std::string cmd =
      std::string(FER_BINARY_DIR) + "/bin/" + program + " " + args + " > " + stem + ".out 2> " + stem + ".err";
  const int status = std::system(cmd.c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(stem + ".out"), slurp(stem + ".err")};
  fs::remove(stem + ".out");
  fs::remove(stem + ".err");
  return r;
}

std::vector<json> metrics(const fs::path& dir) {
  std::vector<json> rows;
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

// The entries of an index file, as fertrain reads them (comments and blanks dropped).
std::set<std::string> entries(const fs::path& p) {
  std::set<std::string> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) out.insert(line);
  }
  return out;
}

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

const std::string kSmall = "--model autoencoder --synthetic-count 280 --width 0.25 --batch-size 32 --threads 2 "
                           "--no-progress --optimizer adam --lr 3e-3 ";

// A smooth, low-contrast face-like image (values within about 90..170), distinct per id.
std::vector<uint8_t> smooth(int id) {
  std::vector<uint8_t> img(fer::data::kImagePixels);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) {
      const double v = 130 + 25 * std::sin(0.07 * x + 0.05 * id) + 15 * std::cos(0.09 * y + 0.11 * id);
      img[static_cast<size_t>(y * 48 + x)] = static_cast<uint8_t>(std::lround(v));
    }
  return img;
}

// Full-range noise (a deterministic LCG): far from anything a smooth autoencoder reconstructs.
std::vector<uint8_t> noise(uint32_t seed) {
  std::vector<uint8_t> img(fer::data::kImagePixels);
  for (auto& p : img) {
    seed = seed * 1664525u + 1013904223u;
    p = static_cast<uint8_t>(seed >> 24);
  }
  return img;
}

const std::vector<std::string> kFolders = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};

// train/: 14 smooth images per class + 2 noise images (100); test/: 2 smooth per class + 1 noise (15).
struct Folder {
  fer::test::TempDir dir;
  fs::path root;
  Folder() {
    root = dir / "data";
    int id = 0;
    for (const std::string& c : kFolders) {
      for (int i = 0; i < 14; ++i, ++id)
        fer::test::write_gray48(root / "train" / c / ("Training_" + std::to_string(id) + ".png"), smooth(id));
      for (int i = 0; i < 2; ++i, ++id)
        fer::test::write_gray48(root / "test" / c / ("PublicTest_" + std::to_string(id) + ".png"), smooth(id));
    }
    fer::test::write_gray48(root / "train/sad/Training_900.png", noise(1));
    fer::test::write_gray48(root / "train/happy/Training_901.png", noise(2));
    fer::test::write_gray48(root / "test/fear/PublicTest_902.png", noise(3));
  }
};

}  // namespace

TEST_CASE("fertrain --model autoencoder: MSE falls, val MSE picks the best checkpoint, outputs parse") {
  fer::test::TempDir tmp;
  const fs::path dir = tmp / "run";
  const Run r = run_program("fertrain", kSmall + "--epochs 3 --out " + dir.string());
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("train mse") != std::string::npos);
  for (const char* f : {"config.json", "metrics.csv", "metrics.jsonl", "best.safetensors", "last.safetensors",
                        "last.optim.safetensors", "curves.png", "report.html", "summary.json"})
    CHECK_MESSAGE(fs::exists(dir / f), f);
  for (const char* f : {"confusion_val.csv", "confusion_val.png", "classification_val.txt"})
    CHECK_MESSAGE(!fs::exists(dir / f), f);  // no classes, no confusion matrices
  const std::vector<json> rows = metrics(dir);
  REQUIRE(rows.size() == 3);
  size_t best = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].at("train_acc").is_null());
    CHECK(rows[i].at("val_acc").is_null());
    CHECK(rows[i].at("val_macro_f1").is_null());
    REQUIRE(rows[i].at("train_loss").is_number());
    REQUIRE(rows[i].at("val_loss").is_number());
    CHECK(rows[i].at("train_loss").get<double>() > 0);
    CHECK(rows[i].at("train_loss").get<double>() < 0.25);  // sigmoid outputs, targets in [0, 1]
    if (rows[i].at("val_loss").get<double>() < rows[best].at("val_loss").get<double>()) best = i;
  }
  CHECK(rows[2].at("train_loss").get<double>() < rows[0].at("train_loss").get<double>());  // it learns
  const std::string csv = slurp(dir / "metrics.csv");
  CHECK(csv.rfind("epoch,lr,train_loss,train_acc,val_loss", 0) == 0);
  const json summary = json::parse(slurp(dir / "summary.json"));
  CHECK(summary.at("best_epoch").get<size_t>() == best + 1);  // lower val MSE is better
  CHECK(summary.at("val").at("mse").get<double>() == doctest::Approx(rows[best].at("val_loss").get<double>()));
  CHECK(summary.at("val").at("images").get<int>() == 56);
  const auto ckpt = fer::nn::safetensors::File::load((dir / "best.safetensors").string());
  CHECK(ckpt.metadata().at("fer.model") == "autoencoder");
  CHECK(slurp(dir / "report.html").find("<tr class=\"best\"><td>" + std::to_string(best + 1) + "</td>") !=
        std::string::npos);
}

TEST_CASE("fertrain --model autoencoder: --resume after an interruption gives the uninterrupted losses") {
  fer::test::TempDir tmp;
  const fs::path a = tmp / "full", b = tmp / "resumed";
  const std::string common = kSmall + "--epochs 2 --seed 5 ";
  const Run full = run_program("fertrain", common + "--out " + a.string());
  INFO(full.err);
  REQUIRE(full.code == 0);
  // 224 training images / 32 = 7 steps per epoch: stop after 9 steps = epoch 2, step 2.
  const Run first = run_program("fertrain", common + "--out " + b.string() + " --stop-after-steps 9");
  INFO(first.out);
  REQUIRE(first.code == 130);
  CHECK(first.out.find("interrupted at epoch 2, step 2") != std::string::npos);
  const Run second = run_program("fertrain", "--resume " + b.string() + " --no-progress");
  INFO(second.out);
  INFO(second.err);
  REQUIRE(second.code == 0);
  CHECK(second.out.find("best val MSE so far") != std::string::npos);
  const std::vector<json> ra = metrics(a), rb = metrics(b);
  REQUIRE(ra.size() == 2);
  REQUIRE(rb.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(ra[i].at("train_loss").get<double>() == rb[i].at("train_loss").get<double>());  // bit-exact
    CHECK(ra[i].at("val_loss").get<double>() == rb[i].at("val_loss").get<double>());
  }
}

TEST_CASE("ferclean --autoencoder: the planted noise images are the 98th-percentile outliers; fertrain accepts them") {
  Folder f;
  const fs::path run = f.dir / "ae";
  const Run t = run_program("fertrain", "--model autoencoder --data " + f.root.string() +
                                            " --width 0.25 --batch-size 16 --epochs 2 --optimizer adam --lr 3e-3 "
                                            "--threads 2 --no-progress --out " + run.string());
  INFO(t.out);
  INFO(t.err);
  REQUIRE(t.code == 0);
  const fs::path index = f.dir / "ae.exclude";
  const std::string ckpt = (run / "best.safetensors").string();
  const Run r = run_program("ferclean", "--data " + f.root.string() + " --autoencoder " + ckpt +
                                            " --percentile 98 --threads 2 --out " + index.string());
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("percentile 98 of 100 training scores (Training, ") != std::string::npos);
  CHECK(r.out.find("2 images above it, 0 of them already excluded") != std::string::npos);
  CHECK(r.out.find("0 test-overlap, 2 ae-outlier") != std::string::npos);
  CHECK(r.out.find("ae_outlier") != std::string::npos);  // the per-class table has the column
  const std::set<std::string> expected = {"train/sad/Training_900.png", "train/happy/Training_901.png"};
  CHECK(entries(index) == expected);  // test/fear/PublicTest_902.png (noise too) is never flagged
  const std::string text = slurp(index);
  CHECK(text.find("train/sad/Training_900.png  # ae_outlier score=") != std::string::npos);
  CHECK(text.find(" threshold=") != std::string::npos);
  CHECK(text.find("# (4) --autoencoder") != std::string::npos);

  // --json carries the same figures
  const Run j = run_program("ferclean", "--data " + f.root.string() + " --autoencoder " + ckpt +
                                            " --threads 2 --json --out " + index.string());
  INFO(j.err);
  REQUIRE(j.code == 0);
  const json js = json::parse(j.out);
  CHECK(js.at("autoencoder").at("scored").get<int>() == 100);
  CHECK(js.at("autoencoder").at("above_threshold").get<int>() == 2);
  CHECK(js.at("autoencoder").at("percentile").get<double>() == 98.0);
  CHECK(js.at("reasons").at("ae_outlier").at("per_class").at("sad").get<int>() == 1);
  CHECK(js.at("reasons").at("ae_outlier").at("per_class").at("happy").get<int>() == 1);
  CHECK(js.at("excluded").get<int>() == 2);

  // a lower percentile flags more: 100 - 1 - floor(99 * 0.9) = 10 images
  const Run p90 = run_program("ferclean", "--data " + f.root.string() + " --autoencoder " + ckpt +
                                              " --percentile 90 --threads 2 --out " + (f.dir / "p90").string());
  REQUIRE(p90.code == 0);
  CHECK(entries(f.dir / "p90").size() == 10);

  // R003's cleaning: only the training part of fertrain's 80/20 split is scored (79 of the 100
  // Training images: 3 of each class's 14-15 validate; rank 0.98 * 78 = 76.44, so 2 above), and
  // --only-autoencoder lists rule 4 alone
  const fs::path r003_index = f.dir / "r003.exclude";
  const Run r3 = run_program("ferclean", "--data " + f.root.string() + " --autoencoder " + ckpt +
                                             " --val split:0.2 --seed 1 --only-autoencoder --threads 2 --json --out " +
                                             r003_index.string());
  INFO(r3.err);
  REQUIRE(r3.code == 0);
  const json j3 = json::parse(r3.out);
  CHECK(j3.at("autoencoder").at("scored").get<int>() == 79);
  CHECK(j3.at("autoencoder").at("scored_split").get<std::string>().find("split:0.2") != std::string::npos);
  CHECK(j3.at("autoencoder").at("above_threshold").get<int>() == 2);
  CHECK(j3.at("excluded").get<int>() == 2);
  CHECK(entries(r003_index).size() == 2);
  const std::string r003_text = slurp(r003_index);
  CHECK(r003_text.find("# --only-autoencoder: rules 1-3") != std::string::npos);
  CHECK(r003_text.find("# Policy:") == std::string::npos);
  CHECK(r003_text.find("fertrain --val split:0.2 --seed 1") != std::string::npos);
  // the flagged images lie in the training part of the same split: fertrain removes both from training
  const Run r3t = run_program("fertrain", "--data " + f.root.string() + " --val split:0.2 --seed 1 --exclude " +
                                              r003_index.string() + " --dry-run");
  INFO(r3t.out);
  INFO(r3t.err);
  CHECK(r3t.code == 0);
  CHECK((r3t.out + r3t.err).find("excluded 2 images listed in " + r003_index.string() +
                                 " from the training split (79 -> 77)") != std::string::npos);
  CHECK((r3t.out + r3t.err).find("belong to the validation or test split") == std::string::npos);

  // the classifier programs refuse the reconstruction model with one clear line
  const fs::path image = f.root / "train" / "sad" / "Training_900.png";
  for (const std::string& cmd : {std::string("fereval --checkpoint ") + ckpt + " --data " + f.root.string(),
                                 std::string("ferpredict --checkpoint ") + ckpt + " " + image.string(),
                                 std::string("fercam --checkpoint ") + ckpt + " --image " + image.string() + " --out " +
                                     (f.dir / "cam.png").string()}) {
    const std::string program = cmd.substr(0, cmd.find(' '));
    const Run bad = run_program(program, cmd.substr(cmd.find(' ') + 1));
    INFO(cmd);
    INFO(bad.err);
    CHECK(bad.code != 0);
    CHECK(lines(bad.err) == 1);
    CHECK(bad.err.find("a reconstruction model, not a classifier; " + program + " needs a classifier") != std::string::npos);
  }

  // fertrain --exclude takes the index
  const Run e = run_program("fertrain", "--data " + f.root.string() + " --exclude " + index.string() +
                                            " --epochs 1 --width 0.25 --batch-size 16 --threads 2 --no-progress --out " +
                                            (f.dir / "clean").string());
  INFO(e.out);
  INFO(e.err);
  CHECK(e.code == 0);
  CHECK((e.out + e.err).find("excluded 2 images listed in " + index.string()) != std::string::npos);
}

TEST_CASE("ferclean --autoencoder: bad flags and checkpoints give one clear line and a non-zero exit") {
  Folder f;
  const fs::path index = f.dir / "x.exclude";
  // a checkpoint whose metadata names a classifier
  const fs::path classifier = f.dir / "cnn6.safetensors";
  fer::nn::safetensors::save(classifier.string(), {},
                             {{"fer.model", "cnn6"}, {"fer.config", "{}"}, {"fer.classes", "[\"a\",\"b\"]"}});
  const std::string base = "--data " + f.root.string() + " --out " + index.string();
  struct Case {
    std::string args, needle;
  };
  const std::vector<Case> cases = {
      {base + " --percentile 98", "only apply with --autoencoder"},
      {base + " --only-autoencoder", "only apply with --autoencoder"},
      {base + " --val split:0.2", "only apply with --autoencoder"},
      {base + " --autoencoder " + classifier.string() + " --only-autoencoder --keep-test-overlap",
       "no effect with --only-autoencoder"},
      {base + " --autoencoder " + classifier.string() + " --percentile 0", "strictly between 0 and 100"},
      {base + " --autoencoder " + classifier.string() + " --percentile 100", "strictly between 0 and 100"},
      {base + " --autoencoder " + classifier.string() + " --percentile=-5", "strictly between 0 and 100"},
      {base + " --autoencoder " + classifier.string(), "a classifier, not an autoencoder"},
      {base + " --autoencoder " + (f.dir / "none.safetensors").string(), "no such file"},
  };
  for (const Case& c : cases) {
    const Run r = run_program("ferclean", c.args);
    INFO(c.args);
    INFO(r.err);
    CHECK(r.code != 0);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.rfind("ferclean: error: ", 0) == 0);
    CHECK(r.err.find(c.needle) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(index));
}
