// The resumable checkpoint's two files (tools/common/run_state.h). save_last writes the optimizer
// state to last.optim.next.safetensors, then last.safetensors, then renames next over
// last.optim.safetensors; a kill between the last two steps leaves `next` as the only optimizer
// file of last.safetensors's step. load_last must take it AND finish the rename: the resumed run's
// first save starts by overwriting `next`, so a second kill there would otherwise leave
// last.safetensors with no optimizer state of its step (a run lost to two kills in a row).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <unistd.h>

#include "kernels/common.h"
#include "models/registry.h"
#include "nn/flat_params.h"
#include "nn/optimizer.h"
#include "nn/safetensors.h"
#include "tools/common/run_state.h"

namespace fs = std::filesystem;
using namespace fer;

namespace {

struct Setup {
  nn::ModulePtr model = models::build_model("cnn6", {7, 0.125, ""});
  nn::FlatParameters flat{*model};
  std::unique_ptr<nn::Optimizer> opt = nn::make_optimizer("adam", flat, {});
  Generator gen{3};
  tools::TrainConfig config;
};

std::string step_of(const fs::path& file) {
  return nn::safetensors::File::load(file.string()).metadata().at("fer.step");
}

}  // namespace

TEST_CASE("run_state: load_last takes the cut-off save's next file and completes the rename") {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_run_state_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Setup s;
  const data::ClassSet classes = data::fer7_classes();
  tools::RunState state;
  state.step = 4;
  tools::save_last(dir, s.config, classes, state, *s.model, *s.opt, s.gen);
  fs::copy_file(dir / "last.optim.safetensors", dir / "step4.optim");
  state.step = 6;
  tools::save_last(dir, s.config, classes, state, *s.model, *s.opt, s.gen);
  const fs::path optim = dir / "last.optim.safetensors", next = dir / "last.optim.next.safetensors";

  SUBCASE("killed after last.safetensors was replaced: last.optim is a step behind") {
    fs::rename(optim, next);
    fs::copy_file(dir / "step4.optim", optim);
  }
  SUBCASE("killed inside the very first save: no last.optim at all") {
    fs::rename(optim, next);
  }
  REQUIRE(fs::exists(next));
  Setup resumed;
  const tools::RunState got = tools::load_last(dir, *resumed.model, *resumed.opt, resumed.gen);
  CHECK(got.step == 6);
  CHECK_FALSE(fs::exists(next));  // the save is complete now
  REQUIRE(fs::exists(optim));
  CHECK(step_of(optim) == "6");
  fs::remove_all(dir);
}

TEST_CASE("run_state: load_last names the optimizer file it read when the steps differ") {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_run_state_bad_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Setup s;
  tools::RunState state;
  state.step = 2;
  tools::save_last(dir, s.config, data::fer7_classes(), state, *s.model, *s.opt, s.gen);
  fs::copy_file(dir / "last.optim.safetensors", dir / "old.optim");
  state.step = 3;
  tools::save_last(dir, s.config, data::fer7_classes(), state, *s.model, *s.opt, s.gen);
  fs::remove(dir / "last.optim.safetensors");
  fs::copy_file(dir / "old.optim", dir / "last.optim.next.safetensors");  // the only optimizer file, a step behind
  Setup resumed;
  CHECK_THROWS_WITH_AS(tools::load_last(dir, *resumed.model, *resumed.opt, resumed.gen),
                       doctest::Contains("last.safetensors and last.optim.next.safetensors are from different steps"),
                       fer::Error);
  fs::remove_all(dir);
}
