// The training proof on real data (CPU): R001's CNN6 recipe on 5,000 FER2013 training
// images for 2 epochs reaches a validation (PublicTest) accuracy clearly above the majority-class
// rate (happy, about 25%): the bar is 30%.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/fer_data.h"

namespace fs = std::filesystem;

TEST_CASE("fertrain --recipe r001-cnn6 --limit 5000 --epochs 2 learns FER2013 (> 30% on PublicTest)") {
  const fs::path data = fer::test::fer_data_root() / "fer2013";
  REQUIRE_MESSAGE(fs::is_directory(data), "FER_DATA has no fer2013/ folder: " << data.string());
  const fs::path out = fs::temp_directory_path() / ("fer_slow_r001_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/fertrain --recipe r001-cnn6 --data " + data.string() +
                          " --limit 5000 --epochs 2 --device cpu --no-progress --out " + out.string();
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  std::ifstream in(out / "summary.json");
  REQUIRE(in);
  const auto summary = nlohmann::json::parse(in);
  const double acc = summary.at("val").at("accuracy").get<double>();
  MESSAGE("r001-cnn6, 5000 images, 2 epochs: PublicTest accuracy " << acc);
  CHECK(summary.at("val").at("split") == "PublicTest");
  CHECK(acc > 0.30);
  fs::remove_all(out);
}
