// PyTorch loads fer's checkpoints: tools/torch_load_check.py reads a fer best.safetensors, calls
// load_state_dict(strict=True) on the PyTorch twin of the model (tools/make_fixtures.py) and
// compares softmax(model(x)) with `ferpredict --json` on the same random 48x48 images. Checked for
// CNN6 (1-channel), R001's ResNet18 (gray replicated to 3 channels) and the ViT (layer norm, GELU,
// attention), each trained for one epoch on synthetic faces; and a perturbed weight must fail.
// Needs Debian's python3-torch under /usr/bin/python3 (a development tool, not in CI): skipped
// visibly without it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

Run run_command(const std::string& cmd_line) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_torch_" + std::to_string(::getpid()) + ".log");
  const int status = std::system((cmd_line + " > " + log.string() + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

}  // namespace

TEST_CASE("PyTorch loads fer checkpoints strictly and predicts what ferpredict predicts") {
  if (run_command("/usr/bin/python3 -c 'import torch'").code != 0) {
    MESSAGE("skipped: /usr/bin/python3 has no torch (Debian: python3-torch); PyTorch interop not checked");
    return;
  }
  const std::string bin = std::string(FER_BINARY_DIR) + "/bin/";
  const std::string script = "/usr/bin/python3 " + std::string(FER_SOURCE_DIR) + "/tools/torch_load_check.py";
  const fs::path work = fs::temp_directory_path() / ("fer_test_torch_interop_" + std::to_string(::getpid()));
  fs::remove_all(work);
  for (const char* model : {"cnn6 --width 0.25", "resnet18 --width 0.0625", "vit --width 0.1"}) {
    CAPTURE(model);
    const std::string name = std::string(model).substr(0, std::string(model).find(' '));
    const fs::path run = work / name;
    const Run train = run_command(bin + "fertrain --model " + model + " --epochs 1 --synthetic-count 140 --threads 2 "
                                  "--no-progress --out " + run.string());
    INFO(train.output);
    REQUIRE(train.code == 0);
    const std::string ckpt = (run / "best.safetensors").string();
    const Run check = run_command(script + " --checkpoint " + ckpt + " --ferpredict " + bin + "ferpredict");
    INFO(check.output);
    CHECK(check.code == 0);
    CHECK(check.output.find("(strict)") != std::string::npos);
    CHECK(check.output.find("; PASS") != std::string::npos);
    if (name == "cnn6") {  // the comparison can fail: one changed weight is caught
      const Run bad = run_command(script + " --checkpoint " + ckpt + " --ferpredict " + bin + "ferpredict --perturb");
      INFO(bad.output);
      CHECK(bad.code == 1);
      CHECK(bad.output.find("; FAIL") != std::string::npos);
    }
  }
  fs::remove_all(work);
}
