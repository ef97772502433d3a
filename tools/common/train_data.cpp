// tools/common/train_data.cpp: see train_data.h.
#include "tools/common/train_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "data/resample.h"
#include "data/synthetic.h"
#include "kernels/common.h"

namespace fer::tools {

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// True when `source` names the image `entry` (exactly, or as a path ending in "/entry").
bool source_matches(const std::string& source, const std::string& entry) {
  if (source == entry) return true;
  return source.size() > entry.size() && source.compare(source.size() - entry.size(), entry.size(), entry) == 0 &&
         source[source.size() - entry.size() - 1] == '/';
}

// Reports the raw overlap of Training with val/test; with config.resample, replaces the dataset by
// [resampled training images | val images | test images not in val] and applies the leak guard.
void apply_resampling(const TrainConfig& config, TrainData& out) {
  const data::Dataset train_only = data::subset(out.dataset, out.plan.train);
  const data::LeakReport raw = data::leak_report(train_only, out.dataset, out.plan.val, out.plan.test);
  if (raw.train_val_overlap + raw.train_test_overlap > 0) {
    std::ostringstream line;
    line << "raw data: " << raw.train_val_overlap << " validation and " << raw.train_test_overlap
         << " test images have exact pixel duplicates in the training split";
    out.notes.push_back(line.str());
  }
  const data::ResampleMethod method = data::resample_method_from_name(config.resample);
  if (method == data::ResampleMethod::none) return;

  data::ResampleOptions options;
  options.seed = config.seed;
  data::Resampled r = data::resample(out.dataset, out.plan.train, method, options);
  std::ostringstream line;
  line << "--resample " << config.resample << ": training split " << out.plan.train.size() << " -> "
       << r.train.size() << " images (+" << r.added << ", -" << r.removed << ")";
  out.notes.push_back(line.str());
  for (const std::string& n : r.notes) out.notes.push_back("  " + n);

  // The evaluation images that survive the leak guard.
  const std::vector<int64_t> val = data::without_leaks(r.train, out.dataset, out.plan.val);
  std::vector<int64_t> test_only;  // test images that are not also validation images
  for (int64_t i : out.plan.test)
    if (!std::binary_search(out.plan.val.begin(), out.plan.val.end(), i)) test_only.push_back(i);
  const std::vector<int64_t> test_clean = data::without_leaks(r.train, out.dataset, test_only);

  data::Dataset combined = std::move(r.train);
  data::SplitPlan plan;
  for (int64_t i = 0; i < combined.size(); ++i) plan.train.push_back(i);
  std::map<int64_t, int64_t> val_position;  // dataset index -> index in `combined`
  for (int64_t i : val) {
    val_position[i] = combined.size();
    plan.val.push_back(combined.size());
    combined.push_back(out.dataset.image(i), out.dataset.labels[static_cast<size_t>(i)],
                       out.dataset.splits[static_cast<size_t>(i)], out.dataset.sources[static_cast<size_t>(i)]);
  }
  // The test split keeps the validation images it shares (test = validation when the data has no
  // PrivateTest; a test/ folder of PublicTest_* and unprefixed files holds both), then its own.
  for (int64_t i : out.plan.test) {
    const auto it = val_position.find(i);
    if (it != val_position.end()) plan.test.push_back(it->second);
  }
  for (int64_t i : test_clean) {
    plan.test.push_back(combined.size());
    combined.push_back(out.dataset.image(i), out.dataset.labels[static_cast<size_t>(i)],
                       out.dataset.splits[static_cast<size_t>(i)], out.dataset.sources[static_cast<size_t>(i)]);
  }
  out.leaked_left_out = static_cast<int64_t>(out.plan.val.size() - val.size() + test_only.size() - test_clean.size());
  std::ostringstream guard;
  guard << "leak guard: " << out.leaked_left_out
        << " evaluation images whose pixels occur in the resampled training set are left out";
  out.notes.push_back(guard.str());
  plan.train_desc = out.plan.train_desc + " resampled (" + config.resample + ")";
  plan.val_desc = out.plan.val_desc + (val.size() < out.plan.val.size() ? " minus training duplicates" : "");
  plan.test_desc = out.plan.test_desc + (plan.test.size() < out.plan.test.size() ? " minus training duplicates" : "");
  plan.notes = out.plan.notes;
  combined.origin = out.dataset.origin + " + " + config.resample;
  out.dataset = std::move(combined);
  out.plan = std::move(plan);
}

}  // namespace

