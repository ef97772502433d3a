// tools/ferclean.cpp: find duplicates, cross-label duplicates and Training/test overlap by pixel hash,
// and write an exclusion index that `fertrain --exclude FILE` accepts. Never modifies the data.
//
//   ferclean --data $FER_DATA/fer2013 --out fer2013.exclude [--json] [--classes 7|6] [--skip-bad]
//            [--keep-test-overlap] [--autoencoder CKPT [--percentile 98] [--val SPEC] [--seed N]
//            [--only-autoencoder] [--device cpu|cuda] [--batch-size N]]
//
// Identity is exact pixel equality (data/pixel_hash.h: FNV-1a 64 candidates, confirmed byte by
// byte) of the decoded 48x48 gray images. Policy (also written into the index's header):
//   1. cross-label group (the same pixels under two or more labels): every member is excluded, in
//      every split; which label is right is unknown (R002 removed one randomly chosen copy instead).
//   2. same-label group: within each split the first member in source order (sorted paths, CSV
//      line order) is kept and the other copies of that split are excluded. A copy in another split
//      is not excluded by this rule; Training/test copies are rule 3's business.
//   3. Training images whose pixels also occur in a test split (PublicTest, PrivateTest, test/) are
//      excluded from training, so the test figures stay clean; --keep-test-overlap turns this off.
//   4. with --autoencoder CKPT (R003, MODELS.md 5.2): every image of fertrain's training part (the
//      split that `fertrain --val SPEC --seed N` makes; default auto = all of Training when the data
//      has PublicTest; R003: --val split:0.2, 22,968 images) is scored by the mean squared
//      reconstruction error of the checkpoint's autoencoder over its 2,304 pixels (the [0,1] input
//      fertrain trains it on, tools/common/reconstruction.h); the threshold is the --percentile (98) of
//      those scores with linear interpolation (numpy's default), and images scoring above it are
//      excluded. Validation and test images are never scored or flagged. --only-autoencoder turns rules
//      1-3 off, so the index lists rule 4's outliers only (R003's cleaning, nothing more).
// An image is counted under the first rule that excludes it. Rules 1 and 2 also list evaluation-split
// images (a cleaned copy of the data would drop them), but `fertrain --exclude` leaves out training
// images only: its validation and test splits stay whole, comparable between runs. The index lists one excluded image per
// line as its source relative to --data (e.g. `train/happy/Training_123.jpg`, `fer2013.csv:57`),
// with the reason as a '#' comment; the header is '#' comments. It is written atomically.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/pixel_hash.h"
#include "data/splits.h"
#include "kernels/common.h"
#include "models/registry.h"
#include "nn/atomic_file.h"
#include "nn/checkpoint.h"
#include "tools/common/build_info.h"
#include "tools/common/checkpoint_model.h"
#include "tools/common/reconstruction.h"

