// scripts/gpu-check.sh, the prepared checks of a GPU session, must fit the session's device time:
// its orchestration (deadline, per-step caps and floors, resuming on a warm machine) is tested here
// without a GPU through FER_GPU_FAKE, which replaces every step by a sleep (caps and floors / 30).
// Also: `plan` lists every step, the caps of the steps before `compile` leave the deadline room, and
// the steps docs/gpu-session.md names are the script's.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

TEST_CASE("gpu-check: plan lists the steps, and the deadline fits one device call") {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_gpu_check_plan_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const Run r = run_script("", "plan", dir);
  REQUIRE(r.code == 0);
  std::istringstream in(r.output);
  std::string header;
  std::getline(in, header);
  CHECK(header.find("cap") != std::string::npos);
  int steps = 0, deadline = 0, largest_cap = 0;
  const std::string gpu_session = read_text(fs::path(FER_SOURCE_DIR) / "docs" / "gpu-session.md");
  std::string step;
  for (; in >> step && step != "deadline";) {
    int cap = 0, floor = 0;
    in >> cap >> floor;
    CHECK_MESSAGE(floor <= cap, step);
    largest_cap = std::max(largest_cap, cap);
    ++steps;
    CHECK_MESSAGE(gpu_session.find("`" + step + "`") != std::string::npos, "docs/gpu-session.md names step ", step);
  }
  CHECK(steps == 8);
  REQUIRE(step == "deadline");
  in >> deadline;
  // 15 minutes of device time: a start (a minute or more) and one call of at most 600 s, which
  // must also pack and return $OUT after the deadline
  CHECK(deadline > 0);
  CHECK(deadline <= 570);
  CHECK(largest_cap <= deadline);
  const Run bad = run_script("", "bogus", dir);
  CHECK(bad.code == 2);
  CHECK(bad.output.find("unknown step 'bogus'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("gpu-check: deadline, caps, floors and going on in a second call (FER_GPU_FAKE)") {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_gpu_check_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string common = "FER_GPU_BUILD_DIR=" + (dir / "b").string() + " FER_GPU_WORK=" + (dir / "w").string();

  // No time for the build: nothing else runs.
  {
    const Run r = run_script("OUT=" + (dir / "o0").string() + " FER_GPU_SECONDS=2 FER_GPU_FAKE=build=1 " +
                                 "FER_GPU_BUILD_DIR=" + (dir / "b0").string() + " FER_GPU_WORK=" + (dir / "w").string(),
                             "all", dir);
    CHECK(r.code == 1);
    const auto st = statuses(dir / "o0" / "steps.tsv");
    CHECK(st.at("build") == "skipped-time");
    CHECK(st.at("test") == "skipped-not-built");
    CHECK(st.at("compile") == "skipped-not-built");
  }

  // Call 1, deadline 9 s: build 2 s, test fails, sanitize and step 1 s each, train runs past its
  // cap (100 s / 30 = 3 s), compile (floor 90 s / 30 = 3 s) finds too little time left.
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

  // Call 2 on the same (warm) machine: the build again (the carried tree may have changed), then
  // what call 1 did not finish: train (cut off by its timeout) and compile (not reached).
  const Run r2 = run_script("OUT=" + (dir / "o2").string() + " FER_GPU_SECONDS=30 FER_GPU_FAKE=x=1 " + common, "all", dir);
  INFO(r2.output);
  CHECK(r2.code == 0);
  const auto s2 = statuses(dir / "o2" / "steps.tsv");
  CHECK(s2.at("build") == "ok");
  CHECK(s2.count("test") == 0);
  CHECK(s2.count("sanitize") == 0);
  CHECK(s2.count("step") == 0);
  CHECK(s2.at("train") == "ok");
  CHECK(s2.at("compile") == "ok");
  CHECK(r2.output.find("== test: done earlier on this machine") != std::string::npos);
  CHECK(r2.output.find("== gpu-check done") != std::string::npos);  // the log's last lines are there

  // A step named explicitly that is recorded as done does not run again, unless FER_GPU_REDO=1.
  const Run r3 = run_script("OUT=" + (dir / "o3").string() + " FER_GPU_SECONDS=30 FER_GPU_FAKE=x=1 " + common, "test", dir);
  CHECK(r3.output.find("== test: done earlier on this machine") != std::string::npos);
  const Run r4 = run_script("OUT=" + (dir / "o4").string() + " FER_GPU_SECONDS=30 FER_GPU_FAKE=x=1 FER_GPU_REDO=1 " + common,
                            "build test", dir);
  CHECK(r4.code == 0);
  const auto s4 = statuses(dir / "o4" / "steps.tsv");
  CHECK(s4.at("build") == "ok");
  CHECK(s4.at("test") == "ok");
  CHECK(s4.count("conv") == 0);
  fs::remove_all(dir);
}

namespace {

void write_script(const fs::path& p, const std::string& body) {
  std::ofstream(p) << "#!/bin/bash\n" << body << "\n";
  fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
}

// Lines of `text` that start with `prefix`.
std::vector<std::string> lines_with(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("gpu-check: the real steps run against stub tools and binaries (order, filters, resuming a cut-off test)") {
  // No GPU here: cmake, nvidia-smi, nvcc, compute-sanitizer and python3 are stubs on PATH, and the
  // binaries in the build folder are scripts that print their arguments; fer_tests_cuda fails for
  // one file and sleeps for another, so the test step is cut off and a second call goes on with it.
  const fs::path dir = fs::temp_directory_path() / ("fer_test_gpu_check_stub_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const fs::path path = dir / "path", bin = dir / "b" / "bin", device = dir / "device";
  fs::create_directories(path);
  fs::create_directories(bin);
  fs::create_directories(device);
  std::ofstream(device / "suite.sh") << "# stub\n";
  write_script(path / "cmake", "echo \"stub cmake $*\"");
  write_script(path / "nvidia-smi", "echo 'stub GPU, 80 GiB'");
  write_script(path / "nvcc", "echo 'stub nvcc'");
  write_script(path / "python3", "echo \"stub python3 $*\"; [ \"$1\" = -c ] && exit 1; exit 0");
  write_script(path / "compute-sanitizer",
               "while [ $# -gt 0 ] && [ ! -x \"$1\" ]; do shift; done; echo \"sanitizer: $*\"; \"$@\"");
  const std::string flag = (dir / "slow-once").string();
  write_script(bin / "fer_tests_cuda",
               "echo \"fer_tests_cuda $* alloc=${FER_CUDA_ALLOC:-cached} sync=${FER_DEBUG_SYNC:-0}\"\n"
               "case \"$1\" in\n"
               "  *test_pool_parity.cpp) exit 1 ;;\n"
               "  *test_dropout_parity.cpp) if [ ! -e " + flag + " ]; then touch " + flag + "; sleep 30; fi ;;\n"
               "esac\nexit 0");
  for (const char* b : {"fertrain", "bench_train_step", "bench_conv_cuda", "bench_ops_cuda", "bench_augment_cuda"})
    write_script(bin / b, std::string("echo \"") + b + " $*\"");
  const std::string env = "PATH=" + path.string() + ":$PATH FER_GPU_DEVICE_DIR=" + device.string() +
                          " FER_GPU_BUILD_DIR=" + (dir / "b").string() + " FER_GPU_WORK=" + (dir / "w").string();

  // call 1: 20 s for the test step, so the sleeping file uses them up and the files after it wait
  const Run r1 = run_script("OUT=" + (dir / "o1").string() + " FER_GPU_SECONDS=60 FER_GPU_LIMITS=build=10:1,test=20:5 " + env,
                            "build test", dir);
  INFO(r1.output);
  const auto s1 = statuses(dir / "o1" / "steps.tsv");
  CHECK(s1.at("build") == "ok");
  CHECK(s1.at("test") == "timeout");
  const std::string tests1 = read_text(dir / "o1" / "tests.log");
  // kernel parity files first, in name order; the failing file is reported and the others go on
  const auto ran1 = lines_with(tests1, "-- test_");
  REQUIRE(!ran1.empty());
  CHECK(ran1.front().find("test_accuracy_parity.cpp") != std::string::npos);
  CHECK(tests1.find("-sf=*test_pool_parity.cpp") == std::string::npos);  // after the sleeping file: not run
  CHECK(tests1.find("test_pool_parity.cpp: not run (out of time)") != std::string::npos);
  CHECK(tests1.find("fer_tests_cuda -sf=*test_accuracy_parity.cpp alloc=cached") != std::string::npos);

  // call 2: the rest of the test files (not the ones call 1 ran), then sanitize with its filter
  const Run r2 = run_script("OUT=" + (dir / "o2").string() + " FER_GPU_SECONDS=200 " + env, "all", dir);
  INFO(r2.output);
  const auto s2 = statuses(dir / "o2" / "steps.tsv");
  CHECK(s2.at("build") == "ok");
  CHECK(s2.at("test") == "failed-rc1");  // test_pool_parity.cpp
  CHECK(s2.at("sanitize") == "failed-rc1");
  for (const char* step : {"step", "conv", "ops", "compile"}) CHECK_MESSAGE(s2.at(step) == "ok", step);
  CHECK(s2.at("train") == "failed-rc1");  // no data staged in the stub .device
  const std::string tests2 = read_text(dir / "o2" / "tests.log");
  CHECK(tests2.find("test_accuracy_parity.cpp") == std::string::npos);
  CHECK(tests2.find("test_pool_parity.cpp                     rc 1") != std::string::npos);
  // the failed file ran again with a synchronise after every launch, the passing ones did not
  CHECK(tests2.find("fer_tests_cuda -sf=*test_pool_parity.cpp alloc=cached sync=1") != std::string::npos);
  std::vector<std::string> reruns;  // the result lines of reruns
  for (const std::string& l : lines_with(tests2, "-- test_"))
    if (l.find(" s (FER_DEBUG_SYNC=1)") != std::string::npos) reruns.push_back(l);
  REQUIRE(reruns.size() == 1);
  CHECK(reruns[0].find("test_pool_parity.cpp") != std::string::npos);
  CHECK(reruns[0].find("rc 1 ") != std::string::npos);
  CHECK(tests2.find("test_tiny_training_cuda.cpp alloc=cached sync=1") == std::string::npos);
  const auto ran2 = lines_with(tests2, "-- test_");
  REQUIRE(!ran2.empty());
  CHECK(ran2.back().find("test_tiny_training_cuda.cpp") != std::string::npos);  // model-sized files last
  const std::string sanitize = read_text(dir / "o2" / "sanitize.log");
  CHECK(sanitize.find("sanitizer: " + (dir / "b" / "bin" / "fer_tests_cuda").string() +
                      " -sf=*test_conv2d_tc_parity.cpp -tce=*resnet*") != std::string::npos);
  CHECK(sanitize.find("test_model_golden_cuda.cpp") == std::string::npos);  // nothing left after the filter
  CHECK(sanitize.find("alloc=direct") != std::string::npos);                // no cache to hide an overrun
  CHECK(tests2.find("alloc=cached") != std::string::npos);
  const std::string log = read_text(dir / "o2" / "gpu-check.log");
  CHECK(log.find("bench_train_step --benchmark_out=") != std::string::npos);
  CHECK(log.find("--no-cpu --no-graph --csv=") != std::string::npos);
  CHECK(log.find("--benchmark_filter=graph") != std::string::npos);
  CHECK(log.find("train_step_torch.py --modes eager,eager_cl_bf16") != std::string::npos);
  CHECK(log.find("no training run") != std::string::npos);  // no data staged in the stub .device
  CHECK(fs::exists(dir / "o2" / "bench.tar.gz"));
  fs::remove_all(dir);
}
