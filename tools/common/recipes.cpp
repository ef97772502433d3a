// tools/common/recipes.cpp: the recipe table (MODELS.md gives each report's setup).
#include "tools/common/recipes.h"

#include <sstream>

#include "kernels/common.h"

namespace fer::tools {

namespace {
using nlohmann::json;

// R001 (MODELS.md 3.1): Adam 1e-3, weight decay 5e-4, ExponentialLR(0.9) together with
// ReduceLROnPlateau(0.1, patience 5); augmentation flip + rotation 20 + translation 10 px;
// balanced batches with w_j = N / n_j.
json r001(bool aug, bool balanced) {
  json j = {{"model", "cnn6"},          {"optimizer", "adam"},      {"lr", 1e-3},
            {"weight_decay", 5e-4},     {"scheduler", "exponential+plateau"}, {"gamma", 0.9},
            {"plateau_factor", 0.1},    {"plateau_patience", 5},    {"plateau_metric", "val_loss"},
            {"epochs", 30},             {"batch_size", 64},         {"loss", "ce"},
            {"sampler", balanced ? "balanced" : "shuffle"}};
  if (aug) {
    j["hflip"] = true;
    j["rotate_deg"] = 20.0;
    j["translate_px"] = 10.0;
  }
  return j;
}
}  // namespace

const std::vector<Recipe>& all_recipes() {
  static const std::vector<Recipe> recipes = [] {
    std::vector<Recipe> v;
    const std::string r001_notes =
        "R001 gives neither epochs nor batch size: we use 30 epochs and batch 64. The plateau scheduler "
        "watches the validation loss (PyTorch's default mode 'min').";
    v.push_back({"r001-cnn6", "R001 section 4.1 (MODELS.md 3.1)", "CNN6, cross-entropy, Adam, exponential + plateau LR",
                 r001(false, false), r001_notes});
    v.push_back({"r001-cnn6-aug", "R001 section 4.3", "CNN6 with flip, rotation 20 deg, translation 10 px",
                 r001(true, false), r001_notes});
    v.push_back({"r001-cnn6-balanced", "R001 section 4.2", "CNN6 with class-balanced batches (w_j = N/n_j)",
                 r001(false, true), r001_notes});
    v.push_back({"r001-cnn6-aug-balanced", "R001 section 4.4", "CNN6 with augmentation and balanced batches",
                 r001(true, true), r001_notes});
    return v;
  }();
  return recipes;
}

const Recipe& find_recipe(const std::string& name) {
  for (const Recipe& r : all_recipes())
    if (r.name == name) return r;
  std::ostringstream known;
  for (const Recipe& r : all_recipes()) known << (known.tellp() ? ", " : "") << r.name;
  FER_FAIL("unknown recipe '" << name << "'; known recipes: " << known.str() << " (see fertrain --list-recipes)");
}

}  // namespace fer::tools