namespace {

namespace fs = std::filesystem;
namespace fd = fer::data;
using nlohmann::json;

enum Reason : int { kKept = 0, kDuplicate = 1, kCrossLabel = 2, kTestOverlap = 3, kAeOutlier = 4 };
constexpr int kReasons = 5;
const char* const kReasonKey[kReasons] = {"kept", "duplicate", "cross_label", "test_overlap", "ae_outlier"};

const char* const kPolicy =
    "Policy: (1) a cross-label group (the same pixels under two or more labels) is excluded whole, in every\n"
    "split: which label is right is unknown (R002 removed one random copy). (2) a same-label group keeps, within each split, its first member\n"
    "in source order (path, CSV line) and excludes the other copies of that split; a copy in another split\n"
    "is not excluded by this rule (Training/test copies are rule 3's). (3) Training images whose pixels also occur in\n"
    "a test split (PublicTest, PrivateTest, test/) are excluded so the test figures stay clean\n"
    "(--keep-test-overlap turns this off). An image is counted under the first rule that excludes it.\n"
    "fertrain --exclude leaves out the listed training images only; the listed validation/test images\n"
    "(rules 1 and 2) are information, and fertrain's evaluation splits stay whole.";
const char* const kAutoencoderPolicy =
    "(4) --autoencoder: each image of fertrain's training part (the split of --val SPEC --seed N, as fertrain\n"
    "makes it) is scored by the autoencoder's mean squared reconstruction error over its 2,304 pixels (inputs\n"
    "in [0,1], as fertrain trains it); images scoring above the --percentile of those scores (linear\n"
    "interpolation, numpy's default) are excluded (R003). Validation and test images are never flagged.\n"
    "--only-autoencoder turns rules 1-3 off (R003's cleaning alone).";

bool is_test_split(fd::Split s) {
  return s == fd::Split::public_test || s == fd::Split::private_test || s == fd::Split::test;
}

// `source` relative to the data folder (the CSV's folder for a CSV), so the index is portable;
// unchanged when it does not lie under it.
std::string relative_source(const std::string& source, const fs::path& root) {
  if (root.empty()) return source;
  const std::string rel = fs::path(source).lexically_relative(root).generic_string();
  if (rel.empty() || rel == "." || rel.rfind("..", 0) == 0) return source;
  return rel;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{std::string("ferclean: find exact duplicates, cross-label duplicates and Training/test overlap "
                           "by pixel hash, and write an index of images to exclude that `fertrain --exclude FILE` "
                           "accepts. The data is never modified.\n") +
               kPolicy + "\n" + kAutoencoderPolicy};
  app.set_version_flag("--version", fer::tools::version_text("ferclean"));
  std::string data_path, out_path, classes_flag = "7", autoencoder;
  bool as_json = false, skip_bad = false, keep_test_overlap = false;
  double percentile = 98.0;
  int threads = 0;
  app.add_option("--data", data_path, "FER2013 folder (train/ test/) or fer2013.csv")->required();
  app.add_option("--out", out_path, "the index to write (one excluded image per line; written atomically)")->required();
  app.add_flag("--json", as_json, "print the summary as one JSON object");
  app.add_option("--classes", classes_flag, "7 | 6 (fer6 drops disgust): use the same as fertrain's --classes");
  app.add_flag("--skip-bad", skip_bad, "skip unreadable images / malformed rows instead of failing");
  app.add_flag("--keep-test-overlap", keep_test_overlap,
               "keep Training images whose pixels also occur in a test split (rule 3 off)");
  app.add_option("--threads", threads, "decoding threads (0 = all cores)");
  auto* ae = app.add_option("--autoencoder", autoencoder,
                            "R003's reconstruction-error outliers (rule 4): an autoencoder checkpoint, e.g. the "
                            "best.safetensors of `fertrain --recipe r003-autoencoder`");
  auto* pct = app.add_option("--percentile", percentile,
                             "with --autoencoder: flag Training images above this percentile of the scores, in "
                             "(0, 100) (default 98, R003's)");
  std::string device_name = "cpu", val_spec = "auto";
  int64_t batch_size = 256;
  uint64_t seed = 1;
  bool only_ae = false;
  auto* val = app.add_option("--val", val_spec,
                             "with --autoencoder: the validation split fertrain will use (auto | publictest | "
                             "privatetest | split:F; default auto, fertrain's default); only its training part is "
                             "scored. R003: split:0.2");
  auto* sd = app.add_option("--seed", seed, "with --autoencoder: fertrain's --seed (default 1, fertrain's default); "
                                            "it picks the images of a split:F");
  auto* only = app.add_flag("--only-autoencoder", only_ae,
                            "with --autoencoder: list its outliers only, rules 1-3 off (R003's cleaning alone)");
  auto* dev = app.add_option("--device", device_name, "with --autoencoder: cpu | cuda (default cpu)");
  auto* bs = app.add_option("--batch-size", batch_size, "with --autoencoder: images per forward pass (default 256)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    const bool use_ae = ae->count() > 0;
    FER_CHECK(use_ae || (pct->count() == 0 && dev->count() == 0 && bs->count() == 0 && val->count() == 0 &&
                         sd->count() == 0 && only->count() == 0),
              "--percentile, --val, --seed, --only-autoencoder, --device and --batch-size only apply with "
              "--autoencoder CKPT; hint: add it or leave them out");
    FER_CHECK(!(only_ae && keep_test_overlap),
              "--keep-test-overlap has no effect with --only-autoencoder (rules 1-3 are off); hint: leave it out");
    FER_CHECK(!use_ae || (percentile > 0.0 && percentile < 100.0),
              "--percentile must lie strictly between 0 and 100, got " << percentile << "; hint: R003 uses 98");
    FER_CHECK(batch_size >= 1, "--batch-size must be at least 1, got " << batch_size);
    // The autoencoder first: a bad checkpoint fails before the (slow) decoding of the data.
    std::optional<fer::tools::LoadedModel> ae_model;
    if (use_ae) {
      const fer::Device device = fer::tools::device_from_name(device_name);
      std::map<std::string, std::string> meta;  // a classifier is named before its weights are loaded
      try {
        meta = fer::nn::read_checkpoint_metadata(autoencoder);
      } catch (const std::exception&) {
        // load_model_from_checkpoint below says what is wrong with the file
      }
      if (meta.count("fer.model")) {
        const auto& models = fer::models::all_models();
        const auto it = std::find_if(models.begin(), models.end(),
                                     [&](const fer::models::ModelSpec& m) { return m.name == meta.at("fer.model"); });
        FER_CHECK(it == models.end() || it->default_classes == 0,
                  "--autoencoder " << autoencoder << ": the checkpoint holds '" << it->name
                                   << "', a classifier, not an autoencoder; hint: train one with fertrain --recipe "
                                   << "r003-autoencoder and pass its best.safetensors");
      }
      try {
        ae_model = fer::tools::load_model_from_checkpoint(autoencoder, device);
      } catch (const std::exception& e) {
        FER_FAIL("--autoencoder: " << e.what());
      }
      FER_CHECK(fer::models::find_model(ae_model->name).default_classes == 0,
                "--autoencoder " << autoencoder << ": the checkpoint holds '" << ae_model->name
                                 << "', a classifier, not an autoencoder; hint: train one with fertrain --recipe "
                                 << "r003-autoencoder and pass its best.safetensors");
    }
    const fd::ClassSet classes = fd::class_set_from_name(classes_flag);
    std::error_code ec;
    FER_CHECK(fs::exists(data_path, ec),
              "--data: '" << data_path << "' does not exist; hint: a FER2013 folder (train/ test/) or fer2013.csv");
    const auto t0 = std::chrono::steady_clock::now();
    fd::LoadOptions options;
    options.classes = classes;
    options.skip_bad = skip_bad;
    options.threads = threads;
    fd::LoadReport load;
    const fd::Dataset ds = fd::load_dataset(data_path, options, &load);
    FER_CHECK(ds.size() > 0, "--data: '" << data_path << "' holds no images");
    const fs::path root = fs::is_directory(data_path, ec) ? fs::path(data_path) : fs::path(data_path).parent_path();
    const int64_t n = ds.size();
    std::vector<std::string> rel(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      rel[static_cast<size_t>(i)] = relative_source(ds.sources[static_cast<size_t>(i)], root);

    // Rules 1 and 2.
    const fd::DuplicateReport dups = fd::find_duplicates(ds);
    std::vector<int> reason(static_cast<size_t>(n), kKept);
    std::vector<int64_t> kept_copy(static_cast<size_t>(n), -1);  // rule 2: the member kept instead
    for (const fd::DuplicateGroup& g : dups.groups) {
      if (only_ae) break;  // rules 1-3 off
      if (g.conflicting_labels) {
        for (int64_t i : g.members) reason[static_cast<size_t>(i)] = kCrossLabel;
        continue;
      }
      std::map<int, int64_t> first;  // split -> member kept
      for (int64_t i : g.members) {
        const int s = static_cast<int>(ds.splits[static_cast<size_t>(i)]);
        auto it = first.find(s);
        if (it == first.end()) first[s] = i;  // members ascend: the reader's order (sorted paths, CSV lines)
      }
      for (int64_t i : g.members) {
        const int64_t keep = first[static_cast<int>(ds.splits[static_cast<size_t>(i)])];
        if (keep != i) {
          reason[static_cast<size_t>(i)] = kDuplicate;
          kept_copy[static_cast<size_t>(i)] = keep;
        }
      }
    }
    // Rule 3, and the overlap figures of each evaluation split.
    const std::vector<fd::SplitOverlap> overlap = fd::training_overlap(ds);
    std::vector<int64_t> train, tests;
    for (int64_t i = 0; i < n; ++i) {
      const fd::Split s = ds.splits[static_cast<size_t>(i)];
      if (s == fd::Split::training) train.push_back(i);
      if (is_test_split(s)) tests.push_back(i);
    }
    const std::vector<int64_t> train_in_test =
        train.empty() || tests.empty() ? std::vector<int64_t>{} : fd::find_overlap(ds, tests, train);
    if (!keep_test_overlap && !only_ae)
      for (int64_t i : train_in_test)
        if (reason[static_cast<size_t>(i)] == kKept) reason[static_cast<size_t>(i)] = kTestOverlap;

    // Rule 4: reconstruction-error outliers among the images fertrain trains on.
    std::vector<double> ae_score(static_cast<size_t>(n), 0.0);
    double ae_threshold = 0;
    int64_t ae_above = 0, ae_above_already = 0;
    std::vector<int64_t> scored;
    std::string scored_desc;
    if (ae_model) {
      const fd::SplitPlan plan = fd::plan_splits(ds, val_spec, seed);
      scored = plan.train;
      scored_desc = plan.train_desc + ", validation " + plan.val_desc;
      FER_CHECK(!scored.empty(), "--autoencoder: '" << data_path << "' has no training images to score (--val "
                                                    << val_spec << ": " << plan.train_desc << ")");
      const fd::DeviceImages images(ds, ae_model->device);
      const std::vector<double> scores =
          fer::tools::reconstruction_errors(*ae_model->model, images, scored, ae_model->input, batch_size);
      ae_threshold = fer::tools::percentile_linear(scores, percentile);
      for (size_t j = 0; j < scored.size(); ++j) {
        const size_t i = static_cast<size_t>(scored[j]);
        ae_score[i] = scores[j];
        if (scores[j] <= ae_threshold) continue;
        ++ae_above;
        if (reason[i] == kKept) reason[i] = kAeOutlier;
        else ++ae_above_already;
      }
    }

    // Counts per reason, per class and per split.
    const int k = ds.num_classes();
    std::vector<std::vector<int64_t>> per_class(kReasons, std::vector<int64_t>(static_cast<size_t>(k), 0));
    std::vector<std::vector<int64_t>> per_split(kReasons, std::vector<int64_t>(fd::kNumSplits, 0));
    std::vector<int64_t> total(kReasons, 0);
    for (int64_t i = 0; i < n; ++i) {
      const int r = reason[static_cast<size_t>(i)];
      total[static_cast<size_t>(r)]++;
      per_class[static_cast<size_t>(r)][static_cast<size_t>(ds.labels[static_cast<size_t>(i)])]++;
      per_split[static_cast<size_t>(r)][static_cast<size_t>(ds.splits[static_cast<size_t>(i)])]++;
    }
    const int64_t excluded = n - total[kKept];

    // The index.
    std::ostringstream idx;
    idx << "# ferclean exclusion index: pass it to `fertrain --data " << data_path << " --classes " << classes.id
        << " --exclude FILE`.\n"
        << "# data: " << data_path << " (" << n << " images, class set " << classes.id << ")\n"
        << "# one excluded image per line, as its source relative to the data folder; '#' starts a comment.\n";
    if (only_ae) {
      idx << "# --only-autoencoder: rules 1-3 (duplicates, cross-label, test overlap) are off; only rule 4's\n"
          << "# reconstruction-error outliers are listed (R003's cleaning).\n";
    } else {
      std::istringstream pol(kPolicy);
      std::string line;
      while (std::getline(pol, line)) idx << "# " << line << "\n";
    }
    idx << "# duplicate groups: " << dups.groups.size() << " (" << dups.images_in_groups << " images), "
        << dups.conflicting_groups << " cross-label; Training images also in a test split: " << train_in_test.size()
        << (keep_test_overlap ? " (kept: --keep-test-overlap)" : "") << "\n"
        << "# excluded: " << excluded << " = " << total[kCrossLabel] << " cross-label + " << total[kDuplicate]
        << " duplicate + " << total[kTestOverlap] << " test-overlap" << (ae_model ? " + " : "")
        << (ae_model ? std::to_string(total[kAeOutlier]) + " ae-outlier" : std::string()) << "\n";
    if (ae_model) {
      std::istringstream pol(kAutoencoderPolicy);
      std::string line;
      while (std::getline(pol, line)) idx << "# " << line << "\n";
      idx << "# autoencoder: " << autoencoder << " (" << ae_model->name << "); percentile " << percentile << " of "
          << scored.size() << " training scores (" << scored_desc << "; fertrain --val " << val_spec << " --seed "
          << seed << ") = threshold " << std::setprecision(9) << ae_threshold << "; " << ae_above
          << " above it (" << ae_above_already << " of them already excluded by rules 1-3)\n";
    }
    std::vector<int> listed;
    if (!only_ae) listed = {kCrossLabel, kDuplicate, kTestOverlap};
    if (ae_model) listed.push_back(kAeOutlier);
    for (int r : listed) {
      std::vector<int64_t> members;
      for (int64_t i = 0; i < n; ++i)
        if (reason[static_cast<size_t>(i)] == r) members.push_back(i);
      std::sort(members.begin(), members.end(),
                [&](int64_t a, int64_t b) { return rel[static_cast<size_t>(a)] < rel[static_cast<size_t>(b)]; });
      idx << "\n# " << kReasonKey[r] << ": " << members.size() << " images\n";
      for (int64_t i : members) {
        idx << rel[static_cast<size_t>(i)] << "  # " << kReasonKey[r];
        if (r == kCrossLabel)
          idx << " (" << ds.classes.names[static_cast<size_t>(ds.labels[static_cast<size_t>(i)])] << ")";
        if (r == kDuplicate) idx << " of " << rel[static_cast<size_t>(kept_copy[static_cast<size_t>(i)])];
        if (r == kAeOutlier)
          idx << " score=" << std::setprecision(9) << ae_score[static_cast<size_t>(i)] << " threshold=" << ae_threshold;
        idx << "\n";
      }
    }
    fer::nn::write_file_atomic(out_path, idx.str());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    if (as_json) {
      json by_reason = json::object();
      for (int r = 0; r < kReasons; ++r) {
        if (r == kAeOutlier && !ae_model) continue;
        json cls = json::object(), spl = json::object();
        for (int c = 0; c < k; ++c)
          cls[ds.classes.names[static_cast<size_t>(c)]] = per_class[static_cast<size_t>(r)][static_cast<size_t>(c)];
        for (int s = 0; s < fd::kNumSplits; ++s)
          if (per_split[static_cast<size_t>(r)][static_cast<size_t>(s)] > 0)
            spl[fd::split_name(static_cast<fd::Split>(s))] = per_split[static_cast<size_t>(r)][static_cast<size_t>(s)];
        by_reason[kReasonKey[r]] = {{"images", total[static_cast<size_t>(r)]}, {"per_class", cls}, {"per_split", spl}};
      }
      json ov = json::array();
      for (const fd::SplitOverlap& o : overlap)
        ov.push_back({{"split", fd::split_name(o.split)},
                      {"images", o.images},
                      {"in_training", static_cast<int64_t>(o.in_training.size())}});
      const json j = {{"data", data_path},
                      {"out", out_path},
                      {"class_set", classes.id},
                      {"classes", ds.classes.names},
                      {"images", n},
                      {"skipped_bad", load.skipped_bad},
                      {"duplicate_groups", static_cast<int64_t>(dups.groups.size())},
                      {"images_in_groups", dups.images_in_groups},
                      {"cross_label_groups", dups.conflicting_groups},
                      {"training_in_test", static_cast<int64_t>(train_in_test.size())},
                      {"test_overlap", ov},
                      {"keep_test_overlap", keep_test_overlap},
                      {"excluded", excluded},
                      {"autoencoder", ae_model ? json{{"checkpoint", autoencoder},
                                                      {"model", ae_model->name},
                                                      {"percentile", percentile},
                                                      {"scored", static_cast<int64_t>(scored.size())},
                                                      {"scored_split", scored_desc},
                                                      {"val", val_spec},
                                                      {"seed", seed},
                                                      {"only_autoencoder", only_ae},
                                                      {"threshold", ae_threshold},
                                                      {"above_threshold", ae_above},
                                                      {"already_excluded", ae_above_already}}
                                               : json(nullptr)},
                      {"reasons", by_reason},
                      {"seconds", seconds}};
      std::cout << j.dump() << "\n";
    } else {
      std::ostringstream s;
      s << "ferclean: " << n << " images from " << data_path << " (class set " << classes.id << ")";
      if (load.skipped_bad) s << ", " << load.skipped_bad << " bad entries skipped";
      s << "\n  duplicate groups: " << dups.groups.size() << " holding " << dups.images_in_groups << " images, "
        << dups.conflicting_groups << " of them cross-label\n";
      for (const fd::SplitOverlap& o : overlap)
        s << "  " << fd::split_name(o.split) << ": " << o.in_training.size() << " of " << o.images
          << " images also occur in Training\n";
      s << "  Training images also in a test split: " << train_in_test.size()
        << (only_ae             ? " (kept: --only-autoencoder)"
            : keep_test_overlap ? " (kept: --keep-test-overlap)"
                                : " (excluded)")
        << "\n";
      if (ae_model)
        s << "  autoencoder " << autoencoder << ": percentile " << percentile << " of " << scored.size()
          << " training scores (" << scored_desc << ", mean squared reconstruction error) = threshold " << std::setprecision(6) << ae_threshold
          << "; " << ae_above << " images above it, " << ae_above_already << " of them already excluded by rules 1-3\n";
      s << "  excluded " << excluded << " images: " << total[kCrossLabel] << " cross-label, " << total[kDuplicate]
        << " duplicate, " << total[kTestOverlap] << " test-overlap";
      if (ae_model) s << ", " << total[kAeOutlier] << " ae-outlier";
      s << "\n";
      s << "  excluded per split:";
      for (int sp = 0; sp < fd::kNumSplits; ++sp) {
        int64_t c = 0;
        for (int r = 1; r < kReasons; ++r) c += per_split[static_cast<size_t>(r)][static_cast<size_t>(sp)];
        if (c > 0) s << " " << fd::split_name(static_cast<fd::Split>(sp)) << " " << c;
      }
      s << " (fertrain --exclude leaves out only those in its training split)\n";
      s << "  " << std::left << std::setw(13) << "class";
      std::vector<int> columns = {kCrossLabel, kDuplicate, kTestOverlap};
      if (ae_model) columns.push_back(kAeOutlier);
      columns.push_back(kKept);
      for (int r : columns) s << std::right << std::setw(13) << kReasonKey[r];
      s << "\n";
      for (int c = 0; c < k; ++c) {
        s << "  " << std::left << std::setw(13) << ds.classes.names[static_cast<size_t>(c)];
        for (int r : columns)
          s << std::right << std::setw(13) << per_class[static_cast<size_t>(r)][static_cast<size_t>(c)];
        s << "\n";
      }
      s << "  wrote " << out_path << " (" << excluded << " entries) in " << std::fixed << std::setprecision(1)
        << seconds << " s; use: fertrain --data " << data_path << " --exclude " << out_path << "\n";
      std::cout << s.str();
    }
    std::cout.flush();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ferclean: error: %s\n", e.what());
    return 1;
  }
}
