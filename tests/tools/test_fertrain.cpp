// fertrain end to end (CPU, synthetic faces; small width and few images so it runs in seconds):
// the run folder's files exist and parse, a resumed run (after an interruption in the middle of an
// epoch) reproduces the uninterrupted run's losses exactly, and bad flags give one clear error line.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "data/image_io.h"
#include "nn/safetensors.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int code;
  std::string output;
};

Run run_fertrain(const std::string& args) {
  const fs::path log = fs::temp_directory_path() / ("fer_test_fertrain_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(FER_BINARY_DIR) + "/bin/fertrain " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The training-loss column of metrics.jsonl, one value per epoch.
std::vector<double> train_losses(const fs::path& dir) {
  std::vector<double> v;
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line).at("train_loss").get<double>());
  return v;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("fer_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

const std::string kSmall = "--synthetic-count 280 --width 0.25 --batch-size 32 --threads 2 --no-progress ";

}  // namespace

TEST_CASE("fertrain: a small synthetic run writes every artefact") {
  const fs::path dir = fresh_dir("fertrain_run");
  const Run r = run_fertrain(kSmall + "--epochs 2 --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("epoch   2/2") != std::string::npos);
  for (const char* f : {"config.json", "metrics.csv", "metrics.jsonl", "best.safetensors", "last.safetensors",
                        "last.optim.safetensors", "curves.png", "confusion_val.csv", "confusion_val.png",
                        "confusion_val_normalized.png", "confusion_val_normalized.csv", "classification_val.txt", "classification_val.json",
                        "report.html", "summary.json"})
    CHECK_MESSAGE(fs::exists(dir / f), f);
  const auto config = nlohmann::json::parse(read_text(dir / "config.json"));
  CHECK(config.at("epochs") == 2);
  const auto summary = nlohmann::json::parse(read_text(dir / "summary.json"));
  CHECK(summary.at("epochs_done") == 2);
  CHECK(summary.at("val").at("images").get<int>() == 56);  // i % 5 == 4 of 280
  CHECK(train_losses(dir).size() == 2);
  const auto best = fer::nn::safetensors::File::load((dir / "best.safetensors").string());
  CHECK(best.contains("conv1.weight"));
  CHECK(best.contains("bn1.num_batches_tracked"));
  CHECK(best.metadata().at("fer.model") == "cnn6");
  const std::string csv = read_text(dir / "confusion_val.csv");
  CHECK(csv.find("angry") != std::string::npos);
  // Row-normalized: each true class's row sums to 1 (4 decimals), or is empty for a class without images.
  std::istringstream normalized(read_text(dir / "confusion_val_normalized.csv"));
  std::string line;
  REQUIRE(std::getline(normalized, line));
  CHECK(line.rfind("true\\predicted,angry,", 0) == 0);
  int rows = 0;
  while (std::getline(normalized, line)) {
    ++rows;
    INFO(line);
    double sum = 0;
    int cells = 0;
    bool empty = true;
    for (size_t start = line.find(',') + 1, comma;; start = comma + 1) {
      comma = line.find(',', start);
      const std::string cell = line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      ++cells;
      if (!cell.empty()) {
        empty = false;
        sum += std::stod(cell);
      }
      if (comma == std::string::npos) break;
    }
    CHECK(cells == 7);
    if (!empty) {
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-3));
    }
  }
  CHECK(rows == 7);
  fs::remove_all(dir);
}

