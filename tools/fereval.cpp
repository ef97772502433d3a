// tools/fereval.cpp: evaluate one checkpoint, or an ensemble of several, on a split of a dataset.
//
//   fereval --checkpoint runs/x/best.safetensors --data DIR [--split test|val|train]
//           [--tta none|flip|tencrop|rmn10] [--json] [--out DIR]
//
// Figures: accuracy, top-2/top-3 accuracy, balanced accuracy, per-class precision/recall/F1/support
// with macro and weighted averages, log loss, confusion matrix, one-vs-rest ROC AUC per class (and
// with --out the ROC curves, tools/common/roc_auc.h, as CSV points and a chart). Each
// is given twice, side by side: on the whole split and on the split minus the images whose pixels
// also occur in Training (pixel hash, confirmed byte by byte; FER2013 has about 7.6% of those).
// Several --checkpoint = an ensemble: the mean of the models' softmax; all must share the class
// order. Splits follow data/splits.h with the checkpoint's own --val spec and seed: in the folder
// layout --split test is PrivateTest when present, else all of test/.
// Evaluation is always fp32 (kernels/precision.h), whatever --precision the checkpoint trained with.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/pixel_hash.h"
#include "data/splits.h"
#include "kernels/common.h"
#include "kernels/precision.h"
#include "nn/atomic_file.h"
#include "nn/metrics.h"
#include "tools/common/build_info.h"
#include "tools/common/charts.h"
#include "tools/common/checkpoint_model.h"
#include "tools/common/roc_auc.h"

