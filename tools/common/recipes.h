// tools/common/recipes.h: the reports' training setups as named presets (fertrain --recipe).
//
// A recipe is a partial config (JSON) applied over the defaults; any flag the user gives wins over
// it. Where a report leaves a setting out (epochs, batch size...), the recipe states our choice in
// its notes so nobody mistakes it for the published value.
//
// R003's baseline CNN is not defined by MODELS.md: r003-baseline runs our cnn6 with R003's data setup
// instead (said in its notes). r003-autoencoder trains the reconstruction model ferclean --autoencoder
// uses. Multi-stage transfer (frozen backbone, then fine-tuning) uses the freeze / unfreeze_epoch /
// unfreeze_lr settings, gradual unfreezing unfreeze_every (no report gives its schedule: not in a
// recipe). A separate fine-tuning stage (a *-finetune recipe, R004's extra training on resampled data)
// names the recipe it continues in `starts_from` and needs --init-from.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fer::tools {

struct Recipe {
  std::string name;
  std::string source;       // report id and where the setup is described
  std::string summary;      // one line
  nlohmann::json settings;  // TrainConfig fields
  std::string notes;        // what the report leaves open and what we chose
  std::string starts_from{};  // a recipe whose trained model this one continues (--init-from its best
                              // checkpoint is then required); empty: starts from scratch
};

const std::vector<Recipe>& all_recipes();
// The recipe called `name`; an unknown name is a fer::Error listing the recipes.
const Recipe& find_recipe(const std::string& name);
// True for a recipe that continues a trained model (starts_from set): it needs --init-from.
bool needs_init_from(const Recipe& recipe);

}  // namespace fer::tools
