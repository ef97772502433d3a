// The recipe table (tools/common/recipes.cpp) and the training-stage settings (--freeze,
// --unfreeze-epoch, --unfreeze-lr): every recipe applies over the defaults and validates, names are
// unique, each names a registered model (except those of the resnet/rmn branch, not registered here
// yet), the modules a recipe freezes exist in its model, and a bad freeze path is a clear error.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "kernels/common.h"
#include "models/registry.h"
#include "nn/module.h"
#include "tools/common/recipes.h"
#include "tools/common/train_config.h"
#include "tools/common/trainer.h"

using fer::tools::TrainConfig;

namespace {
// Models whose recipes exist before the models do (registered on the resnet/rmn branch).
const std::set<std::string> kPendingModels = {"rmn", "resnet18", "resnet34", "resnet50"};

bool is_registered(const std::string& name) {
  for (const auto& m : fer::models::all_models())
    if (m.name == name) return true;
  return false;
}
}  // namespace

TEST_CASE("recipes: the report recipes are all there, unique, and validate over the defaults") {
  std::set<std::string> names;
  for (const auto& r : fer::tools::all_recipes()) {
    INFO(r.name);
    CHECK(names.insert(r.name).second);
    CHECK(!r.source.empty());
    CHECK(!r.summary.empty());
    CHECK(!r.notes.empty());
    TrainConfig c;
    REQUIRE_NOTHROW(fer::tools::apply_json(c, r.settings));
    CHECK_NOTHROW(fer::tools::validate(c));
    CHECK(r.settings.contains("model"));
    CHECK(&fer::tools::find_recipe(r.name) == &r);
    // a config round trip keeps the stage settings (checkpoints store to_json)
    TrainConfig back;
    fer::tools::apply_json(back, fer::tools::to_json(c));
    CHECK(back.freeze == c.freeze);
    CHECK(back.unfreeze_epoch == c.unfreeze_epoch);
    CHECK(back.unfreeze_lr == c.unfreeze_lr);
  }
  for (const char* want : {"r000-rmn", "r000-rmn-weighted", "r001-cnn6", "r001-cnn6-aug", "r001-cnn6-balanced",
                           "r001-cnn6-aug-balanced", "r001-vgg11", "r001-resnet18", "r002-shallow", "r002-vgg16mod",
                           "r002-resnet50", "r002-vgg16", "r002-efficientnet-b0", "r003-baseline", "r003-unet", "r003-autoencoder", "r003-vit",
                           "r004-vggnet", "r004-vggnet-ros", "r004-vggnet-smote", "r004-vggnet-smote-tomek",
                           "usefkh-vggnet", "usefkh-vggnet-finetune"})
    CHECK_MESSAGE(names.count(want), want);
  CHECK(fer::tools::needs_init_from(fer::tools::find_recipe("usefkh-vggnet-finetune")));
  CHECK(!fer::tools::needs_init_from(fer::tools::find_recipe("usefkh-vggnet")));
  // R004's extra training on resampled data continues the tuned r004-vggnet model
  for (const char* r : {"r004-vggnet-ros", "r004-vggnet-smote", "r004-vggnet-smote-tomek"}) {
    INFO(r);
    CHECK(fer::tools::needs_init_from(fer::tools::find_recipe(r)));
    CHECK(fer::tools::find_recipe(r).starts_from == "r004-vggnet");
  }
  CHECK(!fer::tools::needs_init_from(fer::tools::find_recipe("r004-vggnet")));
  // every starts_from names a recipe of the same model
  for (const auto& r : fer::tools::all_recipes())
    if (!r.starts_from.empty()) {
      INFO(r.name);
      CHECK(fer::tools::find_recipe(r.starts_from).settings.at("model") == r.settings.at("model"));
    }
  // R001 4.5: the transfer models train "with augmentations"; R001 4.3's flip, rotation 20, translation 10
  for (const char* r : {"r001-vgg11", "r001-resnet18", "r001-cnn6-aug"}) {
    INFO(r);
    TrainConfig t;
    fer::tools::apply_json(t, fer::tools::find_recipe(r).settings);
    CHECK(t.hflip);
    CHECK(t.rotate_deg == 20.0);
    CHECK(t.translate_px == 10.0);
  }
  TrainConfig vit;  // MODELS.md 5.3: random crop + flip + random erasing
  fer::tools::apply_json(vit, fer::tools::find_recipe("r003-vit").settings);
  CHECK(vit.augment == "vit");
  TrainConfig u;  // usef-kh's pipeline survives the config round trip
  fer::tools::apply_json(u, fer::tools::find_recipe("usefkh-vggnet").settings);
  TrainConfig u2;
  fer::tools::apply_json(u2, fer::tools::to_json(u));
  CHECK(u2.ten_crop);
  CHECK(u2.augment == "usefkh");
  CHECK(u2.nesterov);
}