namespace {

namespace fs = std::filesystem;
using fer::tools::LoadedModel;
using nlohmann::json;

struct Figures {
  int64_t images = 0;
  fer::nn::ClassificationReport report;
  double top2 = 0, top3 = 0, log_loss = 0, macro_auc = 0;
  std::vector<double> auc;  // per class, NaN when undefined
  std::vector<fer::tools::RocCurve> roc;  // per class, undefined (no points) where auc is NaN
};

// Figures of the rows `rows` of (labels, probs); nullopt when there is no row.
std::optional<Figures> compute(const std::vector<int32_t>& labels, const std::vector<float>& probs,
                               const std::vector<size_t>& rows, const std::vector<std::string>& names) {
  if (rows.empty()) return std::nullopt;
  const size_t k = names.size();
  std::vector<int32_t> y, pred;
  std::vector<float> p;
  double nll = 0;
  for (size_t r : rows) {
    y.push_back(labels[r]);
    const float* row = probs.data() + r * k;
    p.insert(p.end(), row, row + k);
    pred.push_back(static_cast<int32_t>(std::max_element(row, row + k) - row));
    nll -= std::log(std::max(static_cast<double>(row[labels[r]]), 1e-12));
  }
  Figures f;
  f.images = static_cast<int64_t>(rows.size());
  f.report = fer::nn::classification_report(y, pred, names);
  f.top2 = fer::nn::top_k_accuracy(y, p, std::min<int>(2, static_cast<int>(k)));
  f.top3 = fer::nn::top_k_accuracy(y, p, std::min<int>(3, static_cast<int>(k)));
  f.log_loss = nll / static_cast<double>(rows.size());
  f.auc = fer::tools::roc_auc_ovr(y, p, static_cast<int>(k));
  f.macro_auc = fer::tools::mean_finite(f.auc);
  f.roc = fer::tools::roc_curve_ovr(y, p, static_cast<int>(k));
  return f;
}

std::string splits_present(const fer::data::Dataset& ds) {
  const std::vector<int64_t> counts = fer::data::split_counts(ds);
  std::ostringstream s;
  for (int i = 0; i < fer::data::kNumSplits; ++i)
    if (counts[static_cast<size_t>(i)] > 0)
      s << (s.tellp() ? ", " : "") << fer::data::split_name(static_cast<fer::data::Split>(i)) << " "
        << counts[static_cast<size_t>(i)];
  return s.tellp() ? s.str() : std::string("none");
}

json finite_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json figures_json(const std::optional<Figures>& f) {
  if (!f) return nullptr;
  json j = fer::nn::report_to_json(f->report);
  j["images"] = f->images;
  j["top2_accuracy"] = f->top2;
  j["top3_accuracy"] = f->top3;
  j["log_loss"] = f->log_loss;
  j["macro_roc_auc"] = finite_or_null(f->macro_auc);
  json auc = json::object();
  for (size_t c = 0; c < f->auc.size(); ++c) auc[f->report.per_class[c].name] = finite_or_null(f->auc[c]);
  j["roc_auc"] = auc;
  return j;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream s;
  s << std::fixed << std::setprecision(4) << v;
  return s.str();
}

std::string confusion_text(const fer::nn::ConfusionMatrix& m, const std::vector<std::string>& names) {
  std::ostringstream s;
  s << std::setw(10) << "true\\pred";
  for (const auto& n : names) s << std::setw(9) << n.substr(0, 8);
  s << "\n";
  for (size_t r = 0; r < m.size(); ++r) {
    s << std::setw(10) << names[r].substr(0, 9);
    for (int64_t v : m[r]) s << std::setw(9) << v;
    s << "\n";
  }
  return s.str();
}

// Why a class has no AUC and no ROC curve, for people.
std::string no_curve_reason(const fer::tools::RocCurve& c) {
  if (c.undefined_reason == "no positives") return "no image of the class (no positives)";
  if (c.undefined_reason == "no negatives") return "every image is of the class (no negatives)";
  return c.undefined_reason;
}

// One line per class with its AUC in the legend, plus the chance diagonal; classes without a curve
// are left out (roc_<stem>.csv has an empty row for them, the text report says why).
fer::tools::Canvas roc_chart(const Figures& f, const std::vector<std::string>& names, const std::string& title) {
  std::vector<fer::tools::Series> series;
  series.push_back({"", {0.0, 1.0}, {0.0, 1.0}, fer::tools::Rgb{160, 160, 160}});
  for (size_t c = 0; c < f.roc.size(); ++c) {
    if (!f.roc[c].defined()) continue;
    std::ostringstream label;
    label << names[c] << " (AUC " << std::fixed << std::setprecision(3) << f.auc[c] << ")";
    series.push_back({label.str(), f.roc[c].fpr, f.roc[c].tpr, fer::tools::colors::palette(static_cast<int>(c))});
  }
  return fer::tools::line_chart("ROC, one-vs-rest, " + title, "False positive rate", "True positive rate", series,
                                720, 640);
}

void write_artefacts(const fs::path& dir, const std::string& stem, const std::string& title, const Figures& f,
                     const std::vector<std::string>& names) {
  fer::nn::write_file_atomic((dir / ("confusion_" + stem + ".csv")).string(),
                             fer::nn::confusion_to_csv(f.report.confusion, names));
  fer::tools::confusion_matrix_chart(f.report.confusion, names, false, "Confusion matrix, " + title)
      .save_png((dir / ("confusion_" + stem + ".png")).string());
  fer::tools::confusion_matrix_chart(f.report.confusion, names, true,
                                     "Confusion matrix, " + title + ", rows normalized")
      .save_png((dir / ("confusion_" + stem + "_normalized.png")).string());
  fer::nn::write_file_atomic((dir / ("confusion_" + stem + "_normalized.csv")).string(),
                             fer::nn::confusion_to_csv_normalized(f.report.confusion, names));
  fer::nn::write_file_atomic((dir / ("roc_" + stem + ".csv")).string(), fer::tools::roc_curves_to_csv(f.roc, names));
  roc_chart(f, names, title).save_png((dir / ("roc_" + stem + ".png")).string());
  fer::nn::write_file_atomic((dir / ("classification_" + stem + ".txt")).string(), fer::nn::format_report(f.report));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fereval: evaluate a checkpoint (or an ensemble of several) on a split of FER data, with every "
      "figure also given without the images that duplicate Training images."};
  app.set_version_flag("--version", fer::tools::version_text("fereval"));
  std::vector<std::string> checkpoints;
  std::string data_path, split = "test", tta_flag = "auto", device_flag = "cpu", out_dir, val_flag;
  bool as_json = false;
  int64_t batch_size = 128;
  app.add_option("--checkpoint", checkpoints, "fer checkpoint (best.safetensors); repeat for an ensemble")->required();
  app.add_option("--data", data_path, "FER2013 folder (train/ test/) or Kaggle CSV")->required();
  app.add_option("--split", split, "test | val | train (test: PrivateTest when present, else all of test/)");
  app.add_option("--val", val_flag,
                 "how the val split is made: auto | publictest | privatetest | split:F "
                 "(default: the checkpoint's own setting)");
  app.add_option("--tta", tta_flag,
                 "auto | none | flip | tencrop | rmn10 (auto, the default: each checkpoint as its run validated, "
                 "tencrop for a --ten-crop run, else none; tencrop: models with a smaller input than 48x48; rmn10: "
                 "R000's 10 random flip+rotate views, seed 1234)");
  app.add_option("--device", device_flag, "cpu | cuda");
  app.add_option("--batch-size", batch_size, "images per forward pass (before test-time augmentation)");
  app.add_option("--out", out_dir, "also write here: confusion matrices (counts and row-normalized, CSV and PNG), one-vs-rest ROC "
                 "curves (roc_<split>.csv: class,threshold,fpr,tpr; roc_<split>.png), reports and eval.json");
  app.add_flag("--json", as_json, "print one JSON object instead of the text report");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    FER_CHECK(split == "test" || split == "val" || split == "train",
              "--split '" << split << "' is not one of: test, val, train");
    FER_CHECK(batch_size >= 1, "--batch-size must be positive, got " << batch_size);
    const bool tta_auto = tta_flag == "auto";
    const fer::tools::Tta tta_given = tta_auto ? fer::tools::Tta::none : fer::tools::tta_from_name(tta_flag);
    std::vector<fer::tools::Tta> tta_of;  // per checkpoint
    const fer::Device device = fer::tools::device_from_name(device_flag);
    fer::set_math_precision(fer::MathPrecision::fp32);  // the reference numerics, never tf32/bf16
    std::vector<LoadedModel> models;
    for (const std::string& c : checkpoints) {
      models.push_back(fer::tools::load_model_from_checkpoint(c, device));
      fer::tools::require_classifier(models.back(), "fereval");
      const LoadedModel& m = models.back();
      // auto: a ten-crop run validated on the mean of the ten crops' logits; fereval does the same
      tta_of.push_back(tta_auto ? (m.config.value("ten_crop", false) ? fer::tools::Tta::tencrop : fer::tools::Tta::none)
                                : tta_given);
      fer::tools::check_tta(m, tta_of.back());
      const LoadedModel& first = models.front();
      FER_CHECK(m.classes.names == first.classes.names,
                "--checkpoint '" << m.path << "' has classes " << json(m.classes.names).dump() << " (" << m.classes.id
                                 << ") but '" << first.path << "' has " << json(first.classes.names).dump() << " ("
                                 << first.classes.id << "); an ensemble needs one class order");
    }
    const LoadedModel& first = models.front();
    const std::vector<std::string>& names = first.classes.names;

