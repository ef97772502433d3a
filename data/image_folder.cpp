// data/image_folder.cpp: scan <root>/{train,test}/<class>/, sort, read + decode in parallel.
#include "data/image_folder.h"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/read_common.h"
#include "kernels/common.h"

namespace fer::data {

namespace fs = std::filesystem;

namespace {

struct Entry {
  std::string rel;  // path below the root, '/'-separated: "train/happy/Training_1.jpg"
  int fer7 = -1;    // class from the folder name
  Split split = Split::unknown;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_name(const std::string& name) {
  const std::string ext = lower(fs::path(name).extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

bool is_hidden(const std::string& name) { return !name.empty() && name[0] == '.'; }

std::string folder_names() {
  return "angry, disgust, fear, happy, neutral, sad, surprise";
}

// " (did you mean 'surprise'?)" for a folder name sharing its first 3+ letters with a class name
// (surprised, fearful, disgusted, happiness, sadness, anger), else "".
std::string similar_class_hint(const std::string& name) {
  for (const std::string c : {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}) {
    size_t common = 0;
    while (common < c.size() && common < name.size() &&
           std::tolower(static_cast<unsigned char>(name[common])) == c[common])
      ++common;
    if (common >= 3) return " (did you mean '" + c + "'?)";
  }
  return "";
}

// Sorted names of the entries of a directory (throws with the path on an I/O error).
std::vector<fs::directory_entry> list_dir(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::directory_entry> out;
  fs::directory_iterator it(dir, ec);
  FER_CHECK(!ec, dir.string() << ": cannot list the folder: " << ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    FER_CHECK(!ec, dir.string() << ": error while listing the folder: " << ec.message());
    out.push_back(*it);
  }
  std::sort(out.begin(), out.end(),
            [](const fs::directory_entry& a, const fs::directory_entry& b) { return a.path().filename() < b.path().filename(); });
  return out;
}

}  // namespace

Split split_from_file_name(std::string_view file_name, bool in_train_folder) {
  auto starts = [&](std::string_view p) { return file_name.substr(0, p.size()) == p; };
  if (starts("Training_")) return Split::training;
  if (starts("PublicTest_")) return Split::public_test;
  if (starts("PrivateTest_")) return Split::private_test;
  return in_train_folder ? Split::training : Split::test;
}

Dataset read_image_folders(const fs::path& root, const LoadOptions& options, LoadReport* report) {
  detail::BadEntries bad(options, report);
  LoadReport& rep = bad.report();
  std::error_code ec;
  FER_CHECK(fs::is_directory(root, ec), "image folder '" << root.string() << "' does not exist or is not a folder "
                                                         << "(expected <root>/train/<class>/*.jpg and/or "
                                                         << "<root>/test/<class>/*.jpg)");

  // 1. Scan: which files, which class, which split.
  std::vector<Entry> entries;
  int64_t prefix_disagrees = 0;
  bool any_top = false;
  for (const char* top : {"train", "test"}) {
    const fs::path top_dir = root / top;
    if (!fs::is_directory(top_dir, ec)) {
      rep.notes.push_back(root.string() + ": no " + top + "/ folder");
      continue;
    }
    any_top = true;
    const bool in_train = std::strcmp(top, "train") == 0;
    for (const fs::directory_entry& cls : list_dir(top_dir)) {
      const std::string cls_name = cls.path().filename().string();
      if (is_hidden(cls_name)) continue;
      if (!cls.is_directory(ec)) {
        if (is_image_name(cls_name))
          bad.bad(cls.path().string() + ": image outside a class folder; expected " + top + "/<class>/" + cls_name +
                  " with <class> one of " + folder_names());
        else rep.ignored_files++;
        continue;
      }
      const int fer7 = fer7_from_folder_name(cls_name);
      if (fer7 < 0) {
        int64_t images = 0;
        for (const fs::directory_entry& f : list_dir(cls.path()))
          if (is_image_name(f.path().filename().string())) ++images;
        bad.bad(cls.path().string() + ": unknown class folder '" + cls_name + "' holding " + std::to_string(images) +
                    " images; expected one of " + folder_names() + similar_class_hint(cls_name),
                images);
        continue;
      }
      if (options.classes.from_fer7[fer7] < 0) {  // a class this class set drops: not even read
        for (const fs::directory_entry& f : list_dir(cls.path()))
          if (is_image_name(f.path().filename().string())) rep.dropped_class++;
        continue;
      }
      for (const fs::directory_entry& f : list_dir(cls.path())) {
        const std::string name = f.path().filename().string();
        if (is_hidden(name)) continue;
        if (!is_image_name(name) || f.is_directory(ec)) {
          rep.ignored_files++;
          continue;
        }
        Entry e;
        e.rel = std::string(top) + "/" + cls_name + "/" + name;
        e.fer7 = fer7;
        e.split = split_from_file_name(name, in_train);
        if ((e.split == Split::training) != in_train) prefix_disagrees++;
        entries.push_back(std::move(e));
      }
    }
  }
  if (!any_top) {
    bool class_folders = false;  // pointed at train/ or test/ itself?
    for (const char* name : {"angry", "happy", "neutral", "sad"}) class_folders |= fs::is_directory(root / name, ec);
    FER_FAIL("image folder '" << root.string() << "' has neither train/ nor test/; expected "
                              << "<root>/train/<class>/*.jpg and/or <root>/test/<class>/*.jpg with <class> one of "
                              << folder_names()
                              << (class_folders ? " (hint: it holds class folders itself: pass its parent folder)"
                                                : " (hint: point --data at the folder that holds train/)"));
  }
  // Other folders at the root (val/, valid/, validation/ in some redistributions) are not read:
  // say so instead of dropping their images silently.
  for (const fs::directory_entry& e : list_dir(root)) {
    const std::string name = e.path().filename().string();
    if (is_hidden(name) || name == "train" || name == "test" || !e.is_directory(ec)) continue;
    rep.notes.push_back(e.path().string() + "/: not read (fer reads train/ and test/ only; images there are not "
                        "used: move them into train/ or test/)");
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.rel < b.rel; });
  if (prefix_disagrees > 0)
    rep.notes.push_back(std::to_string(prefix_disagrees) + " files whose name prefix disagrees with their folder "
                        "(split taken from the prefix)");
  if (rep.ignored_files > 0)
    rep.notes.push_back(std::to_string(rep.ignored_files) + " files ignored (not .jpg/.jpeg/.png/.bmp)");
  if (rep.dropped_class > 0)
    rep.notes.push_back("dropped " + std::to_string(rep.dropped_class) + " images of classes not in class set " +
                        options.classes.id);

  // 2. Read and decode in parallel, each file into its own slot.
  const int64_t n = static_cast<int64_t>(entries.size());
  std::vector<uint8_t> pixels(static_cast<size_t>(n) * kImagePixels);
  std::vector<std::string> errors(n);
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 32)
  for (int64_t i = 0; i < n; ++i) {
    try {
      const std::vector<uint8_t> bytes = read_file_bytes(root / entries[i].rel);
      errors[i] = decode_to_gray48(bytes.data(), bytes.size(), pixels.data() + i * kImagePixels);
    } catch (const std::exception& e) {  // an exception must not leave an OpenMP region
      errors[i] = e.what();
      if (errors[i].empty()) errors[i] = "read error";
    }
  }

