// data/dataset.cpp: class sets, split names, Dataset helpers and the load_dataset dispatcher.
#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <sstream>

#include "data/fer_csv.h"
#include "data/image_folder.h"
#include "kernels/common.h"

namespace fer::data {

namespace {
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}
}  // namespace

const std::vector<std::string>& fer7_names() {
  static const std::vector<std::string> names = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
  return names;
}

int ClassSet::index_of(std::string_view name) const {
  for (int k = 0; k < size(); ++k)
    if (iequals(names[k], name)) return k;
  return -1;
}

ClassSet fer7_classes() { return ClassSet{"fer7", fer7_names(), {0, 1, 2, 3, 4, 5, 6}}; }

ClassSet fer6_classes() {
  // Disgust (fer7 index 1) is dropped; the others keep their relative order.
  return ClassSet{"fer6", {"angry", "fear", "happy", "sad", "surprise", "neutral"}, {0, -1, 1, 2, 3, 4, 5}};
}

ClassSet class_set_from_name(std::string_view name) {
  if (iequals(name, "fer7") || name == "7") return fer7_classes();
  if (iequals(name, "fer6") || name == "6") return fer6_classes();
  FER_FAIL("classes: unknown class set '" << name << "'; expected fer7 (all seven FER2013 classes) or fer6 "
                                          << "(disgust dropped, R002)");
}

int fer7_from_csv_label(int64_t label) { return (label >= 0 && label < kFer7Classes) ? static_cast<int>(label) : -1; }

int fer7_from_folder_name(std::string_view name) {
  const auto& names = fer7_names();
  for (int k = 0; k < kFer7Classes; ++k)
    if (iequals(names[k], name)) return k;
  return -1;
}

const char* split_name(Split s) {
  switch (s) {
    case Split::training: return "Training";
    case Split::public_test: return "PublicTest";
    case Split::private_test: return "PrivateTest";
    case Split::test: return "test";
    case Split::unknown: return "unknown";
  }
  return "?";
}

void Dataset::push_back(const uint8_t* img, int32_t label, Split split, std::string source) {
  pixels.insert(pixels.end(), img, img + kImagePixels);
  labels.push_back(label);
  splits.push_back(split);
  sources.push_back(std::move(source));
}

void Dataset::validate() const {
  const size_t n = labels.size();
  FER_CHECK(pixels.size() == n * kImagePixels && splits.size() == n && sources.size() == n,
            "Dataset: inconsistent sizes: " << n << " labels, " << pixels.size() << " pixel bytes (expected "
                                            << n * kImagePixels << "), " << splits.size() << " splits, "
                                            << sources.size() << " sources");
  FER_CHECK(classes.from_fer7.size() == static_cast<size_t>(kFer7Classes),
            "Dataset: class set '" << classes.id << "' has no fer7 map");
  for (size_t i = 0; i < n; ++i)
    FER_CHECK(labels[i] >= 0 && labels[i] < classes.size(),
              "Dataset: label " << labels[i] << " of image " << i << " (" << sources[i] << ") is outside 0.."
                                << classes.size() - 1);
}

std::vector<int64_t> class_counts(const Dataset& ds) {
  std::vector<int64_t> counts(ds.num_classes(), 0);
  for (int32_t y : ds.labels) counts[y]++;
  return counts;
}

std::vector<int64_t> class_counts(const Dataset& ds, const std::vector<int64_t>& indices) {
  std::vector<int64_t> counts(ds.num_classes(), 0);
  for (int64_t i : indices) counts[ds.labels[i]]++;
  return counts;
}

std::vector<int64_t> split_counts(const Dataset& ds) {
  std::vector<int64_t> counts(kNumSplits, 0);
  for (Split s : ds.splits) counts[static_cast<int>(s)]++;
  return counts;
}

std::vector<int64_t> indices_of_split(const Dataset& ds, Split s) {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < ds.size(); ++i)
    if (ds.splits[i] == s) idx.push_back(i);
  return idx;
}

Dataset subset(const Dataset& ds, const std::vector<int64_t>& indices) {
  Dataset out;
  out.classes = ds.classes;
  out.origin = ds.origin;
  out.pixels.resize(indices.size() * kImagePixels);
  out.labels.reserve(indices.size());
  out.splits.reserve(indices.size());
  out.sources.reserve(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t i = indices[k];
    FER_CHECK(i >= 0 && i < ds.size(), "subset: index " << i << " is outside 0.." << ds.size() - 1);
    std::memcpy(out.pixels.data() + k * kImagePixels, ds.image(i), kImagePixels);
    out.labels.push_back(ds.labels[i]);
    out.splits.push_back(ds.splits[i]);
    out.sources.push_back(ds.sources[i]);
  }
  return out;
}

Dataset to_class_set(const Dataset& ds, const ClassSet& classes) {
  FER_CHECK(ds.classes.id == "fer7", "to_class_set: the dataset uses class set '"
                                         << ds.classes.id << "', expected fer7 (relabel from the canonical set)");
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < ds.size(); ++i)
    if (classes.from_fer7[ds.labels[i]] >= 0) keep.push_back(i);
  Dataset out = subset(ds, keep);
  out.classes = classes;
  for (int32_t& y : out.labels) y = classes.from_fer7[y];
  return out;
}

std::string describe(const Dataset& ds) {
  std::ostringstream os;
  os << ds.origin << ": " << ds.size() << " images, classes " << ds.classes.id << " (";
  for (int k = 0; k < ds.num_classes(); ++k) os << (k ? " " : "") << k << ":" << ds.classes.names[k];
  os << ")\n";
  for (int s = 0; s < kNumSplits; ++s) {
    const auto idx = indices_of_split(ds, static_cast<Split>(s));
    if (idx.empty()) continue;
    const auto counts = class_counts(ds, idx);
    os << "  " << split_name(static_cast<Split>(s)) << " " << idx.size() << ":";
    for (int k = 0; k < ds.num_classes(); ++k) os << " " << ds.classes.names[k] << "=" << counts[k];
    os << "\n";
  }
  return os.str();
}

Dataset load_dataset(const std::filesystem::path& path, const LoadOptions& options, LoadReport* report) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_image_folders(path, options, report);
  if (fs::is_regular_file(path, ec)) return read_fer_csv(path, options, report);
  FER_FAIL("load_dataset: '" << path.string() << "' does not exist (or is neither a file nor a folder); "
                             << "expected a FER2013 CSV (emotion,pixels,Usage) or a folder with train/ and "
                             << "test/ holding one folder per class");
}

}  // namespace fer::data
