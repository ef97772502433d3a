// ferwalk bn end to end: one batch-norm channel by hand next to the engine. The by-hand values
// (double loops) and the engine's f64 CPU ops (fused batch_norm_act and the unfused chain) agree to
// 1e-12 on every "max |diff|" line, the finite-difference check of dx passes, and bad flags give one
// error line and a non-zero exit. (The documented runs are also checked by test_docs.cpp.)
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

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

Run run_ferwalk(const std::string& args) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_ferwalk_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/ferwalk " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// The values of the "max |diff|: y A  dx B  dgamma C  dbeta D  running_mean E  running_var F" lines.
std::vector<std::vector<double>> max_diff_lines(const std::string& output) {
  std::vector<std::vector<double>> rows;
  for (const std::string& l : lines_of(output)) {
    const size_t at = l.find("max |diff|:");
    if (at == std::string::npos) continue;
    std::istringstream in(l.substr(at + 11));
    std::vector<double> row;
    for (std::string name, value; in >> name >> value;) row.push_back(std::stod(value));
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST_CASE("ferwalk bn: by hand equals the engine (fused and unfused) and finite differences") {
  struct Case {
    const char* args;
    size_t paths;  // engine paths compared
  };
  for (const Case& c : {Case{"bn", 2}, Case{"bn --act silu", 2}, Case{"bn --act none", 1},
                        Case{"bn --act silu --seed 7 --n 3 --c 4 --h 2 --w 5 --channel 3", 2},
                        Case{"bn --n 40 --c 2 --h 1 --w 1 --channel 1", 2}}) {
    const Run r = run_ferwalk(c.args);
    INFO(c.args << ":\n" << r.output);
    CHECK(r.code == 0);
    const auto rows = max_diff_lines(r.output);
    REQUIRE(rows.size() == c.paths);
    for (const auto& row : rows) {
      CHECK(row.size() == 6);  // y, dx, dgamma, dbeta, running_mean, running_var
      for (double v : row) CHECK(v < 1e-12);
    }
    CHECK(r.output.find("by central differences") != std::string::npos);
    CHECK(r.output.find(": PASS") != std::string::npos);
    CHECK(r.output.find("FAIL") == std::string::npos);
    for (const char* must : {"mean   = (1/M) sum x", "invstd = 1/sqrt(var + eps)", "dgamma = sum dz x_hat",
                             "running_var  = 0.9 * 1 + 0.1 * var * M/(M-1)"})
      CHECK_MESSAGE(r.output.find(must) != std::string::npos, must);
  }
}

TEST_CASE("ferwalk bn: the printed channel is channel C, with its M values") {
  const Run r = run_ferwalk("bn --channel 2");
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("channel 2 of 3: M = N*H*W = 18 values") != std::string::npos);
  CHECK(r.output.find("\n  1,2,2 ") != std::string::npos);  // the last row of the table (n 1, h 2, w 2)
}

TEST_CASE("ferwalk bn: bad flags give one error line and a non-zero exit") {
  for (const char* args : {"bn --act tanh", "bn --channel 3", "bn --channel -1", "bn --n 1 --h 1 --w 1", "bn --c 0"}) {
    const Run r = run_ferwalk(args);
    INFO(args << ":\n" << r.output);
    CHECK(r.code != 0);
    const auto lines = lines_of(r.output);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].rfind("ferwalk: error: ", 0) == 0);
  }
  const Run act = run_ferwalk("bn --act tanh");
  CHECK(act.output.find("--act must be relu, silu or none, got 'tanh'") != std::string::npos);
  const Run ch = run_ferwalk("bn --channel 3");
  CHECK(ch.output.find("--channel must be in [0, 3), got 3") != std::string::npos);
}
