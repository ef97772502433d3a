// tools/common/train_data.cpp: see train_data.h.
#include "tools/common/train_data.h"

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

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

  if (!config.exclude.empty()) {
    const std::vector<std::string> entries = read_exclude_file(config.exclude);
    std::vector<int64_t> keep;
    std::set<size_t> used;
    for (int64_t i = 0; i < out.dataset.size(); ++i) {
      bool excluded = false;
      for (size_t e = 0; e < entries.size() && !excluded; ++e)
        if (source_matches(out.dataset.sources[static_cast<size_t>(i)], entries[e])) {
          excluded = true;
          used.insert(e);
        }
      if (!excluded) keep.push_back(i);
    }
    for (size_t e = 0; e < entries.size(); ++e)
      FER_CHECK(used.count(e), "--exclude " << config.exclude << ": entry '" << entries[e]
                                            << "' names no image of the data; hint: was it written for another data folder?");
    std::ostringstream line;
    line << "excluded " << (out.dataset.size() - static_cast<int64_t>(keep.size())) << " images listed in "
         << config.exclude;
    out.notes.push_back(line.str());
    out.dataset = data::subset(out.dataset, keep);
  }

  out.plan = data::plan_splits(out.dataset, config.val, config.seed);
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
  out.weights = data::inverse_frequency_weights(out.dataset, out.plan.train);
  for (const std::string& w : out.weights.warnings) out.notes.push_back("warning: " + w);
  return out;
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