  // 3. In path order: report failures, keep the good images.
  Dataset ds;
  ds.classes = options.classes;
  ds.origin = root.string();
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const std::string path = (root / entries[i].rel).string();
    if (!errors[i].empty()) {
      bad.bad(path + ": " + errors[i] + " (expected a JPEG, PNG or BMP image)");
      continue;
    }
    if (kept != i) std::memmove(pixels.data() + kept * kImagePixels, pixels.data() + i * kImagePixels, kImagePixels);
    ds.labels.push_back(options.classes.from_fer7[entries[i].fer7]);
    ds.splits.push_back(entries[i].split);
    ds.sources.push_back(path);
    kept++;
  }
  pixels.resize(static_cast<size_t>(kept) * kImagePixels);
  pixels.shrink_to_fit();
  ds.pixels = std::move(pixels);
  bad.finish(root.string().c_str(), kept);
  FER_CHECK(kept > 0, "image folder '" << root.string() << "': no images found in train/<class>/ or test/<class>/ ("
                                       << rep.skipped_bad << " bad, " << rep.ignored_files << " ignored files, "
                                       << rep.dropped_class << " of dropped classes); expected *.jpg, *.jpeg, *.png or "
                                       << "*.bmp files in folders named " << folder_names());
  return ds;
}

}  // namespace fer::data