TEST_CASE("fertrain: --resume after an interruption mid-epoch gives the uninterrupted losses exactly") {
  const fs::path a = fresh_dir("fertrain_full"), b = fresh_dir("fertrain_resumed");
  const std::string common = kSmall + "--epochs 3 --seed 5 ";
  const Run full = run_fertrain(common + "--out " + a.string());
  INFO(full.output);
  REQUIRE(full.code == 0);
  // 224 training images / 32 = 7 steps per epoch: stop after 10 steps = epoch 2, step 3.
  const Run first = run_fertrain(common + "--out " + b.string() + " --stop-after-steps 10");
  INFO(first.output);
  REQUIRE(first.code == 130);
  CHECK(first.output.find("interrupted at epoch 2, step 3") != std::string::npos);
  const Run second = run_fertrain("--resume " + b.string() + " --no-progress");
  INFO(second.output);
  REQUIRE(second.code == 0);
  const auto la = train_losses(a), lb = train_losses(b);
  REQUIRE(la.size() == 3);
  REQUIRE(lb.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(la[i] == lb[i]);  // bit-exact
  CHECK(read_text(a / "confusion_val.csv") == read_text(b / "confusion_val.csv"));
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST_CASE("fertrain: --resume refuses a run whose images changed (here its --exclude list)") {
  const fs::path dir = fresh_dir("fertrain_plan"), list = fresh_dir("fertrain_plan_list") / "x.exclude";
  fs::create_directories(list.parent_path());
  const auto write_list = [&](const std::string& text) {
    std::ofstream out(list);
    out << text;
  };
  write_list("synthetic:3\nsynthetic:4\n");
  const Run first = run_fertrain(kSmall + "--epochs 2 --exclude " + list.string() + " --out " + dir.string() +
                                 " --stop-after-steps 3");
  INFO(first.output);
  REQUIRE(first.code == 130);
  CHECK(first.output.find(" images listed in " + list.string() + " from the training split") != std::string::npos);
  std::string longer;  // rewritten while the run was stopped: ten more images, some of them training images
  for (int i = 10; i < 20; ++i) longer += "synthetic:" + std::to_string(i) + "\n";
  write_list("synthetic:3\nsynthetic:4\n" + longer);
  const Run changed = run_fertrain("--resume " + dir.string() + " --no-progress");
  INFO(changed.output);
  CHECK(changed.code == 1);
  CHECK(changed.output.find("the run's images changed since it started (was train ") != std::string::npos);
  CHECK(changed.output.find("hint: the data folder, the --exclude file or the fer version differ") != std::string::npos);
  write_list("synthetic:3\nsynthetic:4\n");  // the run's own list again: it continues
  const Run same = run_fertrain("--resume " + dir.string() + " --no-progress");
  INFO(same.output);
  CHECK(same.code == 0);
  fs::remove_all(dir);
  fs::remove_all(list.parent_path());
}

TEST_CASE("fertrain: bad flags and paths give one clear line and a non-zero exit") {
  const Run r1 = run_fertrain("--optimizer adamax --no-progress");
  CHECK(r1.code != 0);
  CHECK(r1.output.find("--optimizer 'adamax' is not one of") != std::string::npos);
  const Run r2 = run_fertrain("--data /nonexistent/fer --no-progress");
  CHECK(r2.code != 0);
  CHECK(r2.output.find("/nonexistent/fer") != std::string::npos);
  const Run r3 = run_fertrain("--model nosuchnet --no-progress");
  CHECK(r3.code != 0);
  CHECK(r3.output.find("nosuchnet") != std::string::npos);
  const Run r4 = run_fertrain("--epochs zero");
  CHECK(r4.code != 0);
  const Run r5 = run_fertrain("--resume /nonexistent/run");
  CHECK(r5.code != 0);
  CHECK(r5.output.find("config.json") != std::string::npos);
  const Run r6 = run_fertrain("--cuda-graph on --no-progress");  // the default device is the CPU
  CHECK(r6.code != 0);
  CHECK(r6.output.find("--cuda-graph on captures the training step as a CUDA graph; with --device cpu use "
                       "--cuda-graph off") != std::string::npos);
}

TEST_CASE("fertrain: --list-models and --list-recipes") {
  const Run m = run_fertrain("--list-models");
  CHECK(m.code == 0);
  CHECK(m.output.find("cnn6") != std::string::npos);
  const Run r = run_fertrain("--list-recipes");
  CHECK(r.code == 0);
  CHECK(r.output.find("r001-cnn6-aug-balanced") != std::string::npos);
  CHECK(r.output.find("r004-vggnet-smote\n    r004-vggnet trained on: SMOTE-resampled Training\n    source: R004 "
                      "(MODELS.md 6)\n    starts from: the best.safetensors of a r004-vggnet run (--init-from, "
                      "required)\n") != std::string::npos);
  // and it refuses to start from scratch
  const Run scratch = run_fertrain("--recipe r004-vggnet-ros --epochs 1 --limit 50");
  CHECK(scratch.code == 1);
  CHECK(scratch.output.find("--recipe r004-vggnet-ros continues a trained model: give --init-from CKPT (the "
                            "best.safetensors of a r004-vggnet run)") != std::string::npos);
}

TEST_CASE("fertrain: a diverging run stops at the first non-finite loss, naming epoch and step") {
  const fs::path dir = fresh_dir("fertrain_nan");
  for (const std::string extra : {"", "--detect-anomaly "}) {
    const Run r = run_fertrain(kSmall + extra + "--epochs 2 --optimizer sgd --lr 1e25 --out " + dir.string());
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK(r.output.find("training stopped") != std::string::npos);
    CHECK(r.output.find("at epoch 1, step 2") != std::string::npos);
    // with --detect-anomaly the first forward op whose output is not finite is named: after one step
    // at lr 1e25 the weights overflow CNN6's second conv (ops: conv, batchnorm+relu fused, conv)
    if (!extra.empty())
      CHECK(r.output.find("the forward op Conv2d (op 3 of the step, autograd node Conv2dBackward) produced a "
                          "non-finite output f32[32, 8, 44, 44]") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("fertrain --sync-every N: metrics read back every N steps give the same run, bit for bit") {
  // On CUDA the step metrics (loss, correct count, gradient norm) stay on the device and are read
  // every 50 steps; here the same deferred path runs on the CPU and must change nothing: the same
  // per-epoch figures, the same weights, and an interruption still resumes exactly.
  const fs::path a = fresh_dir("fertrain_sync1"), b = fresh_dir("fertrain_sync3"), c = fresh_dir("fertrain_sync3r");
  const std::string common = kSmall + "--epochs 2 --seed 9 --grad-clip 0.5 ";
  const Run ra = run_fertrain(common + "--out " + a.string());
  const Run rb = run_fertrain(common + "--sync-every 3 --out " + b.string());
  INFO(ra.output);
  INFO(rb.output);
  REQUIRE(ra.code == 0);
  REQUIRE(rb.code == 0);
  CHECK(rb.output.find("metrics read every 3 steps") != std::string::npos);
  auto metrics = [](const fs::path& dir) {
    std::vector<nlohmann::json> v;
    std::ifstream in(dir / "metrics.jsonl");
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) v.push_back(nlohmann::json::parse(line));
    return v;
  };
  const auto ma = metrics(a), mb = metrics(b);
  REQUIRE(ma.size() == 2);
  REQUIRE(mb.size() == 2);
  for (size_t e = 0; e < 2; ++e)
    for (const char* k : {"train_loss", "train_acc", "val_loss", "val_acc", "lr"}) {
      CAPTURE(k);
      CHECK(ma[e].at(k).get<double>() == mb[e].at(k).get<double>());
    }
  {  // the same weights and buffers (the metadata holds the config, which differs in sync_every)
    const auto wa = fer::nn::safetensors::File::load((a / "last.safetensors").string());
    const auto wb = fer::nn::safetensors::File::load((b / "last.safetensors").string());
    REQUIRE(wa.names() == wb.names());
    for (const std::string& n : wa.names()) {
      CAPTURE(n);
      const fer::Tensor ta = wa.at(n), tb = wb.at(n);
      REQUIRE(ta.nbytes() == tb.nbytes());
      CHECK(std::memcmp(ta.raw_data(), tb.raw_data(), static_cast<size_t>(ta.nbytes())) == 0);
    }
  }
  // interrupted at step 10 (epoch 2, step 3: the pending steps are flushed before the checkpoint)
  const Run first = run_fertrain(common + "--sync-every 3 --out " + c.string() + " --stop-after-steps 10");
  INFO(first.output);
  REQUIRE(first.code == 130);
  const Run second = run_fertrain("--resume " + c.string() + " --no-progress");
  INFO(second.output);
  REQUIRE(second.code == 0);
  CHECK(train_losses(c) == train_losses(a));
  CHECK(metrics(c).back().at("train_acc").get<double>() == ma.back().at("train_acc").get<double>());
  for (const auto& d : {a, b, c}) fs::remove_all(d);
}

TEST_CASE("fertrain --sync-every N: a diverging run still names the first bad step") {
  const fs::path dir = fresh_dir("fertrain_nan_deferred");
  const Run r = run_fertrain(kSmall + "--sync-every 4 --epochs 2 --optimizer sgd --lr 1e25 --out " + dir.string());
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK(r.output.find("training stopped: the loss is") != std::string::npos);
  CHECK(r.output.find("at epoch 1, step 2 of 7") != std::string::npos);
  CHECK(r.output.find("metrics are checked every 4 steps, --sync-every 1 stops before the update") != std::string::npos);
  const Run bad = run_fertrain(kSmall + "--sync-every -1");
  CHECK(bad.code != 0);
  CHECK(bad.output.find("--sync-every must be >= 0") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("fertrain --trace 1: tables of the first step's modules (shapes, MACs, bytes) and backward nodes (FLOPs, bytes)") {
  const fs::path dir = fresh_dir("fertrain_trace");
  const Run r = run_fertrain(kSmall + "--epochs 1 --trace 1 --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("trace: epoch 1, step 1: forward") != std::string::npos);
  // the first conv of CNN6 at width 0.25: 1 -> 4 channels, 48 -> 46, 4*46*46*9 MACs per image, batch 32
  CHECK(r.output.find("[32,1,48,48]       [32,4,46,46]              2437632") != std::string::npos);
  // its bytes: x 32*48*48*4 + w 4*9*4 + b 4*4 + y 32*4*46*46*4 = 1378464
  CHECK(r.output.find("2437632        1378464") != std::string::npos);
  // its backward needs no dx (the images), only dw: one GEMM of the forward's size, 2 FLOPs per MAC;
  // bytes = dy (32*4*46*46*4) + dw (144) + db (16)
  CHECK(r.output.find("Conv2dBackward               - [4,1,3,3] [4]                                         4875264        1083552") !=
        std::string::npos);
  CHECK(r.output.find("trace: totals: forward ") != std::string::npos);
  CHECK(r.output.find("Conv2dBackward") != std::string::npos);
  CHECK(r.output.find("BatchNormActBackward") != std::string::npos);  // batch norm + relu, fused (--fuse on)
  CHECK(r.output.find("bn+act fusion on") != std::string::npos);
  // only one step is traced
  CHECK(r.output.find("trace: epoch 1, step 2") == std::string::npos);
  // --fuse off: batch norm and relu are two ops again
  fs::remove_all(dir);
  const Run off = run_fertrain(kSmall + "--epochs 1 --trace 1 --fuse off --out " + dir.string());
  INFO(off.output);
  REQUIRE(off.code == 0);
  CHECK(off.output.find("bn+act fusion off") != std::string::npos);
  CHECK(off.output.find("BatchNormBackward") != std::string::npos);
  CHECK(off.output.find("BatchNormActBackward") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("fertrain --log-interval: plain progress lines in a log; summary.json records the build and the machine") {
  const fs::path dir = fresh_dir("fertrain_log_interval");
  // 224 training images / 32 = 7 steps per epoch: lines after steps 3 and 6 of each epoch
  const Run r = run_fertrain(kSmall + "--epochs 2 --log-interval 3 --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  size_t lines = 0;
  for (size_t at = r.output.find("ETA epoch"); at != std::string::npos; at = r.output.find("ETA epoch", at + 1)) ++lines;
  CHECK(lines == 4);
  for (const char* s : {"  epoch 1/2 step 3/7  loss ", "  epoch 1/2 step 6/7  loss ", "  epoch 2/2 step 3/7  loss ",
                        "  epoch 2/2 step 6/7  loss "})
    CHECK_MESSAGE(r.output.find(s) != std::string::npos, s);
  CHECK(r.output.find("step 7/7") == std::string::npos);  // the epoch line follows instead
  CHECK(r.output.find("\r") == std::string::npos);         // no bar redraws in a log

  // provenance: the commit --version names, the compiler, the CPU and the thread count
  const Run v = run_fertrain("--version");
  REQUIRE(v.code == 0);
  const auto summary = nlohmann::json::parse(read_text(dir / "summary.json"));
  const auto& p = summary.at("provenance");
  const std::string commit = p.at("commit").get<std::string>();
  CHECK_FALSE(commit.empty());
  CHECK(v.output.find("commit " + commit + ",") != std::string::npos);
  CHECK(r.output.find("build:     fer ") != std::string::npos);
  CHECK(r.output.find("commit " + commit) != std::string::npos);
  CHECK(p.at("threads") == 2);
  CHECK(p.at("device").get<std::string>().rfind("cpu, 2 threads, GEMM ", 0) == 0);
  CHECK_FALSE(p.at("cpu").get<std::string>().empty());
  const std::string compiler = p.at("compiler").get<std::string>();
  CHECK((compiler.rfind("g++ ", 0) == 0 || compiler.rfind("clang++ ", 0) == 0));
  CHECK(p.at("started_utc").get<std::string>().size() == 20);                  // 2026-12-07T04:31:02Z
  CHECK(read_text(dir / "report.html").find(commit) != std::string::npos);

  // --resume may change how a run reports and checkpoints, and where it runs, not what it trains:
  // a run made on CUDA with --cuda-graph on and --conv-impl cudnn (its config.json edited to say so)
  // resumes on the CPU with --cuda-graph off --conv-impl native
  auto config = nlohmann::json::parse(read_text(dir / "config.json"));
  config["cuda_graph"] = "on";
  config["conv_impl"] = "cudnn";
  std::ofstream(dir / "config.json") << config.dump(2);
  const Run refused = run_fertrain("--resume " + dir.string() + " --no-progress --epochs 3");
  CHECK(refused.code != 0);
  CHECK(refused.output.find("use --cuda-graph off") != std::string::npos);
  const Run more = run_fertrain("--resume " + dir.string() + " --no-progress --epochs 3 --log-interval 5 "
                                "--checkpoint-every 2 --cuda-graph off --conv-impl native");
  INFO(more.output);
  CHECK(more.code == 0);
  CHECK(more.output.find("  epoch 3/3 step 5/7  loss ") != std::string::npos);
  const Run bad = run_fertrain("--resume " + dir.string() + " --no-progress --lr 0.5");
  CHECK(bad.code != 0);
  CHECK(bad.output.find("allowed: --epochs, --device, --threads, --cuda-graph, --conv-impl, --checkpoint-every, "
                        "--log-interval") != std::string::npos);
  const Run neg = run_fertrain(kSmall + "--checkpoint-every -1");
  CHECK(neg.code != 0);
  CHECK(neg.output.find("--checkpoint-every must be >= 0") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("fertrain --dry-run: prints the plan and stops without a run folder; --preview shows the augmented batches") {
  const fs::path dir = fresh_dir("fertrain_dry_run");
  fs::remove_all(dir);
  const fs::path plain = dir.string() + "_plain.png", flipped = dir.string() + "_flipped.png";
  const Run r = run_fertrain(kSmall + "--epochs 3 --dry-run --preview " + plain.string() + " --out " + dir.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  // 224 training images / 32 = 7 steps per epoch
  CHECK(r.output.find("dry run:   224 training images per epoch, 7 steps of 32, 3 epochs = 21 steps") != std::string::npos);
  CHECK(r.output.find("model:     cnn6") != std::string::npos);
  CHECK(r.output.find("train loss") == std::string::npos);  // no epoch was trained
  CHECK_FALSE(fs::exists(dir));                                // nothing written but the preview
  const fer::data::GrayImage a = fer::data::load_image_gray(plain);
  CHECK(a.width == 8 * 96 + 9 * 4);  // 8 images per class, 48 px x2, 4 px gaps
  CHECK(a.height == 7 * 96 + 8 * 4);  // one row per fer7 class
  const Run f = run_fertrain(kSmall + "--hflip --rotate 15 --dry-run --preview " + flipped.string());
  REQUIRE(f.code == 0);
  CHECK(f.output.find("augmented as the step sees them") != std::string::npos);
  const fer::data::GrayImage b = fer::data::load_image_gray(flipped);
  REQUIRE(b.pixels.size() == a.pixels.size());
  CHECK(a.pixels != b.pixels);  // the same images, augmented
  const Run bad = run_fertrain(kSmall + "--preview " + plain.string());
  CHECK(bad.code != 0);
  CHECK(bad.output.find("--preview writes the look of the training batches during a --dry-run") != std::string::npos);
  fs::remove(plain);
  fs::remove(flipped);
}

TEST_CASE("fertrain: a stop asked for in an epoch's last step stops after that epoch's checkpoint; resume is exact") {
  const fs::path a = fresh_dir("fertrain_boundary_full"), b = fresh_dir("fertrain_boundary_cut");
  const std::string common = kSmall + "--epochs 3 --seed 8 ";
  const Run full = run_fertrain(common + "--out " + a.string());
  REQUIRE(full.code == 0);
  // 7 steps per epoch: the stop comes with the last step of epoch 1
  const Run first = run_fertrain(common + "--out " + b.string() + " --stop-after-steps 7");
  INFO(first.output);
  REQUIRE(first.code == 130);
  CHECK(first.output.find("interrupted after epoch 1: resumable checkpoint written") != std::string::npos);
  CHECK(first.output.find("epoch   2/3") == std::string::npos);  // no step of epoch 2 ran
  const auto meta = fer::nn::safetensors::File::load((b / "last.safetensors").string()).metadata();
  CHECK(meta.at("fer.epoch") == "1");
  CHECK(meta.at("fer.step") == "0");
  const Run second = run_fertrain("--resume " + b.string() + " --no-progress");
  INFO(second.output);
  REQUIRE(second.code == 0);
  const auto la = train_losses(a), lb = train_losses(b);
  REQUIRE(la.size() == 3);
  REQUIRE(lb.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(la[i] == lb[i]);  // bit-exact
  fs::remove_all(a);
  fs::remove_all(b);
}
