// scripts/gpu-check.sh, the prepared checks of a GPU session, must fit the session's device time:
// its orchestration (deadline, per-step caps and floors, resuming on a warm machine) is tested here
// without a GPU through FER_GPU_FAKE, which replaces every step by a sleep (caps and floors / 30).
// Also: `plan` lists every step, the caps of the steps before `compile` leave the deadline room, and
// the steps docs/gpu-session.md names are the script's.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Run run_script(const std::string& env, const std::string& args, const fs::path& dir) {
  const fs::path log = dir / "console.log";
  const std::string cmd = "cd " + dir.string() + " && " + env + " bash " + FER_SOURCE_DIR +
                          "/scripts/gpu-check.sh " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
}

// steps.tsv: step -> status
std::map<std::string, std::string> statuses(const fs::path& tsv) {
  std::map<std::string, std::string> m;
  std::istringstream in(read_text(tsv));
  for (std::string step, status, seconds; in >> step >> status >> seconds;) m[step] = status;
  return m;
}

}  // namespace

TEST_CASE("gpu-check: plan lists the steps, and the caps before `compile` fit two device calls") {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_gpu_check_plan_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const Run r = run_script("", "plan", dir);
  REQUIRE(r.code == 0);
  std::istringstream in(r.output);
  std::string header;
  std::getline(in, header);
  CHECK(header.find("cap") != std::string::npos);
  int sum = 0, steps = 0;
  const std::string gpu_session = read_text(fs::path(FER_SOURCE_DIR) / "docs" / "gpu-session.md");
  for (std::string step; in >> step && step != "deadline";) {
    int cap = 0, floor = 0;
    in >> cap >> floor;
    CHECK_MESSAGE(floor <= cap, step);
    if (step != "compile") sum += cap;
    ++steps;
    CHECK_MESSAGE(gpu_session.find("`" + step + "`") != std::string::npos, "docs/gpu-session.md names step ", step);
  }
  CHECK(steps == 8);
  // 15 minutes of device time: a start (a minute or more), one call of at most 600 s and a short
  // second one on the warm machine. Every step's cap together stays within the two calls.
  CHECK(sum <= 600 + 600);
  const Run bad = run_script("", "bogus", dir);
  CHECK(bad.code == 2);
  CHECK(bad.output.find("unknown step 'bogus'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("gpu-check: deadline, caps, floors and going on in a second call (FER_GPU_FAKE)") {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_gpu_check_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string common = "FER_GPU_BUILD_DIR=" + (dir / "b").string();

  // No time for the build: nothing else runs.
  {
    const Run r = run_script("OUT=" + (dir / "o0").string() + " FER_GPU_SECONDS=2 FER_GPU_FAKE=build=1 " +
                                 "FER_GPU_BUILD_DIR=" + (dir / "b0").string(),
                             "all", dir);
    CHECK(r.code == 1);
    const auto st = statuses(dir / "o0" / "steps.tsv");
    CHECK(st.at("build") == "skipped-time");
    CHECK(st.at("test") == "skipped-no-build");
    CHECK(st.at("compile") == "skipped-no-build");
  }

  // Call 1, deadline 9 s: build 2 s, test fails, train runs past its cap (100 s / 30 = 3 s),
  // compile (floor 3 s) finds too little time left.
  const Run r1 = run_script("OUT=" + (dir / "o1").string() + " FER_GPU_SECONDS=9 FER_GPU_FAKE=build=2,test=-1,train=9 " +
                                common,
                            "all", dir);
  INFO(r1.output);
  CHECK(r1.code == 1);
  const auto s1 = statuses(dir / "o1" / "steps.tsv");
  CHECK(s1.at("build") == "ok");
  CHECK(s1.at("test") == "failed-rc3");
  CHECK(s1.at("step") == "ok");
  CHECK(s1.at("train") == "timeout");
  CHECK(s1.at("compile") == "skipped-time");
  CHECK(fs::exists(dir / "o1" / "gpu-check.log"));

  // Call 2 on the same (warm) machine: only what call 1 did not reach runs.
  const Run r2 = run_script("OUT=" + (dir / "o2").string() + " FER_GPU_SECONDS=30 FER_GPU_FAKE=x=1 " + common, "all", dir);
  INFO(r2.output);
  CHECK(r2.code == 0);
  const auto s2 = statuses(dir / "o2" / "steps.tsv");
  CHECK(s2.count("build") == 0);
  CHECK(s2.count("test") == 0);
  CHECK(s2.count("train") == 0);
  CHECK(s2.at("compile") == "ok");
  CHECK(r2.output.find("== train: done earlier on this machine") != std::string::npos);

  // A step named explicitly that is recorded as done does not run again, unless FER_GPU_REDO=1.
  const Run r3 = run_script("OUT=" + (dir / "o3").string() + " FER_GPU_SECONDS=30 FER_GPU_FAKE=x=1 " + common, "test", dir);
  CHECK(r3.output.find("== test: done earlier on this machine") != std::string::npos);
  const Run r4 = run_script("OUT=" + (dir / "o4").string() + " FER_GPU_SECONDS=30 FER_GPU_FAKE=x=1 FER_GPU_REDO=1 " + common,
                            "build test", dir);
  CHECK(r4.code == 0);
  const auto s4 = statuses(dir / "o4" / "steps.tsv");
  CHECK(s4.at("build") == "ok");
  CHECK(s4.at("test") == "ok");
  fs::remove_all(dir);
}