std::vector<std::string> read_exclude_file(const std::string& path) {
  std::ifstream in(path);
  FER_CHECK(in, "--exclude: cannot open '" << path << "'; hint: write it with ferclean --out FILE");
  std::vector<std::string> entries;
  std::string line;
  while (std::getline(in, line)) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (!line.empty()) entries.push_back(line);
  }
  return entries;
}

TrainData load_train_data(const TrainConfig& config) {
  TrainData out;
  const data::ClassSet classes = data::class_set_from_name(config.classes);
  if (config.data.empty()) {
    data::Dataset ds = data::make_synthetic_faces(config.synthetic_count, config.seed);
    out.dataset = classes.id == "fer7" ? std::move(ds) : data::to_class_set(ds, classes);
  } else {
    FER_CHECK(std::filesystem::exists(config.data),
              "--data: '" << config.data << "' does not exist; hint: a FER2013 folder (train/ test/) or fer2013.csv");
    data::LoadOptions options;
    options.classes = classes;
    options.skip_bad = config.skip_bad;
    options.threads = config.threads;
    data::LoadReport report;
    out.dataset = data::load_dataset(config.data, options, &report);
    std::ostringstream line;
    line << "loaded " << report.loaded << " images in " << std::fixed << std::setprecision(1) << report.seconds
         << " s";
    if (report.dropped_class) line << ", " << report.dropped_class << " dropped by the class set " << classes.id;
    if (report.skipped_bad) line << ", " << report.skipped_bad << " bad entries skipped (--skip-bad)";
    out.notes.push_back(line.str());
    for (const std::string& m : report.messages) out.notes.push_back("  " + m);
    for (const std::string& n : report.notes) out.notes.push_back(n);
  }

  out.plan = data::plan_splits(out.dataset, config.val, config.seed);
  // --exclude filters the training part only, after the split: the validation and test images stay
  // those of the same run without it (so runs with and without a cleaning are compared on the same
  // images, and fereval rebuilds the split from the config alone).
  if (!config.exclude.empty()) {
    const std::vector<std::string> entries = read_exclude_file(config.exclude);
    std::vector<char> is_train(static_cast<size_t>(out.dataset.size()), 0);
    for (int64_t i : out.plan.train) is_train[static_cast<size_t>(i)] = 1;
    std::vector<char> excluded(static_cast<size_t>(out.dataset.size()), 0);
    std::set<size_t> used;
    int64_t removed = 0, kept_eval = 0;
    for (int64_t i = 0; i < out.dataset.size(); ++i) {
      bool listed = false;
      for (size_t e = 0; e < entries.size(); ++e)  // every entry naming it counts as used (an image may be listed twice)
        if (source_matches(out.dataset.sources[static_cast<size_t>(i)], entries[e])) {
          listed = true;
          used.insert(e);
        }
      if (!listed) continue;
      if (is_train[static_cast<size_t>(i)]) {
        excluded[static_cast<size_t>(i)] = 1;
        ++removed;
      } else {
        ++kept_eval;
      }
    }
    for (size_t e = 0; e < entries.size(); ++e)
      FER_CHECK(used.count(e), "--exclude " << config.exclude << ": entry '" << entries[e]
                                            << "' names no image of the data; hint: was it written for another data "
                                            << "folder or class set (this run: --classes " << out.dataset.classes.id
                                            << ")?");
    std::vector<int64_t> train;
    for (int64_t i : out.plan.train)
      if (!excluded[static_cast<size_t>(i)]) train.push_back(i);
    std::ostringstream line;
    line << "excluded " << removed << " images listed in " << config.exclude << " from the training split ("
         << out.plan.train.size() << " -> " << train.size() << ")";
    out.notes.push_back(line.str());
    if (kept_eval > 0) {
      std::ostringstream kept;
      kept << "  " << kept_eval << " listed images belong to the validation or test split and stay there: --exclude "
           << "filters training images only";
      out.notes.push_back(kept.str());
    }
    FER_CHECK(!train.empty(), "--exclude " << config.exclude << " lists every one of the " << out.plan.train.size()
                                            << " training images; hint: is it the right index?");
    out.plan.train = std::move(train);
    out.plan.train_desc += " minus --exclude";
  }
  if (config.limit > 0 && config.limit < static_cast<int64_t>(out.plan.train.size())) {
    const double fraction = static_cast<double>(config.limit) / static_cast<double>(out.plan.train.size());
    auto [chosen, rest] = data::stratified_split(out.dataset, out.plan.train, fraction, config.seed);
    std::ostringstream line;
    line << "--limit " << config.limit << ": training on a stratified subset of " << chosen.size() << " of "
         << out.plan.train.size() << " training images";
    out.notes.push_back(line.str());
    out.plan.train = std::move(chosen);
    out.plan.train_desc += " (limited)";
  }
  apply_resampling(config, out);
  out.weights = data::inverse_frequency_weights(out.dataset, out.plan.train);
  for (const std::string& w : out.weights.warnings) out.notes.push_back("warning: " + w);
  return out;
}

