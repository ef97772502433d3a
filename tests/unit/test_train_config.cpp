// tests/unit/test_train_config.cpp: fertrain's --config JSON -> TrainConfig (apply_json) checks
// every value's JSON type exactly (tests/fuzz/fuzz_config.cpp regressions): no silent truncation
// of 2.5 to 2, no wrap of -1 into a 64-bit seed, no undefined float->int conversion of 1e30.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "kernels/common.h"
#include "tools/common/train_config.h"

using fer::tools::TrainConfig;
using nlohmann::json;

namespace {
std::string apply_error(const std::string& text) {
  TrainConfig c;
  try {
    fer::tools::apply_json(c, json::parse(text));
  } catch (const fer::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("train config: apply_json takes each setting only with its own JSON type") {
  TrainConfig c;
  fer::tools::apply_json(c, json::parse(R"({"epochs": 3, "lr": 1, "seed": 18446744073709551615, "hflip": true,
                                            "model": "vggnet", "threads": -0, "width": 0.5})"));
  CHECK(c.epochs == 3);
  CHECK(c.lr == 1.0);
  CHECK(c.seed == 18446744073709551615ull);
  CHECK(c.hflip);
  CHECK(c.model == "vggnet");
  CHECK(c.width == 0.5);

  CHECK(apply_error(R"({"epochs": 2.5})").find("setting 'epochs' must be an integer") != std::string::npos);
  CHECK(apply_error(R"({"epochs": 1e30})").find("setting 'epochs' must be an integer") != std::string::npos);
  CHECK(apply_error(R"({"epochs": 9223372036854775808})").find("must be an integer in [") != std::string::npos);
  CHECK(apply_error(R"({"seed": -1})").find("setting 'seed' must be an integer in [0, 18446744073709551615], got number -1") !=
        0);
  CHECK(apply_error(R"({"threads": 4294967296})").find("setting 'threads' must be an integer in [-2147483648, 2147483647]") !=
        0);
  CHECK(apply_error(R"({"hflip": 1})").find("setting 'hflip' must be true or false, got number 1") != std::string::npos);
  CHECK(apply_error(R"({"lr": "0.1"})").find("setting 'lr' must be a number, got string") != std::string::npos);
  CHECK(apply_error(R"({"model": null})").find("setting 'model' must be a string, got null") != std::string::npos);
  CHECK(apply_error(R"({"epoch": 3})").find("unknown setting 'epoch'") != std::string::npos);
  CHECK(apply_error("[1]").find("expected a JSON object, got array") != std::string::npos);
}

TEST_CASE("train config: to_json -> apply_json is the identity on a validated config") {
  TrainConfig c;
  c.seed = 18446744073709551615ull;
  c.lr = 0.1 + 1e-17;
  c.freeze = "a,b";
  c.unfreeze_epoch = 2;
  fer::tools::validate(c);
  TrainConfig back;
  fer::tools::apply_json(back, fer::tools::to_json(c));
  CHECK(fer::tools::to_json(back) == fer::tools::to_json(c));
}

TEST_CASE("train config: fuse (--fuse on|off) round trips, is on when absent (older configs), else an error") {
  TrainConfig old_run;
  fer::tools::apply_json(old_run, json::parse(R"({"epochs": 3})"));
  CHECK(old_run.fuse == "on");
  TrainConfig c;
  c.fuse = "off";
  fer::tools::validate(c);
  TrainConfig back;
  fer::tools::apply_json(back, fer::tools::to_json(c));
  CHECK(back.fuse == "off");
  CHECK(fer::tools::to_json(c).at("fuse") == "off");
  c.fuse = "yes";
  std::string error;
  try {
    fer::tools::validate(c);
  } catch (const fer::Error& e) {
    error = e.what();
  }
  CHECK(error.find("--fuse 'yes' is not one of: on, off") != std::string::npos);
}
