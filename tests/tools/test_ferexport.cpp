// ferexport: fer models as ONNX files (tools/common/onnx_export.h). The bytes are checked by the
// ONNX project's own reader and checker (Debian's python3-onnx, installed by scripts/install-deps.sh)
// and run by tools/onnx_check.py's NumPy interpreter against fer's output for the same inputs:
// a checkpoint trained for one epoch (real batch-norm statistics), and every exportable registry
// model at a small width (ferexport --model scales fresh layers so the outputs depend on the input;
// onnx_check fails a sample that does not). A sample from other weights, and graphs with a wrong
// mapping planted (negated transposed-convolution weights, ReLU for sigmoid, max for average
// pooling), must fail the comparison. Without
// python3-onnx the file-level checks still run and the ONNX checks are skipped visibly.
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
  const fs::path log = fs::temp_directory_path() / ("fer_test_ferexport_" + std::to_string(::getpid()) + ".log");
  const int status = std::system((cmd_line + " > " + log.string() + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kBin = std::string(FER_BINARY_DIR) + "/bin/";
const std::string kCheck = "/usr/bin/python3 " + std::string(FER_SOURCE_DIR) + "/tools/onnx_check.py ";

bool have_onnx() {
  static const bool ok = run_command("/usr/bin/python3 -c 'import onnx, numpy'").code == 0;
  return ok;
}

}  // namespace

TEST_CASE("ferexport: a trained CNN6 checkpoint as ONNX; the ONNX checker and a NumPy run give fer's probabilities") {
  const fs::path work = fs::temp_directory_path() / ("fer_test_ferexport_ckpt_" + std::to_string(::getpid()));
  fs::remove_all(work);
  // two epochs on 700 faces: enough learning that the probabilities differ between inputs
  const Run train = run_command(kBin + "fertrain --model cnn6 --width 0.25 --epochs 2 --synthetic-count 700 "
                                "--threads 2 --no-progress --out " + (work / "run").string());
  INFO(train.output);
  REQUIRE(train.code == 0);
  const fs::path onnx = work / "cnn6.onnx", sample = work / "sample";
  const Run exp = run_command(kBin + "ferexport --checkpoint " + (work / "run" / "best.safetensors").string() +
                              " --softmax --out " + onnx.string() + " --sample " + sample.string());
  INFO(exp.output);
  REQUIRE(exp.code == 0);
  // CNN6 = 6 x (conv, BN, ReLU) + 3 max pools + flatten + fc1, ReLU, fc2 (+ the softmax)
  CHECK(exp.output.find("26 nodes (BatchNormalization 6, Conv 6, Gemm 2, MaxPool 3, Relu 7, Reshape 1, Softmax 1)") !=
        std::string::npos);
  CHECK(exp.output.find("output:  probabilities [N, 7]") != std::string::npos);
  // file level (no ONNX library needed): ModelProto field 1 (ir_version) = 7 first, the state-dict
  // names as initializer names, the op types, the class names in the metadata
  const std::string bytes = read_bytes(onnx);
  REQUIRE(bytes.size() > 2);
  CHECK(bytes[0] == '\x08');
  CHECK(bytes[1] == '\x07');
  for (const char* s : {"conv1.weight", "bn6.running_var", "fc2.bias", "BatchNormalization", "Gemm", "fer.classes",
                        "\"angry\"", "input", "probabilities"})
    CHECK_MESSAGE(bytes.find(s) != std::string::npos, s);
  CHECK(fs::file_size(sample / "input.npy") == 128 + 4 * 48 * 48 * 4);
  if (!have_onnx()) {
    MESSAGE("skipped: /usr/bin/python3 has no onnx (Debian: python3-onnx); ONNX checker and NumPy run not done");
    fs::remove_all(work);
    return;
  }
  const Run check = run_command(kCheck + onnx.string() + " " + sample.string());
  INFO(check.output);
  CHECK(check.code == 0);
  CHECK(check.output.find("checker: ok") != std::string::npos);
  CHECK(check.output.find("output probabilities ['N', 7]") != std::string::npos);
  CHECK(check.output.find("same argmax: True: ok") != std::string::npos);
  // the comparison can fail: the same graph with other weights against this sample
  const fs::path other = work / "other.onnx";
  REQUIRE(run_command(kBin + "ferexport --model cnn6 --width 0.25 --seed 5 --softmax --out " + other.string()).code == 0);
  const Run bad = run_command(kCheck + other.string() + " " + sample.string());
  INFO(bad.output);
  CHECK(bad.code == 1);
  CHECK(bad.output.find(": FAIL") != std::string::npos);
  fs::remove_all(work);
}

TEST_CASE("ferexport: every exportable registry model passes the ONNX checker and matches fer numerically") {
  const fs::path work = fs::temp_directory_path() / ("fer_test_ferexport_models_" + std::to_string(::getpid()));
  fs::remove_all(work);
  // small widths keep it fast; together they use every op mapping ferexport has (conv, depthwise
  // conv, transposed conv, BN, ReLU/SiLU/sigmoid, add/mul broadcasting, scale_shift, linear, max and
  // average pooling incl. ceil mode, global pooling, reshape, concat, slice, log-softmax and the
  // masking block's channel softmax)
  const char* models[] = {"shallow --width 0.25",       "vgg11 --width 0.125",  "vgg16mod --width 0.125",
                          "vgg16 --width 0.125",         "vggnet --width 0.125", "vggnet-ensemble --width 0.0625",
                          "resnet18 --width 0.0625",     "resnet50 --width 0.0625", "efficientnet-b0 --width 0.25",
                          "unet --width 0.25",           "rmn --width 0.0625",   "resnet34 --width 0.0625"};
  for (const char* model : models) {
    CAPTURE(model);
    const std::string name = std::string(model).substr(0, std::string(model).find(' '));
    const fs::path onnx = work / (name + ".onnx"), sample = work / name;
    const Run exp = run_command(kBin + "ferexport --model " + model + " --out " + onnx.string() + " --sample " +
                                sample.string());
    INFO(exp.output);
    REQUIRE(exp.code == 0);
    CHECK(fs::file_size(onnx) > 1000);
    if (!have_onnx()) continue;
    const Run check = run_command(kCheck + onnx.string() + " " + sample.string());
    INFO(check.output);
    CHECK(check.code == 0);
    CHECK(check.output.find("same argmax: True: ok") != std::string::npos);
    // a wrong mapping is caught: the transposed convolutions' weights negated (the U-Net), the
    // sigmoids (SiLU, squeeze-excitation) as ReLU (EfficientNet), the average pool as a max pool (VGG11)
    const char* corrupt = name == "unet"              ? "n.op_type == 'ConvTranspose' and neg.update(n.input[1:2])"
                          : name == "efficientnet-b0" ? "n.op_type == 'Sigmoid' and setattr(n, 'op_type', 'Relu')"
                          : name == "vgg11"           ? "n.op_type == 'AveragePool' and [n.attribute.remove(a) for a in "
                                                        "list(n.attribute) if a.name == 'count_include_pad'] is not None "
                                                        "and setattr(n, 'op_type', 'MaxPool')"
                                                      : nullptr;
    if (corrupt != nullptr) {
      const fs::path bad = work / (name + "_bad.onnx");
      const std::string script =
          "import onnx; from onnx import numpy_helper as h; m = onnx.load('" + onnx.string() + "'); neg = set()\n"
          "for n in m.graph.node: " + std::string(corrupt) + "\n"
          "for i in m.graph.initializer:\n"
          "    if i.name in neg: i.CopyFrom(h.from_array(-h.to_array(i), i.name))\n"
          "onnx.save(m, '" + bad.string() + "')\n";
      std::ofstream(work / "corrupt.py") << script;
      REQUIRE(run_command("/usr/bin/python3 " + (work / "corrupt.py").string()).code == 0);
      const Run wrong = run_command(kCheck + bad.string() + " " + sample.string());
      INFO(wrong.output);
      CHECK(wrong.code == 1);
      CHECK(wrong.output.find(": FAIL") != std::string::npos);
    }
  }
  if (!have_onnx()) MESSAGE("skipped: /usr/bin/python3 has no onnx (Debian: python3-onnx); ONNX checks not done");
  fs::remove_all(work);
}

TEST_CASE("ferexport: refuses what it cannot export, with the reason") {
  const fs::path work = fs::temp_directory_path() / ("fer_test_ferexport_refuse_" + std::to_string(::getpid()));
  fs::remove_all(work);
  const std::string out = " --out " + (work / "x.onnx").string();
  // the ViT's layer norm has no mapping: named, and no file is written
  const Run vit = run_command(kBin + "ferexport --model vit --width 0.1" + out);
  CHECK(vit.code == 1);
  CHECK(vit.output.find("LayerNormBackward") != std::string::npos);
  CHECK(vit.output.find("cannot be exported") != std::string::npos);
  CHECK_FALSE(fs::exists(work / "x.onnx"));
  const Run ae = run_command(kBin + "ferexport --model autoencoder" + out);
  CHECK(ae.code == 1);
  CHECK(ae.output.find("not a classifier") != std::string::npos);
  const Run none = run_command(kBin + "ferexport" + out);
  CHECK(none.code == 1);
  CHECK(none.output.find("give --checkpoint CKPT or --model NAME") != std::string::npos);
  const Run width = run_command(kBin + "ferexport --checkpoint x.safetensors --width 0.5" + out);
  CHECK(width.code == 1);
  CHECK(width.output.find("--width applies to --model only") != std::string::npos);
  const Run missing = run_command(kBin + "ferexport --checkpoint " + (work / "none.safetensors").string() + out);
  CHECK(missing.code == 1);
  CHECK(missing.output.find("none.safetensors") != std::string::npos);
  fs::remove_all(work);
}