    // data and split
    FER_CHECK(fs::exists(data_path),
              "--data: '" << data_path << "' does not exist; hint: a FER2013 folder (train/ test/) or fer2013.csv");
    fer::data::LoadOptions options;
    options.classes = first.classes;
    fer::data::LoadReport load_report;
    const fer::data::Dataset ds = fer::data::load_dataset(data_path, options, &load_report);
    std::string val_spec = val_flag;
    if (val_spec.empty()) {
      val_spec = first.config.value("val", std::string("auto"));
      if (val_spec == "none") val_spec = "auto";
    }
    const uint64_t seed = first.config.value("seed", uint64_t{1});
    const fer::data::SplitPlan plan = fer::data::plan_splits(ds, val_spec, seed);
    const std::vector<int64_t>& indices = split == "test" ? plan.test : split == "val" ? plan.val : plan.train;
    const std::string& desc = split == "test" ? plan.test_desc : split == "val" ? plan.val_desc : plan.train_desc;
    // No checkpoint may be scored on its own training images: rebuild each member's split as its run
    // made it (its --val and --seed) and look for the evaluated images in its training part. This
    // catches ensemble members with other seeded splits, and a --val that differs from the run's.
    // (The test split never lies in a training part.)
    if (split == "val")
      for (const LoadedModel& m : models) {
        std::string v = m.config.value("val", std::string("auto"));
        if (v == "none") v = "auto";
        const uint64_t s = m.config.value("seed", uint64_t{1});
        if (v == val_spec && s == seed) continue;  // the plan above
        fer::data::SplitPlan own;
        try {
          own = fer::data::plan_splits(ds, v, s);
        } catch (const fer::Error&) {
          continue;  // its split cannot be made on this data: it was trained on other data (warned below)
        }
        const std::set<int64_t> trained(own.train.begin(), own.train.end());
        const auto seen = std::count_if(indices.begin(), indices.end(), [&](int64_t i) { return trained.count(i) > 0; });
        FER_CHECK(seen == 0, "--checkpoint '" << m.path << "' was trained with --val " << v << " --seed " << s << ": "
                                              << seen << " of the " << indices.size() << " images of --split " << split
                                              << " (" << desc << ", --val " << val_spec << " --seed " << seed
                                              << ") are in its training part; hint: evaluate it on its own split, "
                                              << "or on --split test");
      }
    // A seeded split of Training follows the data's image order: on another copy or layout of the data
    // (a CSV instead of the folders, a --skip-bad load) it is another split.
    if (split != "test" && plan.val_desc.rfind("split:", 0) == 0)
      for (const LoadedModel& m : models) {
        const std::string trained_on = m.config.value("data", std::string());
        std::error_code e1, e2;
        const bool same = !trained_on.empty() &&
                          fs::weakly_canonical(trained_on, e1) == fs::weakly_canonical(data_path, e2) && !e1 && !e2;
        if (!same)
          std::fprintf(stderr,
                       "warning: --split %s rebuilds the seeded split %s on --data %s, but '%s' was trained on '%s'; "
                       "another copy or layout of the data gives other validation images (possibly training "
                       "images of that run)\n",
                       split.c_str(), plan.val_desc.c_str(), data_path.c_str(), m.path.c_str(),
                       trained_on.empty() ? "the synthetic faces" : trained_on.c_str());
      }
    FER_CHECK(!indices.empty(), "--split " << split << ": the data at '" << data_path << "' has no such images ("
                                           << desc << "); splits present: " << splits_present(ds));

