// data/dataset.h: the in-memory FER dataset every reader returns, its class sets and splits.
//
// Images are 48x48 8-bit grayscale, row-major, stored back to back: image i is the 2,304 bytes at
// pixels[i*2304 .. i*2304+2303]. Labels are int32 indices into `classes.names` (the canonical order
// below), one official split and one source string (where the image came from) per image.
//
// Canonical class order = the original FER2013 CSV order ("fer7"):
//   0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral.
// The 6-class mode "fer6" (R002) drops disgust and renumbers the rest, keeping the order:
//   0 angry, 1 fear, 2 happy, 3 sad, 4 surprise, 5 neutral   (disgust images are dropped).
// Both sources map explicitly to fer7 first: CSV `emotion` ints are fer7 indices as they are;
// folder names (lower-case: angry disgust fear happy neutral sad surprise) are looked up by name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fer::data {

inline constexpr int kImageSide = 48;                        // H = W = 48
inline constexpr int kImagePixels = kImageSide * kImageSide;  // 2,304 bytes per image
inline constexpr int kFer7Classes = 7;

// The seven FER2013 emotions in canonical (CSV) order.
const std::vector<std::string>& fer7_names();

// An ordered set of class names plus the map from the canonical fer7 index to an index of this set.
struct ClassSet {
  std::string id;                  // "fer7" or "fer6": name it in every output that prints classes
  std::vector<std::string> names;  // names[k] = class k
  std::vector<int> from_fer7;      // fer7 index -> index in `names`, -1 = dropped (size 7)

  int size() const { return static_cast<int>(names.size()); }
  // Index of a class by name (case-insensitive), -1 when absent.
  int index_of(std::string_view name) const;
};

ClassSet fer7_classes();  // all seven, canonical order
ClassSet fer6_classes();  // disgust dropped (R002), indices remapped
// "fer7" | "7" | "fer6" | "6" -> the class set; anything else is a fer::Error listing the choices.
ClassSet class_set_from_name(std::string_view name);

// fer7 index of a CSV `emotion` value: the value itself for 0..6, else -1.
int fer7_from_csv_label(int64_t label);
// fer7 index of a class folder name (case-insensitive): angry->0, disgust->1, fear->2, happy->3,
// sad->4, surprise->5, neutral->6; -1 for anything else.
int fer7_from_folder_name(std::string_view name);

// The official FER2013 split of an image.
enum class Split : uint8_t {
  training,      // Usage "Training" / file name Training_* / train/ without prefix
  public_test,   // Usage "PublicTest" / file name PublicTest_*
  private_test,  // Usage "PrivateTest" / file name PrivateTest_*
  test,          // a file in test/ without prefix: a test image, public or private unknown
  unknown,       // no record at all (a CSV without a Usage column)
};
inline constexpr int kNumSplits = 5;
// "Training", "PublicTest", "PrivateTest", "test", "unknown".
const char* split_name(Split s);

struct Dataset {
  ClassSet classes;
  std::vector<uint8_t> pixels;       // N * 2304, image-major, row-major 48x48 each
  std::vector<int32_t> labels;       // N, indices into classes.names
  std::vector<Split> splits;         // N, official split of each image
  std::vector<std::string> sources;  // N, "path/to/file.jpg" or "file.csv:line"
  std::string origin;                // what was loaded: a path, or "synthetic(count=..., seed=...)"

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int num_classes() const { return classes.size(); }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * kImagePixels; }
  uint8_t* image(int64_t i) { return pixels.data() + i * kImagePixels; }
  // Appends one image (2,304 bytes) with its label, split and source.
  void push_back(const uint8_t* img, int32_t label, Split split, std::string source);
  // Throws fer::Error when the parallel arrays disagree in length or a label is out of range.
  void validate() const;
};

// Number of images per class (size num_classes), over all images or over `indices`.
std::vector<int64_t> class_counts(const Dataset& ds);
std::vector<int64_t> class_counts(const Dataset& ds, const std::vector<int64_t>& indices);
// Number of images per split (indexed by static_cast<int>(Split)).
std::vector<int64_t> split_counts(const Dataset& ds);
// Indices (ascending) of the images of one split.
std::vector<int64_t> indices_of_split(const Dataset& ds, Split s);
// A new dataset holding the images at `indices`, in that order.
Dataset subset(const Dataset& ds, const std::vector<int64_t>& indices);
// The same images relabeled to another class set (fer7 -> fer6 drops disgust). `ds` must use fer7.
Dataset to_class_set(const Dataset& ds, const ClassSet& classes);
// One line per split and class, e.g. for a tool's startup summary.
std::string describe(const Dataset& ds);

// Options shared by the readers.
struct LoadOptions {
  ClassSet classes = fer7_classes();  // fer6 drops disgust while reading
  bool skip_bad = false;  // false: the first bad entry is a fer::Error; true: skip it, count it, keep going
  int max_messages = 5;   // how many skipped-entry messages LoadReport keeps
  int threads = 0;        // OpenMP threads for decoding/parsing; 0 = the OpenMP default
};

// What a reader did besides returning the images.
struct LoadReport {
  int64_t loaded = 0;         // images in the returned dataset
  int64_t skipped_bad = 0;    // bad entries skipped because of skip_bad
  int64_t dropped_class = 0;  // images of a class the class set drops (disgust in fer6)
  int64_t ignored_files = 0;  // folder reader: files whose extension is not an image (e.g. Thumbs.db)
  std::vector<std::string> messages;  // the first max_messages skipped-entry messages, then a count
  std::vector<std::string> notes;     // things worth knowing that are not errors
  double seconds = 0;                 // wall time of the read
};

// Reads `path`: a .csv file -> read_fer_csv, a directory -> read_image_folders. When skip_bad
// skipped entries and `report` is null, one warning line goes to stderr (never silent).
Dataset load_dataset(const std::filesystem::path& path, const LoadOptions& options = {},
                     LoadReport* report = nullptr);

}  // namespace fer::data
