// fertrain killed with SIGKILL at random moments (seeded, bounded: 10 kills, about 20 s): after
// every kill each file in the run folder parses completely (checkpoints, config.json,
// metrics.jsonl, summary/classification JSON), the optimizer state matches the model checkpoint's
// step, and `fertrain --resume DIR` continues from the last checkpoint; a final resume finishes.
// The one window two files cannot close atomically (killed after last.safetensors was replaced
// but before last.optim.next.safetensors was renamed over last.optim.safetensors) is also built
// by hand, and the resumed run still gives the uninterrupted run's losses bit for bit.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "nn/safetensors.h"

namespace fs = std::filesystem;
namespace st = fer::nn::safetensors;

namespace {

// Starts fertrain with `args` (output to `log`), returns its pid.
pid_t spawn_fertrain(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv_s = {std::string(FER_BINARY_DIR) + "/bin/fertrain"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits up to `ms` for the child; kills it with SIGKILL when still running. Returns the exit code,
// or -SIGKILL when it was killed.
int wait_or_kill(pid_t pid, int ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every visible file in the run folder parses completely. Returns the checkpoint's epoch*1e6+step
// (-1 when there is no checkpoint yet).
int64_t check_run_folder(const fs::path& dir) {
  int64_t position = -1;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // a killed writer's temporary file
    INFO("file: " << e.path().string());
    const std::string ext = e.path().extension().string();
    if (ext == ".safetensors") {
      REQUIRE_NOTHROW(st::File::load(e.path().string()));
    } else if (ext == ".json") {
      REQUIRE(nlohmann::json::accept(read_text(e.path())));
    } else if (ext == ".jsonl") {
      std::istringstream in(read_text(e.path()));
      std::string line;
      while (std::getline(in, line))
        if (!line.empty()) REQUIRE(nlohmann::json::accept(line));
    } else if (ext == ".png") {
      const std::string png = read_text(e.path());
      REQUIRE(png.size() > 8);
      CHECK(png.compare(png.size() - 8, 8, std::string("IEND\xae\x42\x60\x82", 8)) == 0);  // whole file
    } else if (ext == ".html") {
      CHECK(read_text(e.path()).find("</html>") != std::string::npos);
    }
  }
  if (fs::exists(dir / "last.safetensors")) {
    const auto meta = st::File::load((dir / "last.safetensors").string()).metadata();
    position = std::stoll(meta.at("fer.epoch")) * 1000000 + std::stoll(meta.at("fer.step"));
    // The optimizer state of that step exists (last.optim or, killed mid-save, last.optim.next).
    bool matched = false;
    for (const char* f : {"last.optim.safetensors", "last.optim.next.safetensors"}) {
      if (!fs::exists(dir / f)) continue;
      const auto m = st::File::load((dir / f).string()).metadata();
      matched = matched || (m.at("fer.epoch") == meta.at("fer.epoch") && m.at("fer.step") == meta.at("fer.step"));
    }
    CHECK_MESSAGE(matched, "no optimizer state for the checkpoint's step");
  }
  return position;
}

}  // namespace

TEST_CASE("fertrain: SIGKILL at random moments never leaves a half-written file; --resume continues") {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_sigkill_" + std::to_string(::getpid()));
  const fs::path log = fs::temp_directory_path() / ("fer_test_sigkill_" + std::to_string(::getpid()) + ".log");
  fs::remove_all(dir);
  const std::vector<std::string> fresh = {"--synthetic-count", "140", "--width", "0.25", "--batch-size", "16",
                                          "--threads", "1", "--no-progress", "--epochs", "1000", "--seed", "3",
                                          "--checkpoint-every", "2",  // saves inside epochs too: more windows hit
                                          "--out", dir.string()};
  std::mt19937 rng(20261206);
  std::uniform_int_distribution<int> delay_ms(150, 2500);
  int64_t last_position = -1;
  int resumed = 0;
  std::ostringstream trail;  // "delay ms -> epoch.step" per kill, printed at the end
  for (int kill = 0; kill < 10; ++kill) {
    const bool resume = fs::exists(dir / "last.safetensors");
    const std::vector<std::string> args =
        resume ? std::vector<std::string>{"--resume", dir.string(), "--no-progress", "--threads", "1"} : fresh;
    const int delay = delay_ms(rng);
    const int code = wait_or_kill(spawn_fertrain(args, log), delay);
    INFO("kill " << kill << " after " << delay << " ms, " << (resume ? "resumed" : "fresh") << " run; log:\n"
                 << read_text(log));
    REQUIRE(code == -SIGKILL);  // 1000 epochs never finish: the run was killed, never failed
    resumed += resume ? 1 : 0;
    if (!fs::exists(dir)) continue;  // killed before the run folder existed
    const int64_t position = check_run_folder(dir);
    CHECK(position >= last_position);  // a resume never goes back before the last checkpoint
    last_position = position;
    trail << " " << delay << "ms->";
    if (position < 0) trail << "none";
    else trail << position / 1000000 << "." << position % 1000000;
  }
  MESSAGE("kills (delay -> checkpoint epoch.step):" << trail.str());
  CHECK(resumed > 0);
  REQUIRE(last_position >= 0);
  // A last resume that trains one more epoch finishes normally from the last checkpoint.
  const int64_t epoch = last_position / 1000000;
  const int code = wait_or_kill(
      spawn_fertrain({"--resume", dir.string(), "--no-progress", "--threads", "1", "--epochs", std::to_string(epoch + 1)},
                     log),
      120000);
  INFO(read_text(log));
  CHECK(code == 0);
  check_run_folder(dir);
  // a kill mid-write may leave ".<name>.tmp-XXXXXX" files; the resume removed them (and the
  // finished run's own writes leave none)
  for (const auto& e : fs::directory_iterator(dir))
    CHECK_MESSAGE(e.path().filename().string().find(".tmp-") == std::string::npos, e.path().string());
  fs::remove_all(dir);
  fs::remove(log);
}

namespace {
std::vector<double> train_losses(const fs::path& dir) {
  std::vector<double> v;
  std::istringstream in(read_text(dir / "metrics.jsonl"));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line).at("train_loss").get<double>());
  return v;
}
int run_to_end(const std::vector<std::string>& args, const fs::path& log) {
  return wait_or_kill(spawn_fertrain(args, log), 300000);
}
}  // namespace