    // duplicates of Training images (not for --split train itself)
    std::vector<int64_t> overlap;
    if (split != "train") {
      std::set<int64_t> evaluated(indices.begin(), indices.end());
      std::set<int64_t> ref_set(plan.train.begin(), plan.train.end());
      for (int64_t i : fer::data::indices_of_split(ds, fer::data::Split::training)) ref_set.insert(i);
      std::vector<int64_t> ref;
      for (int64_t i : ref_set)
        if (!evaluated.count(i)) ref.push_back(i);
      overlap = fer::data::find_overlap(ds, ref, indices);
    }
    const std::set<int64_t> removed(overlap.begin(), overlap.end());

    // the test-time augmentation in words: one name when every member uses it, else one per member
    const bool one_tta = std::all_of(tta_of.begin(), tta_of.end(), [&](fer::tools::Tta t) { return t == tta_of[0]; });
    std::string tta_label = fer::tools::tta_name(tta_of[0]);
    if (!one_tta)
      for (size_t mi = 1; mi < tta_of.size(); ++mi) tta_label += std::string(",") + fer::tools::tta_name(tta_of[mi]);

    // predictions: the mean of the models' softmax
    const fer::data::DeviceImages images(ds, device);
    const size_t k = names.size();
    std::vector<float> probs(indices.size() * k, 0.0f);
    for (size_t mi = 0; mi < models.size(); ++mi) {
      const std::vector<float> p = fer::tools::predict_probs(models[mi], images, indices, tta_of[mi], batch_size);
      for (size_t i = 0; i < p.size(); ++i) probs[i] += p[i] / static_cast<float>(models.size());
    }
    std::vector<int32_t> labels;
    std::vector<size_t> all_rows, dedup_rows;
    for (size_t r = 0; r < indices.size(); ++r) {
      labels.push_back(ds.labels[static_cast<size_t>(indices[r])]);
      all_rows.push_back(r);
      if (!removed.count(indices[r])) dedup_rows.push_back(r);
    }
    const std::optional<Figures> all = compute(labels, probs, all_rows, names);
    const std::optional<Figures> dedup = split == "train" ? std::nullopt : compute(labels, probs, dedup_rows, names);

    json j;
    j["checkpoints"] = checkpoints;
    j["models"] = json::array();
    for (const LoadedModel& m : models) j["models"].push_back(m.name);
    j["ensemble"] = models.size() > 1;
    j["class_set"] = first.classes.id;
    j["classes"] = names;
    j["data"] = data_path;
    j["split"] = split;
    j["split_description"] = desc;
    j["val_spec"] = val_spec;
    j["tta"] = tta_label;  // per member, comma-separated, when they differ (--tta auto)
    j["tta_auto"] = tta_auto;
    j["device"] = device_flag;
    j["images"] = static_cast<int64_t>(indices.size());
    j["all"] = figures_json(all);
    if (split == "train") {
      j["duplicates_of_training"] = nullptr;
      j["deduplicated"] = nullptr;
    } else {
      j["duplicates_of_training"] = static_cast<int64_t>(overlap.size());
      j["deduplicated"] = figures_json(dedup);
      if (dedup) j["deduplicated"]["removed"] = static_cast<int64_t>(overlap.size());
    }

