// tools/fertrain.cpp: train a model (see tools/common/trainer.h for the loop itself).
//
//   fertrain                                   the built-in synthetic faces, the default CNN
//   fertrain --recipe r001-cnn6 --data DIR     a report's setup on FER2013
//   fertrain --resume runs/cnn6-...            continue an interrupted run exactly
//
// Settings are resolved in layers: defaults (train_config.h) <- recipe <- the flags given. With
// --resume the run folder's config.json replaces the first two layers, and only --epochs (to train
// longer), --device, --threads, --checkpoint-every, --log-interval and --no-progress may be given on top.
//
// Ctrl-C (SIGINT) and SIGTERM (timeout, Slurm, docker stop) stop at the next step boundary with a
// resumable checkpoint; the exit status is then 128 + the signal (130, 143).
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>

#include "kernels/common.h"
#include "models/registry.h"
#include "tools/common/build_info.h"
#include "tools/common/recipes.h"
#include "tools/common/train_config.h"
#include "tools/common/trainer.h"

#include <fstream>

namespace {

using fer::tools::TrainConfig;

struct FlagBinding {
  CLI::Option* option;
  std::string field;
  std::function<void(TrainConfig&, const TrainConfig&)> copy;
};

void list_models() {
  std::printf("%-18s %-9s %12s %10s  %s\n", "model", "input", "parameters", "MACs", "source / description");
  for (const auto& m : fer::models::all_models()) {
    char input[48];
    std::snprintf(input, sizeof input, "%lldx%lldx%lld", static_cast<long long>(m.input_channels),
                  static_cast<long long>(m.input_size), static_cast<long long>(m.input_size));
    std::printf("%-18s %-9s %12lld %9.1fM  %s: %s\n", m.name.c_str(), input, static_cast<long long>(m.expected_params),
                static_cast<double>(m.expected_macs) / 1e6, m.source.c_str(), m.description.c_str());
  }
}

void list_recipes() {
  for (const auto& r : fer::tools::all_recipes()) {
    std::printf("%s\n    %s\n    source: %s\n", r.name.c_str(), r.summary.c_str(), r.source.c_str());
    if (!r.starts_from.empty())
      std::printf("    starts from: the best.safetensors of a %s run (--init-from, required)\n", r.starts_from.c_str());
    std::printf("    settings: %s\n    notes: %s\n", r.settings.dump().c_str(), r.notes.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fertrain: train a facial-expression model (fer engine). Without --data it trains on the "
               "built-in synthetic faces."};
  app.set_version_flag("--version", fer::tools::version_text("fertrain"));
  TrainConfig cli;
  std::vector<FlagBinding> bindings;
#define FER_FLAG(flag, field, help) \
  bindings.push_back({app.add_option(flag, cli.field, help), #field, [](TrainConfig& d, const TrainConfig& s) { d.field = s.field; }})
#define FER_SWITCH(flag, field, help) \
  bindings.push_back({app.add_flag(flag, cli.field, help), #field, [](TrainConfig& d, const TrainConfig& s) { d.field = s.field; }})

  FER_FLAG("--data", data, "FER2013 folder (train/ test/) or Kaggle CSV; default: built-in synthetic faces");
  FER_FLAG("--model", model, "model name (--list-models)");
  FER_FLAG("--recipe", recipe, "a report's training setup (--list-recipes); flags given override it");
  FER_FLAG("--width", width, "channel multiplier of the model (1 = published size)");
  FER_FLAG("--epochs", epochs, "number of epochs");
  FER_FLAG("--batch-size", batch_size, "images per step");
  FER_FLAG("--lr", lr, "(initial) learning rate");
  FER_FLAG("--optimizer", optimizer, "sgd | adam | adamw | radam");
  FER_FLAG("--momentum", momentum, "SGD momentum");
  FER_SWITCH("--nesterov", nesterov, "SGD with Nesterov momentum");
  FER_FLAG("--weight-decay", weight_decay, "L2 (sgd, adam) or decoupled (adamw, radam) weight decay");
  FER_FLAG("--grad-clip", grad_clip, "clip the global gradient norm (0 = off)");
  FER_FLAG("--freeze", freeze, "comma-separated module paths frozen from the start (e.g. features; --list-models names models)");
  FER_FLAG("--unfreeze-epoch", unfreeze_epoch, "unfreeze the --freeze modules at the start of this epoch (1-based; 0 = never)");
  FER_FLAG("--unfreeze-every", unfreeze_every,
           "gradual unfreezing: release the --freeze modules one at a time, last listed first, from --unfreeze-epoch "
           "on every N epochs (0 = all at once)");
  FER_FLAG("--unfreeze-lr", unfreeze_lr, "from --unfreeze-epoch on, scale the lr by UNFREEZE_LR/lr (0 = keep)");
  FER_FLAG("--scheduler", scheduler, "none | exponential | plateau | exponential+plateau | cosine | cosine-restarts | step");
  FER_FLAG("--gamma", gamma, "exponential/step decay factor");
  FER_FLAG("--step-size", step_size, "step scheduler: epochs between decays");
  FER_FLAG("--plateau-factor", plateau_factor, "ReduceLROnPlateau factor");
  FER_FLAG("--plateau-patience", plateau_patience, "ReduceLROnPlateau patience (epochs)");
  FER_FLAG("--plateau-metric", plateau_metric, "val_loss | val_acc");
  FER_FLAG("--min-lr", min_lr, "lower bound of the learning rate");
  FER_FLAG("--cosine-t0", cosine_t0, "cosine: period (epochs); cosine-restarts: first cycle");
  FER_FLAG("--cosine-tmult", cosine_tmult, "cosine-restarts: cycle length multiplier");
  FER_FLAG("--warmup-epochs", warmup_epochs, "linear warm-up epochs");
  FER_FLAG("--early-stop", early_stop_patience, "stop after N epochs without improvement (0 = off)");
  FER_FLAG("--early-stop-metric", early_stop_metric, "val_acc | val_loss");
  FER_FLAG("--loss", loss, "ce | focal | mse (an autoencoder always trains with mse)");
  FER_SWITCH("--weighted-loss", weighted_loss, "inverse-frequency class weights w_c = N/(K n_c)");
  FER_FLAG("--label-smoothing", label_smoothing, "label smoothing in [0, 1)");
  FER_FLAG("--focal-gamma", focal_gamma, "focal loss gamma");
  FER_FLAG("--sampler", sampler, "shuffle | balanced | sequential");
  FER_SWITCH("--hflip", hflip, "augmentation: random horizontal flips");
  FER_FLAG("--rotate", rotate_deg, "augmentation: random rotation up to +-DEG degrees");
  FER_FLAG("--translate", translate_px, "augmentation: random translation up to +-PX pixels");
  FER_FLAG("--augment", augment,
           "augmentation preset as the base (r000, r001, r001-erase, r003, r004, usefkh, vit, strong, none); "
           "--hflip/--rotate/--translate override its fields");
  FER_SWITCH("--ten-crop", ten_crop,
             "usef-kh: train on the ten crops of each image (models with an input smaller than 48x48), "
             "random erasing per crop; validation averages the crops' logits");
  FER_FLAG("--device", device, "cpu | cuda");
  FER_FLAG("--precision", precision,
           "fp32 | tf32 | bf16: conv/linear operands rounded to tf32 or bf16, fp32 accumulation, fp32 master "
           "weights (tensor-core numerics; on --device cpu an exact emulation, not faster)");
  FER_FLAG("--conv-impl", conv_impl,
           "native | cudnn (CUDA convolutions through cuDNN, an A/B baseline) | tc (conv2d as implicit GEMM on "
           "the tensor cores, sm_80+; needs --precision tf32|bf16)");
  FER_FLAG("--fuse", fuse,
           "on | off: batch norm + relu/silu as one fused op (forward and backward; same numbers, less memory "
           "and traffic); off runs them as two ops");
  FER_FLAG("--cuda-graph", cuda_graph,
           "on | off: capture the training step once as a CUDA graph and replay it with one launch per step "
           "(same numbers as off; --device cuda; not yet measured on a GPU, so off by default)");
  FER_FLAG("--seed", seed, "seed of everything random (init, order, dropout, augmentation)");
  FER_FLAG("--threads", threads, "CPU threads (0 = all cores)");
  FER_FLAG("--out", out, "run folder (default runs/<model>-<time>)");
  FER_FLAG("--resume", resume, "continue the run in this folder exactly where it stopped");
  FER_FLAG("--init-from", init_from, "start from this checkpoint's weights");
  FER_FLAG("--limit", limit, "train on a stratified subset of N training images");
  FER_FLAG("--classes", classes, "7 (fer7) | 6 (fer6: disgust dropped)");
  FER_FLAG("--val", val, "auto | publictest | privatetest | split:F | none");
  FER_SWITCH("--skip-bad", skip_bad, "skip unreadable images/rows with a counted warning");
  FER_FLAG("--resample", resample, "none | ros | smote | smote-tomek | smote-enn: resample the training split (leak-guarded)");
  FER_FLAG("--exclude", exclude, "file listing images to leave out (ferclean --out)");
  FER_FLAG("--trace", trace, "print every module of the forward and every autograd node of the backward for the first N steps");
  FER_FLAG("--sync-every", sync_every, "read the loss, accuracy and gradient norm back from the device and check them every N steps (0 = auto: 1 on the CPU, 50 on CUDA; 1 stops at the first bad step before the update)");
  FER_FLAG("--checkpoint-every", checkpoint_every,
           "also write the resumable checkpoint (last.safetensors) every N steps inside an epoch, so a killed run "
           "loses at most N steps (0 = at the end of each epoch, and on Ctrl-C/SIGTERM)");
  FER_FLAG("--log-interval", log_interval,
           "when the output is not a terminal (a log file, nohup, CI): a plain progress line every N steps "
           "(0 = only the per-epoch lines)");
  FER_SWITCH("--detect-anomaly", detect_anomaly, "check every forward op's output and every backward op's gradients; name the first non-finite one (slower)");
  FER_FLAG("--synthetic-count", synthetic_count, "number of synthetic faces (no --data)");
#undef FER_FLAG
#undef FER_SWITCH
  bool no_progress = false, list_models_flag = false, list_recipes_flag = false;
  std::string config_file;
  app.add_flag("--no-progress", no_progress, "plain per-epoch lines even on a terminal");
  app.add_option("--config", config_file, "JSON file of settings (as written to <run>/config.json), applied after the recipe");
  int64_t stop_after_steps = 0;
  app.add_option("--stop-after-steps", stop_after_steps,
                 "testing aid: act as if Ctrl-C came after N steps (writes a resumable checkpoint)");
  fer::tools::RunOptions run_options;
  app.add_flag("--dry-run", run_options.dry_run,
               "resolve and print everything (data, splits, classes, model, augmentation, steps), then stop: "
               "nothing is trained or written");
  app.add_option("--preview", run_options.preview,
                 "with --dry-run: write a PNG grid of the first 8 training images per class, augmented as the "
                 "training step sees them");
  app.add_flag("--list-models", list_models_flag, "list the models and exit");
  app.add_flag("--list-recipes", list_recipes_flag, "list the recipes and exit");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (list_models_flag) {
    list_models();
    return 0;
  }
  if (list_recipes_flag) {
    list_recipes();
    return 0;
  }

  try {
    TrainConfig config;
    std::set<std::string> given;
    for (const FlagBinding& b : bindings)
      if (b.option->count() > 0) given.insert(b.field);
    if (!cli.resume.empty()) {
      const std::string path = cli.resume + "/config.json";
      std::ifstream in(path);
      FER_CHECK(in, "--resume " << cli.resume << ": no config.json there; hint: point --resume at a run folder");
      nlohmann::json j;
      try {
        in >> j;
      } catch (const nlohmann::json::exception& e) {
        FER_FAIL(path << ": not valid JSON: " << e.what());
      }
      fer::tools::apply_json(config, j);
      // what may change on resume: the length, where and how it runs (a CUDA run resumed on the CPU
      // needs --cuda-graph off and --conv-impl native), and how it reports or checkpoints
      const std::set<std::string> allowed = {"resume",     "epochs",    "device",           "threads",
                                             "cuda_graph", "conv_impl", "checkpoint_every", "log_interval"};
      for (const std::string& f : given)
        FER_CHECK(allowed.count(f), "--resume takes the run's own settings; the flag for '"
                                        << f << "' cannot change them (allowed: --epochs, --device, --threads, "
                                        << "--cuda-graph, --conv-impl, --checkpoint-every, --log-interval)");
    } else {
      const std::string recipe = given.count("recipe") ? cli.recipe : "";
      if (!recipe.empty()) {
        fer::tools::apply_json(config, fer::tools::find_recipe(recipe).settings);
        config.recipe = recipe;
      }
      if (!config_file.empty()) {
        std::ifstream in(config_file);
        FER_CHECK(in, "--config: cannot open '" << config_file << "'");
        nlohmann::json j;
        try {
          in >> j;
        } catch (const nlohmann::json::exception& e) {
          FER_FAIL(config_file << ": not valid JSON: " << e.what());
        }
        fer::tools::apply_json(config, j);
      }
    }
    for (const FlagBinding& b : bindings)
      if (b.option->count() > 0) b.copy(config, cli);
    if (no_progress) config.progress = false;
    fer::tools::validate(config);
    if (!config.recipe.empty() && cli.resume.empty() && config.init_from.empty() &&
        fer::tools::needs_init_from(fer::tools::find_recipe(config.recipe)))
      FER_FAIL("--recipe " << config.recipe << " continues a trained model: give --init-from CKPT (the "
                           << "best.safetensors of a " << fer::tools::find_recipe(config.recipe).starts_from << " run)");
    fer::tools::request_stop_after_steps(stop_after_steps);
    FER_CHECK(run_options.preview.empty() || run_options.dry_run,
              "--preview writes the look of the training batches during a --dry-run; hint: add --dry-run");
    const fer::tools::TrainSummary s = fer::tools::run_training(config, stdout, run_options);
    return s.stop_reason == "interrupted" ? 128 + (s.stop_signal > 0 ? s.stop_signal : SIGINT) : 0;
  } catch (const fer::Error& e) {
    std::fprintf(stderr, "fertrain: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fertrain: error: %s\n", e.what());
    return 1;
  }
}