TEST_CASE("fertrain: killed between the model and optimizer renames, --resume takes the matching optimizer file") {
  const std::string tag = std::to_string(::getpid());
  const fs::path a = fs::temp_directory_path() / ("fer_test_window_full_" + tag);
  const fs::path b = fs::temp_directory_path() / ("fer_test_window_cut_" + tag);
  const fs::path log = fs::temp_directory_path() / ("fer_test_window_" + tag + ".log");
  fs::remove_all(a);
  fs::remove_all(b);
  // 140 images -> 112 training images / 16 = 7 steps per epoch.
  const std::vector<std::string> common = {"--synthetic-count", "140", "--width", "0.25", "--batch-size", "16",
                                           "--threads", "1", "--no-progress", "--epochs", "2", "--seed", "9"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> v = common;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  REQUIRE(run_to_end(with({"--out", a.string()}), log) == 0);
  // Interrupted at epoch 1, step 4; resumed and interrupted again at step 6.
  REQUIRE(run_to_end(with({"--out", b.string(), "--stop-after-steps", "4"}), log) == 130);
  fs::copy_file(b / "last.optim.safetensors", b / "step4.optim");
  REQUIRE(run_to_end({"--resume", b.string(), "--no-progress", "--stop-after-steps", "2"}, log) == 130);
  CHECK(st::File::load((b / "last.safetensors").string()).metadata().at("fer.step") == "6");
  // The kill window: last.safetensors is step 6, last.optim.safetensors still step 4, and the
  // step-6 optimizer state waits in last.optim.next.safetensors.
  fs::rename(b / "last.optim.safetensors", b / "last.optim.next.safetensors");
  fs::copy_file(b / "step4.optim", b / "last.optim.safetensors");
  check_run_folder(b);
  {
    // Without the next file there is no optimizer state for step 6: a clear error, no silent mix.
    fs::rename(b / "last.optim.next.safetensors", b / "held");
    const int code = run_to_end({"--resume", b.string(), "--no-progress"}, log);
    CHECK(code != 0);
    CHECK(read_text(log).find("from different steps") != std::string::npos);
    fs::rename(b / "held", b / "last.optim.next.safetensors");
  }
  const int code = run_to_end({"--resume", b.string(), "--no-progress"}, log);
  INFO(read_text(log));
  REQUIRE(code == 0);
  const auto la = train_losses(a), lb = train_losses(b);
  REQUIRE(la.size() == 2);
  REQUIRE(lb.size() == 2);
  for (size_t i = 0; i < la.size(); ++i) CHECK(la[i] == lb[i]);  // bit-exact
  CHECK_FALSE(fs::exists(b / "last.optim.next.safetensors"));  // the finished run's save renamed it
  fs::remove_all(a);
  fs::remove_all(b);
  fs::remove(log);
}

namespace {
// Polls the run folder until last.safetensors is a checkpoint from inside an epoch (fer.step > 0);
// returns its "epoch.step", or "" after `ms` without one.
std::string wait_for_mid_epoch_checkpoint(const fs::path& dir, int ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    try {  // the file is replaced by rename, so a read sees a whole old or a whole new one
      if (fs::exists(dir / "last.safetensors")) {
        const auto meta = st::File::load((dir / "last.safetensors").string()).metadata();
        if (meta.at("fer.step") != "0") return meta.at("fer.epoch") + "." + meta.at("fer.step");
      }
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return "";
}

// The 0-based epoch of the run folder's checkpoint.
int64_t checkpoint_epoch(const fs::path& dir) {
  return std::stoll(st::File::load((dir / "last.safetensors").string()).metadata().at("fer.epoch"));
}
}  // namespace

TEST_CASE("fertrain --checkpoint-every: SIGTERM stops at a step with a resumable checkpoint (exit 143), SIGKILL loses "
          "at most N steps, and both resume to the uninterrupted losses") {
  const std::string tag = std::to_string(::getpid());
  const fs::path log = fs::temp_directory_path() / ("fer_test_ckpt_every_" + tag + ".log");
  // 140 images -> 112 training images / 16 = 7 steps per epoch; checkpoints after steps 3 and 6 of each
  // epoch and at its end. The default schedule (none) does not depend on --epochs, so a run of 1000
  // epochs stopped in epoch e and resumed with --epochs e+1 must equal a fresh run of e+1 epochs.
  const std::vector<std::string> common = {"--synthetic-count", "140", "--width", "0.25", "--batch-size", "16",
                                           "--threads",         "1",   "--no-progress", "--seed", "4"};
  for (const int signo : {SIGTERM, SIGKILL}) {
    const std::string name = signo == SIGTERM ? "sigterm" : "sigkill";
    CAPTURE(name);
    const fs::path run = fs::temp_directory_path() / ("fer_test_ckpt_every_" + name + "_" + tag);
    const fs::path ref = fs::temp_directory_path() / ("fer_test_ckpt_every_ref_" + name + "_" + tag);
    fs::remove_all(run);
    fs::remove_all(ref);
    std::vector<std::string> args = common;
    for (const char* a : {"--epochs", "1000", "--checkpoint-every", "3"}) args.push_back(a);
    args.push_back("--out");
    args.push_back(run.string());
    const pid_t pid = spawn_fertrain(args, log);
    const std::string seen = wait_for_mid_epoch_checkpoint(run, 60000);
    ::kill(pid, signo);
    int status = 0;
    ::waitpid(pid, &status, 0);
    INFO("log:\n" << read_text(log));
    REQUIRE_MESSAGE(!seen.empty(), "no checkpoint from inside an epoch within 60 s");
    MESSAGE(name << ": saw the mid-epoch checkpoint " << seen);
    if (signo == SIGTERM) {
      REQUIRE(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 143);
      CHECK(read_text(log).find(" by SIGTERM: resumable checkpoint written") != std::string::npos);
      // the stop is at a step boundary inside an epoch
      CHECK(st::File::load((run / "last.safetensors").string()).metadata().at("fer.step") != "0");
    } else {
      REQUIRE(WIFSIGNALED(status));
      CHECK(WTERMSIG(status) == SIGKILL);
    }
    check_run_folder(run);
    const int64_t epochs = checkpoint_epoch(run) + 1;
    const int code = run_to_end({"--resume", run.string(), "--no-progress", "--threads", "1", "--epochs",
                                 std::to_string(epochs)},
                                log);
    INFO("resume log:\n" << read_text(log));
    REQUIRE(code == 0);
    std::vector<std::string> ref_args = common;
    for (const std::string& a : {std::string("--epochs"), std::to_string(epochs), std::string("--out"), ref.string()})
      ref_args.push_back(a);
    REQUIRE(run_to_end(ref_args, log) == 0);
    const auto lr = train_losses(run), lf = train_losses(ref);
    REQUIRE(lr.size() == static_cast<size_t>(epochs));
    REQUIRE(lf.size() == static_cast<size_t>(epochs));
    for (size_t i = 0; i < lr.size(); ++i) CHECK(lr[i] == lf[i]);  // bit-exact
    fs::remove_all(run);
    fs::remove_all(ref);
  }
  fs::remove(log);
}

TEST_CASE("fertrain: killed inside its very first checkpoint save (no last.optim yet), --resume takes the next file") {
  const std::string tag = std::to_string(::getpid());
  const fs::path a = fs::temp_directory_path() / ("fer_test_first_full_" + tag);
  const fs::path b = fs::temp_directory_path() / ("fer_test_first_cut_" + tag);
  const fs::path log = fs::temp_directory_path() / ("fer_test_first_" + tag + ".log");
  fs::remove_all(a);
  fs::remove_all(b);
  const std::vector<std::string> common = {"--synthetic-count", "140", "--width", "0.25", "--batch-size", "16",
                                           "--threads", "1", "--no-progress", "--epochs", "2", "--seed", "11"};
  std::vector<std::string> full = common, cut = common;
  for (const std::string& s : {std::string("--out"), a.string()}) full.push_back(s);
  for (const std::string& s : {std::string("--out"), b.string(), std::string("--stop-after-steps"), std::string("3")})
    cut.push_back(s);
  REQUIRE(run_to_end(full, log) == 0);
  REQUIRE(run_to_end(cut, log) == 130);
  // The first save's kill window: last.safetensors is in place, its optimizer state not yet renamed.
  fs::rename(b / "last.optim.safetensors", b / "last.optim.next.safetensors");
  check_run_folder(b);
  const int code = run_to_end({"--resume", b.string(), "--no-progress"}, log);
  INFO(read_text(log));
  REQUIRE(code == 0);
  const auto la = train_losses(a), lb = train_losses(b);
  REQUIRE(la.size() == 2);
  REQUIRE(lb.size() == 2);
  for (size_t i = 0; i < la.size(); ++i) CHECK(la[i] == lb[i]);  // bit-exact
  fs::remove_all(a);
  fs::remove_all(b);
  fs::remove(log);
}
