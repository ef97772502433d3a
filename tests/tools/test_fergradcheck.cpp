// fergradcheck end to end: every op of --list passes at its default shapes, a small model passes,
// an unknown op gives one error line, and impossible tolerances make a check fail with exit 1.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

Run run_fergradcheck(const std::string& args) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_fergradcheck_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/fergradcheck " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

// The op names of `--list` (first column of the lines after the header, up to the models line).
std::vector<std::string> listed_ops(const std::string& listing) {
  std::vector<std::string> ops;
  std::istringstream in(listing);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.rfind("models", 0) == 0 || line.empty()) continue;
    ops.push_back(line.substr(0, line.find(' ')));
  }
  return ops;
}

}  // namespace

TEST_CASE("fergradcheck: every listed op passes at its default shapes") {
  const Run list = run_fergradcheck("--list");
  INFO(list.output);
  REQUIRE(list.code == 0);
  const auto ops = listed_ops(list.output);
  CHECK(ops.size() >= 23);
  for (const char* want : {"conv2d", "batch_norm", "mask_apply", "cross_entropy", "add"})
    CHECK(std::find(ops.begin(), ops.end(), want) != ops.end());
  for (const auto& op : ops) {
    const Run r = run_fergradcheck(op);
    INFO(op << ":\n" << r.output);
    CHECK(r.code == 0);
    CHECK(r.output.find("PASS") != std::string::npos);
    CHECK(r.output.find("FAIL") == std::string::npos);
  }
}

TEST_CASE("fergradcheck: op flags and --show") {
  for (const char* args : {"conv2d --shape 1,4,7,7 --stride 2 --padding 1 --groups 2", "batch_norm --eval",
                           "conv2d --shape 1,2,11,10 --kernel 7 --stride 2 --padding 3",  // the ResNet stem
                           "conv2d --shape 2,2,8,8 --kernel 4 --stride 4",                // the ViT patch layer
                           "slice --shape 6,2,3 --dim 0",
                           "conv_transpose2d --stride 2 --padding 1", "softmax --dim 2", "mask_apply --mask sigmoid",
                           "cross_entropy --label-smoothing 0.1 --seed 5"}) {
    const Run r = run_fergradcheck(args);
    INFO(args << ":\n" << r.output);
    CHECK(r.code == 0);
    CHECK(r.output.find("verdict: PASS") != std::string::npos);
  }
  const Run r = run_fergradcheck("linear --show 3");
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("x: first 3 elements") != std::string::npos);
  CHECK(r.output.find("analytic") != std::string::npos);
}

TEST_CASE("fergradcheck: a small model passes") {
  const Run r = run_fergradcheck("--model cnn6 --width 0.125");
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("model cnn6") != std::string::npos);
  CHECK(r.output.find("verdict: PASS") != std::string::npos);
}

TEST_CASE("fergradcheck: unknown op, bad shape, impossible tolerances") {
  const Run unknown = run_fergradcheck("no_such_op");
  INFO(unknown.output);
  CHECK(unknown.code != 0);
  CHECK(unknown.output.find("unknown op 'no_such_op'") != std::string::npos);
  CHECK(std::count(unknown.output.begin(), unknown.output.end(), '\n') == 1);

  const Run bad = run_fergradcheck("conv2d --shape 2,3,x");
  INFO(bad.output);
  CHECK(bad.code != 0);
  CHECK(std::count(bad.output.begin(), bad.output.end(), '\n') == 1);

  const Run strict = run_fergradcheck("sigmoid --atol 0 --rtol 0");
  INFO(strict.output);
  CHECK(strict.code == 1);
  CHECK(strict.output.find("FAIL") != std::string::npos);
}
