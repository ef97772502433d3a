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
  json j = {{"model", "cnn6"},
            {"optimizer", "adam"},
            {"lr", 1e-3},
            {"weight_decay", 5e-4},
            {"scheduler", "exponential+plateau"},
            {"gamma", 0.9},
            {"plateau_factor", 0.1},
            {"plateau_patience", 5},
            {"plateau_metric", "val_loss"},
            {"epochs", 30},
            {"batch_size", 64},
            {"loss", "ce"},
            {"sampler", balanced ? "balanced" : "shuffle"}};
  if (aug) {
    j["hflip"] = true;
    j["rotate_deg"] = 20.0;
    j["translate_px"] = 10.0;
  }
  return j;
}
// R000 = the RMN repository's configuration (MODELS.md 1.4): RAdam lr 1e-4, decoupled weight decay
// 1e-3, batch 48, ReduceLROnPlateau(0.1, patience 2, min lr 1e-6) on validation accuracy, early stop
// after 9 epochs without a new best, at most 50 epochs; flip + rotation 30 degrees.
json r000(bool weighted) {
  return {{"model", "rmn"},
          {"optimizer", "radam"},
          {"lr", 1e-4},
          {"weight_decay", 1e-3},
          {"beta1", 0.9},
          {"beta2", 0.999},
          {"eps", 1e-8},
          {"batch_size", 48},
          {"epochs", 50},
          {"scheduler", "plateau"},
          {"plateau_factor", 0.1},
          {"plateau_patience", 2},
          {"plateau_metric", "val_acc"},
          {"min_lr", 1e-6},
          {"early_stop_patience", 9},
          {"early_stop_metric", "val_acc"},
          {"loss", "ce"},
          {"weighted_loss", weighted},
          {"hflip", true},
          {"rotate_deg", 30.0},
          {"sampler", "shuffle"}};
}

// R002 common setup (MODELS.md 4): 6 classes (disgust dropped), batch 32, Adam, up to 10 epochs,
// early stopping on the validation loss with patience 3.
json r002(const std::string& model) {
  return {{"model", model},   {"classes", "fer6"},   {"optimizer", "adam"},      {"lr", 1e-3},
          {"batch_size", 32}, {"epochs", 10},        {"early_stop_patience", 3}, {"early_stop_metric", "val_loss"},
          {"loss", "ce"},     {"scheduler", "none"}, {"sampler", "shuffle"}};
}

// R002 transfer (MODELS.md 4.3): backbone frozen while the head trains, then everything fine-tunes.
json r002_transfer(const std::string& model, const std::string& backbone) {
  json j = r002(model);
  j["freeze"] = backbone;
  j["unfreeze_epoch"] = 11;
  j["unfreeze_lr"] = 1e-5;
  j["epochs"] = 20;
  return j;
}

// R003 (MODELS.md 5): 80/20 split of Training, inputs in [0,1], batch 32.
json r003(const std::string& model) {
  return {{"model", model}, {"val", "split:0.2"}, {"batch_size", 32}, {"loss", "ce"}, {"sampler", "shuffle"}};
}

// R004 (MODELS.md 6 and report 004): the usef-kh VGGNet retrained with Adam lr 1e-4 and early stopping
// (patience 10), on Training as is or resampled.
json r004(const std::string& resample) {
  return {{"model", "vggnet"},   {"optimizer", "adam"},       {"lr", 1e-4},
          {"weight_decay", 0.0}, {"batch_size", 64},          {"epochs", 180},
          {"scheduler", "none"}, {"early_stop_patience", 10}, {"early_stop_metric", "val_acc"},
          {"loss", "ce"},        {"resample", resample},      {"sampler", "shuffle"}};
}

