// data/image_folder.h: the image-folder layout of FER2013 (Kaggle "msambare/fer2013").
//
//   <root>/train/<class>/<file>      <root>/test/<class>/<file>
//   <class>  = angry disgust fear happy neutral sad surprise (lower-case; matched ignoring case)
//   <file>   = *.jpg *.jpeg *.png *.bmp (extension ignoring case), any size, gray/RGB/RGBA,
//              decoded and converted to 48x48 gray as data/image_io.h states.
// Official split of a file = its name prefix, the only record of it in this layout:
//   Training_*  -> Training      PublicTest_* -> PublicTest      PrivateTest_* -> PrivateTest
//   no prefix   -> Training in train/, `test` (public or private unknown) in test/.
//   A prefix that disagrees with its folder (PublicTest_* under train/) still wins; the report's
//   notes count such files.
// Either train/ or test/ may be missing (not both). Ignored: hidden entries (".*"), files with
// other extensions (counted in LoadReport::ignored_files), entries at the root other than
// train/ and test/ (each such folder, e.g. val/ or validation/, gets a LoadReport note saying its
// images are not read). Bad entries (fer::Error naming the path; skipped and counted with skip_bad):
// an unknown class folder, an image file directly in train/ or test/, a file that does not
// decode (truncated, corrupt, not an image), an empty split folder set (no images at all).
// Order: images are sorted by their path below <root> (byte order), so the result is the same on
// every file system. Speed: files are read and decoded in parallel (OpenMP, one file per task).
#pragma once

#include <filesystem>
#include <string_view>

#include "data/dataset.h"

namespace fer::data {

Dataset read_image_folders(const std::filesystem::path& root, const LoadOptions& options = {},
                           LoadReport* report = nullptr);

// The split of a file by the rules above; `in_train_folder` is true under train/, false under test/.
Split split_from_file_name(std::string_view file_name, bool in_train_folder);

}  // namespace fer::data