TEST_CASE("recipes: each names a registered model, and the modules it freezes exist in that model") {
  int built = 0;
  for (const auto& r : fer::tools::all_recipes()) {
    INFO(r.name);
    TrainConfig c;
    fer::tools::apply_json(c, r.settings);
    if (kPendingModels.count(c.model) && !is_registered(c.model)) continue;  // resnet/rmn branch
    REQUIRE_NOTHROW(fer::models::find_model(c.model));
    if (c.freeze.empty()) continue;
    const int64_t classes = c.classes == "fer6" || c.classes == "6" ? 6 : 7;
    fer::nn::ModulePtr model = fer::models::build_model(c.model, {classes, 0.125, c.model_variant});
    const int64_t total = model->parameter_count();
    const int64_t frozen = fer::tools::set_modules_trainable(*model, c.freeze, false);
    CHECK(frozen > 0);
    CHECK(frozen < total);  // the head still trains
    CHECK(model->parameter_count(true) == total - frozen);
    CHECK(fer::tools::set_modules_trainable(*model, c.freeze, true) == frozen);
    CHECK(model->parameter_count(true) == total);
    ++built;
  }
  CHECK(built >= 3);  // r001-vgg11, r002-vgg16, r002-efficientnet-b0
}

TEST_CASE("recipes: an unknown recipe and an unknown freeze path are clear errors") {
  CHECK_THROWS_WITH_AS(fer::tools::find_recipe("r999-nothing"), doctest::Contains("known recipes: r001-cnn6"),
                       fer::Error);
  fer::nn::ModulePtr model = fer::models::build_model("vgg11", {7, 0.125, ""});
  CHECK_THROWS_WITH_AS(fer::tools::set_modules_trainable(*model, "backbone", false),
                       doctest::Contains("no module 'backbone'; its top-level modules are: features"), fer::Error);
  CHECK_THROWS_WITH_AS(fer::tools::set_modules_trainable(*model, "features,nope.0", false),
                       doctest::Contains("no module 'nope.0'"), fer::Error);
  CHECK(model->parameter_count(true) == model->parameter_count());  // nothing changed on error
  // a dotted path reaches one layer
  const int64_t total = model->parameter_count();
  const int64_t first = fer::tools::set_modules_trainable(*model, "features.0", false);
  CHECK(first > 0);
  CHECK(model->parameter_count(true) == total - first);
}

TEST_CASE("train config: stage settings are validated") {
  CHECK(fer::tools::split_module_paths("") == std::vector<std::string>{});
  CHECK(fer::tools::split_module_paths("features") == std::vector<std::string>{"features"});
  CHECK(fer::tools::split_module_paths("conv1, layer1.0 ,fc") == std::vector<std::string>{"conv1", "layer1.0", "fc"});
  TrainConfig c;
  c.unfreeze_epoch = 3;
  CHECK_THROWS_WITH_AS(fer::tools::validate(c), doctest::Contains("nothing to unfreeze"), fer::Error);
  c.freeze = "features";
  CHECK_NOTHROW(fer::tools::validate(c));
  c.unfreeze_epoch = 1;
  CHECK_THROWS_WITH_AS(fer::tools::validate(c), doctest::Contains("--unfreeze-epoch 1"), fer::Error);
  c.unfreeze_epoch = -1;
  CHECK_THROWS_AS(fer::tools::validate(c), fer::Error);
  c.unfreeze_epoch = 0;
  c.unfreeze_lr = 1e-4;
  CHECK_THROWS_WITH_AS(fer::tools::validate(c), doctest::Contains("--unfreeze-lr needs --unfreeze-epoch"), fer::Error);
  c.unfreeze_lr = 0;
  c.freeze = "features,";
  CHECK_THROWS_WITH_AS(fer::tools::validate(c), doctest::Contains("empty module path"), fer::Error);
}

TEST_CASE("stages: gradual unfreezing releases the listed modules last-first, every N epochs") {
  TrainConfig c;
  c.freeze = "conv1,layer1,layer2,layer3";
  CHECK(fer::tools::frozen_modules_at(c, 1) == c.freeze);  // never unfrozen
  CHECK(fer::tools::frozen_modules_at(c, 50) == c.freeze);
  CHECK(fer::tools::last_unfreeze_epoch(c) == 0);
  c.unfreeze_epoch = 3;  // all at once
  CHECK(fer::tools::frozen_modules_at(c, 2) == c.freeze);
  CHECK(fer::tools::frozen_modules_at(c, 3).empty());
  CHECK(fer::tools::last_unfreeze_epoch(c) == 3);
  c.unfreeze_every = 2;  // layer3 at 3, layer2 at 5, layer1 at 7, conv1 at 9
  CHECK(fer::tools::frozen_modules_at(c, 2) == "conv1,layer1,layer2,layer3");
  CHECK(fer::tools::frozen_modules_at(c, 3) == "conv1,layer1,layer2");
  CHECK(fer::tools::frozen_modules_at(c, 4) == "conv1,layer1,layer2");
  CHECK(fer::tools::frozen_modules_at(c, 5) == "conv1,layer1");
  CHECK(fer::tools::frozen_modules_at(c, 8) == "conv1");
  CHECK(fer::tools::frozen_modules_at(c, 9).empty());
  CHECK(fer::tools::frozen_modules_at(c, 100).empty());
  CHECK(fer::tools::last_unfreeze_epoch(c) == 9);
  CHECK_NOTHROW(fer::tools::validate(c));
  c.unfreeze_every = -1;
  CHECK_THROWS_WITH_AS(fer::tools::validate(c), doctest::Contains("--unfreeze-every must be >= 0"), fer::Error);
  c.unfreeze_every = 2;
  c.unfreeze_epoch = 0;
  CHECK_THROWS_WITH_AS(fer::tools::validate(c), doctest::Contains("--unfreeze-every needs --unfreeze-epoch"), fer::Error);
}