std::string data_plan_fingerprint(const TrainData& d) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64 over (index, label) of train, then val, then test
  auto mix = [&](uint64_t v) {
    for (int b = 0; b < 8; ++b) {
      h ^= (v >> (8 * b)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  for (const std::vector<int64_t>* part : {&d.plan.train, &d.plan.val, &d.plan.test}) {
    mix(static_cast<uint64_t>(part->size()));
    for (int64_t i : *part) {
      mix(static_cast<uint64_t>(i));
      mix(static_cast<uint64_t>(d.dataset.labels[static_cast<size_t>(i)]));
    }
  }
  std::ostringstream s;
  s << "train " << d.plan.train.size() << ", val " << d.plan.val.size() << ", test " << d.plan.test.size()
    << ", fnv1a64 " << std::hex << std::setw(16) << std::setfill('0') << h;
  return s.str();
}

std::string describe_train_data(const TrainData& d) {
  std::ostringstream s;
  s << "data:    " << d.dataset.origin << " (" << d.dataset.size() << " images, classes " << d.dataset.classes.id
    << ")\n";
  s << "splits:  train " << d.plan.train.size() << " (" << d.plan.train_desc << "), val " << d.plan.val.size() << " ("
    << d.plan.val_desc << "), test " << d.plan.test.size() << " (" << d.plan.test_desc << ")\n";
  const std::vector<int64_t> train_counts = data::class_counts(d.dataset, d.plan.train);
  const std::vector<int64_t> val_counts = data::class_counts(d.dataset, d.plan.val);
  s << "classes: " << std::left << std::setw(10) << "name" << std::right << std::setw(8) << "train" << std::setw(8)
    << "val" << std::setw(10) << "weight\n";
  for (int c = 0; c < d.dataset.num_classes(); ++c)
    s << "         " << std::left << std::setw(10) << d.dataset.classes.names[static_cast<size_t>(c)] << std::right
      << std::setw(8) << train_counts[static_cast<size_t>(c)] << std::setw(8) << val_counts[static_cast<size_t>(c)]
      << std::setw(10) << std::fixed << std::setprecision(4) << d.weights.weights[static_cast<size_t>(c)] << "\n";
  for (const std::string& n : d.plan.notes) s << "note:    " << n << "\n";
  for (const std::string& n : d.notes) s << "note:    " << n << "\n";
  return s.str();
}

}  // namespace fer::tools
