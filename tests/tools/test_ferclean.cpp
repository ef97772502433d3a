// ferclean end to end (CPU): a small generated PNG folder with a planted same-label duplicate, a
// cross-label duplicate and a Training/PublicTest overlap -> the index lists exactly the expected
// entries (relative to --data), --keep-test-overlap and --json work, fertrain --exclude accepts the
// index and reports the count, and bad inputs give one clear line and a non-zero exit. The data
// folder is checked to be unchanged.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

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
      (fs::temp_directory_path() / ("fer_test_ferclean_" + program + "_" + std::to_string(::getpid()))).string();
  const std::string cmd =
      std::string(FER_BINARY_DIR) + "/bin/" + program + " " + args + " > " + stem + ".out 2> " + stem + ".err";
  const int status = std::system(cmd.c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(stem + ".out"), slurp(stem + ".err")};
  fs::remove(stem + ".out");
  fs::remove(stem + ".err");
  return r;
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

// Every file under `root` with its size (to check ferclean leaves the data alone).
std::set<std::string> listing(const fs::path& root) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file())
      out.insert(fs::relative(e.path(), root).generic_string() + ":" + std::to_string(e.file_size()));
  return out;
}

const std::vector<std::string> kFolders = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};

// per class 3 distinct Training and 2 distinct PublicTest images (patterns 0..34), plus:
//   same-label duplicate: train/happy/Training_51.png = train/happy/Training_50.png (pattern 100)
//   cross-label:          train/sad/Training_60.png = train/angry/Training_61.png   (pattern 120)
//   test overlap:         train/fear/Training_70.png = test/fear/PublicTest_71.png  (pattern 140)
struct Folder {
  fer::test::TempDir dir;
  fs::path root;
  Folder() {
    root = dir / "data";
    int id = 0;
    for (const std::string& c : kFolders) {
      for (int i = 0; i < 3; ++i, ++id)
        fer::test::write_gray48(root / "train" / c / ("Training_" + std::to_string(id) + ".png"),
                                fer::test::pattern(id));
      for (int i = 0; i < 2; ++i, ++id)
        fer::test::write_gray48(root / "test" / c / ("PublicTest_" + std::to_string(id) + ".png"),
                                fer::test::pattern(id));
    }
    fer::test::write_gray48(root / "train/happy/Training_50.png", fer::test::pattern(100));
    fer::test::write_gray48(root / "train/happy/Training_51.png", fer::test::pattern(100));
    fer::test::write_gray48(root / "train/sad/Training_60.png", fer::test::pattern(120));
    fer::test::write_gray48(root / "train/angry/Training_61.png", fer::test::pattern(120));
    fer::test::write_gray48(root / "train/fear/Training_70.png", fer::test::pattern(140));
    fer::test::write_gray48(root / "test/fear/PublicTest_71.png", fer::test::pattern(140));
  }
};

}  // namespace

TEST_CASE("ferclean: planted duplicates give exactly the expected index, which fertrain --exclude accepts") {
  Folder f;
  const std::set<std::string> before = listing(f.root);
  const fs::path index = f.dir / "clean.exclude";
  const Run r = run_program("ferclean", "--data " + f.root.string() + " --out " + index.string());
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("excluded 4 images: 2 cross-label, 1 duplicate, 1 test-overlap") != std::string::npos);
  CHECK(r.out.find("PublicTest: 1 of 15 images also occur in Training") != std::string::npos);
  const std::set<std::string> expected = {"train/happy/Training_51.png", "train/sad/Training_60.png",
                                          "train/angry/Training_61.png", "train/fear/Training_70.png"};
  CHECK(entries(index) == expected);
  const std::string text = slurp(index);
  CHECK(text.find("# Policy:") != std::string::npos);
  CHECK(text.find("train/happy/Training_51.png  # duplicate of train/happy/Training_50.png") != std::string::npos);
  CHECK(listing(f.root) == before);  // the data is never modified

  // fertrain accepts the index and says how many images it left out.
  const fs::path run_dir = f.dir / "run";
  const Run t = run_program("fertrain", "--data " + f.root.string() + " --exclude " + index.string() +
                                            " --epochs 1 --width 0.25 --batch-size 8 --threads 2 --no-progress --out " +
                                            run_dir.string());
  INFO(t.out);
  INFO(t.err);
  CHECK(t.code == 0);
  CHECK((t.out + t.err).find("excluded 4 images listed in " + index.string()) != std::string::npos);
}

TEST_CASE("ferclean: --keep-test-overlap and --json") {
  Folder f;
  const fs::path index = f.dir / "keep.exclude";
  const Run r =
      run_program("ferclean", "--data " + f.root.string() + " --out " + index.string() + " --keep-test-overlap --json");
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  json j;
  REQUIRE_NOTHROW(j = json::parse(r.out));
  CHECK(j.at("images").get<int64_t>() == 41);
  CHECK(j.at("duplicate_groups").get<int64_t>() == 3);
  CHECK(j.at("images_in_groups").get<int64_t>() == 6);
  CHECK(j.at("cross_label_groups").get<int64_t>() == 1);
  CHECK(j.at("training_in_test").get<int64_t>() == 1);
  CHECK(j.at("excluded").get<int64_t>() == 3);
  CHECK(j.at("reasons").at("test_overlap").at("images").get<int64_t>() == 0);
  CHECK(j.at("reasons").at("cross_label").at("per_class").at("sad").get<int64_t>() == 1);
  CHECK(j.at("reasons").at("cross_label").at("per_class").at("angry").get<int64_t>() == 1);
  CHECK(j.at("reasons").at("duplicate").at("per_class").at("happy").get<int64_t>() == 1);
  CHECK(j.at("reasons").at("kept").at("images").get<int64_t>() == 38);
  CHECK(entries(index) == std::set<std::string>{"train/happy/Training_51.png", "train/sad/Training_60.png",
                                                "train/angry/Training_61.png"});

  // fer6 drops disgust (3 Training + 2 PublicTest); the planted groups are unaffected.
  const Run six =
      run_program("ferclean", "--data " + f.root.string() + " --out " + index.string() + " --classes 6 --json");
  INFO(six.err);
  REQUIRE(six.code == 0);
  const json j6 = json::parse(six.out);
  CHECK(j6.at("class_set") == "fer6");
  CHECK(j6.at("images").get<int64_t>() == 36);
  CHECK(j6.at("excluded").get<int64_t>() == 4);
}

TEST_CASE("ferclean: bad inputs give one clear line and a non-zero exit") {
  Folder f;
  const fs::path index = f.dir / "x.exclude";
  struct Case {
    std::string args, needle;
  };
  const std::vector<Case> cases = {
      {"--data " + (f.dir / "nope").string() + " --out " + index.string(), "does not exist"},
      {"--data " + (f.root / "train").string() + " --out " + index.string(), "neither train/ nor test/"},
      {"--data " + f.root.string() + " --out " + (f.dir / "no" / "such" / "x").string(), "x"},
      {"--data " + f.root.string() + " --out " + index.string() + " --classes 5", "fer7"},
      {"--data " + f.root.string() + " --out " + index.string() + " --autoencoder a.safetensors --percentile 98",
       "no such file"},
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
  const Run missing = run_program("ferclean", "--out " + index.string());
  CHECK(missing.code != 0);
  CHECK((missing.out + missing.err).find("--data") != std::string::npos);
}