const char* kNoImageNet =
    " The report starts from ImageNet weights, which this engine cannot download: the recipe trains from "
    "random initialisation unless --init-from gives them. tools/import_torchvision.py converts torchvision's "
    "ImageNet weights for resnet18, resnet34 (also rmn's backbone), vgg11 and efficientnet-b0; --init-from "
    "loads such a file by name and shape and keeps the model's own head as initialised (R002's Keras models "
    "vgg16 and resnet50 have no converter).";

const char* kResnetNames =
    " The frozen modules are the torchvision ResNet names conv1, bn1, layer1..layer4 (everything but the head).";
}  // namespace

const std::vector<Recipe>& all_recipes() {
  static const std::vector<Recipe> recipes = [] {
    std::vector<Recipe> v;
    const std::string r001_notes =
        "R001 gives neither epochs nor batch size: we use 30 epochs and batch 64. The plateau scheduler "
        "watches the validation loss (PyTorch's default mode 'min').";
    const std::string r001_aug_notes =
        " R001's 'translation (10, 10)' is read as up to 10 pixels each way (our reading; torchvision's "
        "RandomAffine(translate=(0.1, 0.1)) would be 10% of 48, up to 4.8 pixels: --translate 4.8).";
    v.push_back({"r001-cnn6", "R001 section 4.1 (MODELS.md 3.1)", "CNN6, cross-entropy, Adam, exponential + plateau LR",
                 r001(false, false), r001_notes});
    v.push_back({"r001-cnn6-aug", "R001 section 4.3", "CNN6 with flip, rotation 20 deg, translation 10 px",
                 r001(true, false), r001_notes + r001_aug_notes});
    v.push_back({"r001-cnn6-balanced", "R001 section 4.2", "CNN6 with class-balanced batches (w_j = N/n_j)",
                 r001(false, true), r001_notes});
    v.push_back({"r001-cnn6-aug-balanced", "R001 section 4.4", "CNN6 with augmentation and balanced batches",
                 r001(true, true), r001_notes + r001_aug_notes});

    // ---- R000: Residual Masking Network ----
    const std::string r000_notes =
        std::string(
            "The RMN code's setup (MODELS.md 1.4): RAdam with decoupled weight decay (the paper's "
            "'momentum 0.9' is unused in the code; R000 calls it SGD: override with --optimizer sgd "
            "--momentum 0.9). The repository steps ReduceLROnPlateau on 100 - val accuracy; we watch val "
            "accuracy in max mode, which is the same. Its early stop fires when the plateau counter "
            "exceeds 8, i.e. after 9 epochs without a new best val accuracy (early_stop_patience 9); its "
            "loop allows a 51st epoch, we run 50. Validation is PublicTest and the best checkpoint is "
            "scored on PrivateTest, as in the repository. imgaug rotates with bilinear sampling and zero "
            "fill like our --rotate. The 10-view test-time augmentation is fereval --tta rmn10, not part "
            "of training. Model 'rmn' (resmasking_dropout1, ResNet34 backbone at 224x224x3) comes from "
            "the resnet/rmn branch.") +
        kNoImageNet;
    v.push_back({"r000-rmn", "R000 (MODELS.md 1.4)", "Residual Masking Network, RAdam, plateau LR on val accuracy",
                 r000(false), r000_notes});
    v.push_back({"r000-rmn-weighted", "R000 Table 2 (MODELS.md 1.4)",
                 "Residual Masking Network with class-weighted cross-entropy (disgust 9.41)", r000(true),
                 r000_notes + " Class weights are N/(7 n_c) on the training split, as the repository's list."});

    // ---- R001 transfer ----
    json vgg11 = r001(true, false);  // R001 4.5: "no balancing and with augmentations"
    vgg11["model"] = "vgg11";
    vgg11["freeze"] = "features";
    json resnet18 = vgg11;
    resnet18["model"] = "resnet18";
    resnet18["freeze"] = "conv1,bn1,layer1,layer2,layer3,layer4";
    const std::string r001_transfer_notes =
        r001_notes +
        " R001 keeps its CNN6 setup for the transfer models ('this setup will be hold also for other models') and "
        "trains the new layers 'with the Cross Entropy, no balancing and with augmentations' (section 4.5): flip, "
        "rotation 20 deg, translation 10 px." +
        r001_aug_notes +
        " Only the new head trains (MODELS.md 3.2, 3.3): the backbone stays frozen for the whole run (no unfreeze "
        "stage; add --unfreeze-epoch N to fine-tune it). A frozen backbone's BatchNorm (ResNet18) still updates "
        "its running statistics in training mode, as in PyTorch with requires_grad=False." +
        kNoImageNet +
        " With a random frozen backbone only the head learns; --freeze '' trains everything from scratch.";
    v.push_back({"r001-vgg11", "R001 section 4.5 (MODELS.md 3.2)",
                 "modified VGG11, backbone `features` frozen, 3-FC head trained", vgg11, r001_transfer_notes});
    v.push_back({"r001-resnet18", "R001 section 4.5 (MODELS.md 3.3)",
                 "ResNet18 at 48x48, backbone frozen, 3-FC head on the flattened 2x2x512 map", resnet18,
                 r001_transfer_notes + kResnetNames + " Model 'resnet18' comes from the resnet/rmn branch."});

    // ---- R002 ----
    const std::string r002_notes =
        "R002 (Keras) gives batch 32, Adam, up to 10 epochs and early stopping on the validation loss with "
        "patience 3; 6 classes (disgust dropped). It does not give the learning rate: we use Keras's Adam default "
        "1e-3. Keras's EarlyStopping keeps the last weights by default; we keep the checkpoint with the best "
        "validation accuracy (the engine's selection rule). R002 trains on its own 'cleaned' data; use "
        "ferclean --exclude to reproduce a cleaning.";
    const std::string r002_transfer_notes =
        r002_notes +
        " Two stages (MODELS.md 4.3): the backbone is frozen for epochs 1-10 while the head trains, then "
        "everything fine-tunes for epochs 11-20. The report gives neither the stage lengths nor the fine-tuning "
        "learning rate: we give each stage the report's 10 epochs and fine-tune at 1e-5 (Keras's transfer-learning "
        "guide). Early stopping does not end the frozen stage (a Keras fit() per stage would move on to the "
        "next one); its count restarts at the unfreeze epoch. Keras runs frozen BatchNorm layers in inference "
        "mode; here a frozen BatchNorm still updates its running statistics in training mode (PyTorch's "
        "behaviour). Gradual unfreezing (also tried in R002, 'nearly identical' results) is not implemented: "
        "the report gives no schedule for it." +
        std::string(kNoImageNet) +
        " MODELS.md 4.3 suspects R002's random-looking transfer results came from feeding [0,1] grey input to "
        "networks expecting ImageNet preprocessing; our models take [0,1] input.";
    v.push_back({"r002-shallow", "R002 section 3 (MODELS.md 4.1)", "shallow CNN (2 conv pairs, FC 256), 6 classes",
                 r002("shallow"), r002_notes});
    v.push_back({"r002-vgg16mod", "R002 section 4 (MODELS.md 4.2)",
                 "modified VGG16 from scratch with two added conv+BN+pool stages, 6 classes", r002("vgg16mod"),
                 r002_notes + " Trained from scratch, as in the report (no ImageNet weights)."});
    json resnet50 = r002_transfer("resnet50", "conv1,bn1,layer1,layer2,layer3,layer4");
    v.push_back({"r002-resnet50", "R002 section 2 (MODELS.md 4.3)",
                 "ResNet50 + 3-layer MLP head, frozen backbone then full fine-tuning, 6 classes", resnet50,
                 r002_transfer_notes + kResnetNames + " Model 'resnet50' comes from the resnet/rmn branch."});
    v.push_back({"r002-vgg16", "R002 section 2 (MODELS.md 4.3)",
                 "VGG16 (`backbone`) + 3-layer MLP head, frozen backbone then full fine-tuning, 6 classes",
                 r002_transfer("vgg16", "backbone"), r002_transfer_notes});
    v.push_back({"r002-efficientnet-b0", "R002 section 2 (MODELS.md 4.3, 4.4)",
                 "EfficientNet-B0 (`features`) + 3-layer MLP head, frozen backbone then fine-tuning, 6 classes",
                 r002_transfer("efficientnet-b0", "features"), r002_transfer_notes});

    // ---- R003 ----
    const std::string r003_notes =
        "R003 gives the 80/20 split of Training (--val split:0.2; the test split is scored at the end), inputs "
        "in [0,1] and batch 32 (MODELS.md 5). It leaves the optimiser, learning rate and epochs open.";
    json unet = r003("unet");
    unet.update({{"optimizer", "adam"},
                 {"lr", 1e-3},
                 {"epochs", 30},
                 {"scheduler", "plateau"},
                 {"plateau_factor", 0.1},
                 {"plateau_patience", 5},
                 {"plateau_metric", "val_loss"},
                 {"early_stop_patience", 10},
                 {"early_stop_metric", "val_acc"}});
    v.push_back({"r003-unet", "R003 (MODELS.md 5.1)", "attention U-Net classifier, 80/20 split of Training", unet,
                 r003_notes +
                     " Our choice: Adam 1e-3 (Keras's default), 30 epochs, ReduceLROnPlateau(0.1, patience 5) on "
                     "the val loss, early stopping after 10 epochs without a better val accuracy. R003 trains on "
                     "Training minus the autoencoder's 2% outliers: run ferclean --autoencoder CKPT --val split:0.2 "
                     "--only-autoencoder and pass its index with --exclude (it filters the training part only; the "
                     "validation and test images stay the same)."});
    json baseline = r003("cnn6");
    baseline.update({{"optimizer", "adam"}, {"lr", 1e-3}, {"epochs", 30}});
    v.push_back({"r003-baseline", "R003 (MODELS.md 5)",
                 "R003's baseline stand-in: cnn6 with R003's data setup (80/20 split, batch 32, Adam, [0,1] inputs)",
                 baseline,
                 r003_notes +
                     " R003 does not describe its baseline CNN ('baseline_std_model', 52% in the report): this recipe "
                     "uses our registered cnn6 (R001's six-layer CNN) as a stand-in, so its figures are not R003's "
                     "baseline. From R003: the split, batch 32, [0,1] inputs and Adam. Our choice: lr 1e-3 (Keras's "
                     "Adam default), 30 epochs, no schedule. R003's +4% from removing outliers: train "
                     "r003-autoencoder, run ferclean --autoencoder CKPT --val split:0.2 --only-autoencoder, and pass "
                     "its index with --exclude (scripts/r003-outliers.sh does all of it)."});
    json autoencoder = r003("autoencoder");
    autoencoder.update({{"loss", "mse"},
                        {"optimizer", "adam"},
                        {"lr", 1e-3},
                        {"epochs", 20},
                        {"scheduler", "none"},
                        {"plateau_metric", "val_loss"},
                        {"early_stop_metric", "val_loss"}});
    v.push_back({"r003-autoencoder", "R003 (MODELS.md 5.2)",
                 "convolutional autoencoder for outlier detection, MSE against the input, Adam; feeds ferclean",
                 autoencoder,
                 "From R003 (MODELS.md 5, 5.2): the autoencoder, trained with MSE against its input and Adam, the 80/20 "
                 "split of Training (--val split:0.2), inputs in [0,1], batch 32. R003 gives no learning rate or "
                 "epoch count: our choice is lr 1e-3 (Keras's Adam default) and 20 epochs, with the best "
                 "checkpoint chosen on the validation MSE. Then: ferclean --data PATH --autoencoder "
                 "RUN/best.safetensors --percentile 98 --val split:0.2 --only-autoencoder --out FILE flags the "
                 "images of the 80% training part above the 98th percentile of their reconstruction error (R003: "
                 "460 of 22,968) for fertrain --exclude FILE."});
    json vit = r003("vit");
    vit.update({{"optimizer", "adamw"},
                {"lr", 5e-4},
                {"weight_decay", 0.05},
                {"epochs", 100},
                {"scheduler", "cosine"},
                {"cosine_t0", 100},
                {"warmup_epochs", 5},
                {"label_smoothing", 0.1},
                {"augment", "vit"}});
    v.push_back(
        {"r003-vit", "R003 (MODELS.md 5.3)", "small ViT (patch 4, width 192, depth 6), AdamW + warm-up + cosine", vit,
         r003_notes + " The ViT is only a proposal in R003; the setup is MODELS.md 5.3's suggestion (not from any "
                      "source): AdamW 5e-4, weight decay 0.05, 5 warm-up epochs then cosine decay over 100 epochs, "
                      "label smoothing 0.1, random crop + flip + random erasing (--augment vit: a resized crop of "
                      "80-100% of the area with aspect 3/4-4/3, and erasing with p 0.25 as in DeiT; those values "
                      "are our choice)."});

    // ---- R004 ----
    const std::string r004_notes =
        "R004 retrains the usef-kh VGGNet with Adam lr 1e-4 and early stopping (patience 10; its Keras run "
        "stopped after 54 epochs), at most 180 epochs (its GPU limit). It gives no batch size: we use usef-kh's 64. "
        "Early stopping watches val accuracy (our choice; the report does not name the metric; Keras's default "
        "would be the val loss). No weight decay: R004 names none (Keras's Adam has none; usef-kh's SGD used "
        "1e-4). R004 evaluates with a 'weighted accuracy metric', read here as balanced accuracy (the mean "
        "per-class recall), which fereval reports; the checkpoint choice uses plain accuracy. The model takes "
        "one 40x40 input: the 48x48 image is resized to it. usef-kh's own pipeline (random resized crop, ten-crop "
        "training with random erasing per crop) is the usefkh-vggnet recipe; R004 does not say it kept it (add "
        "--augment usefkh --ten-crop to do so). R004's extra augmentation (flips, "
        "rotation, Gaussian noise on a balanced subset) and AffectNet images are not reproduced. Unlike R004, "
        "which split the data 80/10/10 after resampling (copies of training images reach its test split), we "
        "resample the training split only and validate on PublicTest, so its 97% ensemble figure is not "
        "comparable. The ensemble of the three resampled members is fereval with three --checkpoint flags.";
    const std::string r004_resampled_notes =
        " R004 did 'all extra training (balanced data, ...) on the hyper tuned model': this recipe continues "
        "the r004-vggnet run, so it needs --init-from with that run's best.safetensors. The leak guard leaves "
        "out of validation and test the images whose pixels occur in the resampled training set (on the data "
        "at hand 280 of PublicTest's 3,589, unevenly per class), so the run's own figures are on a smaller "
        "split than r004-vggnet's; fereval gives both (the whole split and without Training duplicates).";
    v.push_back({"r004-vggnet", "R004 (MODELS.md 2, 6)", "usef-kh VGGNet, Adam 1e-4, early stopping 10", r004("none"),
                 r004_notes +
                     " The original usef-kh recipe (SGD Nesterov 0.01, plateau on val accuracy 0.75/5, 300 epochs) "
                     "is: --optimizer sgd --nesterov --lr 0.01 --weight-decay 1e-4 --scheduler plateau "
                     "--plateau-metric val_acc --plateau-factor 0.75 --plateau-patience 5 --epochs 300."});
    v.push_back(
        {"r004-vggnet-ros", "R004 (MODELS.md 6)", "r004-vggnet trained on: randomly over-sampled Training",
         r004("ros"), r004_notes + r004_resampled_notes, "r004-vggnet"});
    v.push_back({"r004-vggnet-smote", "R004 (MODELS.md 6)", "r004-vggnet trained on: SMOTE-resampled Training",
                 r004("smote"), r004_notes + r004_resampled_notes, "r004-vggnet"});
    v.push_back({"r004-vggnet-smote-tomek", "R004 (MODELS.md 6)",
                 "r004-vggnet trained on: SMOTE + Tomek-links resampled Training", r004("smote-tomek"),
                 r004_notes + r004_resampled_notes, "r004-vggnet"});

    // ---- usef-kh (the VGGNet R004 retrains; MODELS.md 2.2) ----
    const json usefkh = {{"model", "vggnet"},
                         {"optimizer", "sgd"},
                         {"lr", 0.01},
                         {"momentum", 0.9},
                         {"nesterov", true},
                         {"weight_decay", 1e-4},
                         {"batch_size", 64},
                         {"epochs", 300},
                         {"scheduler", "plateau"},
                         {"plateau_metric", "val_acc"},
                         {"plateau_factor", 0.75},
                         {"plateau_patience", 5},
                         {"loss", "ce"},
                         {"sampler", "shuffle"},
                         {"augment", "usefkh"},
                         {"ten_crop", true}};
    const std::string usefkh_notes =
        "The usef-kh repository's training: RandomResizedCrop(48, 0.8-1.2, 3/4-4/3), translation up to 20% (p 0.5), "
        "flip, rotation up to 10 deg (p 0.5), TenCrop(40) with all ten crops trained on (a batch of 64 images is "
        "640 crops), RandomErasing (p 0.5) per crop; SGD Nesterov 0.01, L2 1e-4; plateau on val accuracy, "
        "factor 0.75, patience 5; 300 epochs; the best val accuracy is kept. Validation averages the ten crops' "
        "logits, as its test protocol (fereval --tta tencrop). It validates on PrivateTest and reports PublicTest; "
        "the data at hand has no PrivateTest, so we validate on PublicTest (--val privatetest with the full Kaggle "
        "CSV). Its mixed precision (autocast) is not reproduced: we train in fp32.";
    v.push_back({"usefkh-vggnet", "usef-kh/fer via R004 (MODELS.md 2.2)",
                 "usef-kh VGGNet: ten-crop training, SGD Nesterov, plateau on val accuracy", usefkh, usefkh_notes});
    json finetune = usefkh;
    finetune["scheduler"] = "cosine";
    finetune["lr"] = 1e-3;
    finetune["epochs"] = 50;
    finetune["cosine_t0"] = 50;
    finetune["min_lr"] = 0.0;
    v.push_back({"usefkh-vggnet-finetune", "usef-kh/fer via R004 (MODELS.md 2.2)",
                 "usef-kh's fine-tuning stage: cosine annealing from a trained VGGNet (--init-from)", finetune,
                 "Needs --init-from with the best checkpoint of a usefkh-vggnet run. The repository fine-tunes with "
                 "cosine annealing (73.06% -> 73.11% test; with warm restarts 72.64%: --scheduler cosine-restarts) "
                 "but gives neither the length nor the lr: we use 50 epochs (R004's 'Epochs = 350' fits 300 + 50, an "
                 "inference) and lr 1e-3 decaying to 0 over one half-period. Its best figure (73.28%) fine-tunes on "
                 "Training + validation, which leaves nothing to select on: not reproduced.",
                 "usefkh-vggnet"});
    return v;
  }();
  return recipes;
}

bool needs_init_from(const Recipe& recipe) { return !recipe.starts_from.empty(); }

const Recipe& find_recipe(const std::string& name) {
  for (const Recipe& r : all_recipes())
    if (r.name == name) return r;
  std::ostringstream known;
  for (const Recipe& r : all_recipes()) known << (known.tellp() ? ", " : "") << r.name;
  FER_FAIL("unknown recipe '" << name << "'; known recipes: " << known.str() << " (see fertrain --list-recipes)");
}

}  // namespace fer::tools