    if (!out_dir.empty()) {
      fs::create_directories(out_dir);
      const std::string base = split + " (" + desc + ")";
      write_artefacts(out_dir, split, base, *all, names);
      if (dedup) write_artefacts(out_dir, split + "_dedup", base + " minus duplicates of Training", *dedup, names);
      fer::nn::write_file_atomic((fs::path(out_dir) / "eval.json").string(), j.dump(2) + "\n");
    }

    if (as_json) {
      std::cout << j.dump() << "\n";
      return 0;
    }
    std::ostringstream o;
    o << "fereval: ";
    if (models.size() > 1)
      o << "ensemble of " << models.size() << " checkpoints (mean of softmax)\n";
    else
      o << "checkpoint " << first.path << "\n";
    for (const LoadedModel& m : models)
      if (models.size() > 1) o << "  " << m.path << " (" << m.name << ")\n";
    o << "model:   " << first.name << ", classes " << first.classes.id << " (" << k << ")\n";
    o << "data:    " << data_path << " (" << load_report.loaded << " images)\n";
    o << "split:   " << split << " = " << desc << ", " << indices.size() << " images";
    if (split != "train")
      o << "; " << overlap.size() << " also in Training (same pixels), " << dedup_rows.size() << " without them";
    o << "\n";
    o << "tta:     " << tta_label << (tta_auto ? " (auto: as each run validated)" : "") << ", device " << device_flag
      << "\n\n";
    const bool side = split != "train";
    auto row = [&](const std::string& label, double a, double b) {
      o << std::left << std::setw(22) << label << std::right << std::setw(12) << num(a);
      if (side) o << std::setw(20) << (dedup ? num(b) : std::string("-"));
      o << "\n";
    };
    {
      std::ostringstream h1, h2;
      h1 << "all (" << all->images << ")";
      h2 << "deduplicated (" << dedup_rows.size() << ")";
      o << std::left << std::setw(22) << "" << std::right << std::setw(12) << h1.str();
      if (side) o << std::setw(20) << h2.str();
      o << "\n";
    }
    const Figures none{};
    const Figures& d = dedup ? *dedup : none;
    row("accuracy", all->report.accuracy, d.report.accuracy);
    row("top-2 accuracy", all->top2, d.top2);
    row("top-3 accuracy", all->top3, d.top3);
    row("balanced accuracy", all->report.balanced_accuracy, d.report.balanced_accuracy);
    row("macro precision", all->report.macro_precision, d.report.macro_precision);
    row("macro recall", all->report.macro_recall, d.report.macro_recall);
    row("macro F1", all->report.macro_f1, d.report.macro_f1);
    row("weighted precision", all->report.weighted_precision, d.report.weighted_precision);
    row("weighted recall", all->report.weighted_recall, d.report.weighted_recall);
    row("weighted F1", all->report.weighted_f1, d.report.weighted_f1);
    row("log loss", all->log_loss, d.log_loss);
    row("macro ROC AUC (OvR)", all->macro_auc, d.macro_auc);
    o << "ROC AUC, one-vs-rest:\n";
    for (size_t c = 0; c < k; ++c) row("  " + names[c], all->auc[c], dedup ? d.auc[c] : NAN);
    for (size_t c = 0; c < k; ++c) {
      if (!all->roc[c].defined())
        o << "  no AUC or ROC curve for " << names[c] << ": " << no_curve_reason(all->roc[c]) << "\n";
      else if (dedup && !d.roc[c].defined())
        o << "  no AUC or ROC curve for " << names[c] << " once deduplicated: " << no_curve_reason(d.roc[c]) << "\n";
    }
    o << "\nclassification report, all " << all->images << " images:\n" << fer::nn::format_report(all->report);
    o << "\nconfusion matrix (rows: true class, columns: predicted), all images:\n"
      << confusion_text(all->report.confusion, names);
    if (dedup) {
      o << "\nclassification report, " << dedup->images << " images without the " << overlap.size()
        << " duplicates of Training:\n"
        << fer::nn::format_report(dedup->report);
      o << "\nconfusion matrix, without duplicates of Training:\n" << confusion_text(dedup->report.confusion, names);
    } else if (side) {
      o << "\nevery image of the split also occurs in Training: no deduplicated figures\n";
    }
    if (!out_dir.empty()) o << "\nwrote confusion matrices, ROC curves, reports and eval.json to " << out_dir << "\n";
    std::cout << o.str();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fereval: error: %s\n", e.what());
    return 1;
  }
}
