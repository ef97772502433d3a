// data/fer_csv.h: the Kaggle FER2013 CSV format (fer2013.csv), read and write.
//
// Format: a header naming the columns, then one image per line:
//   emotion,pixels,Usage
//   0,70 80 82 ... (2,304 integers 0..255, row-major 48x48, separated by spaces),Training
// `emotion` is the fer7 index (0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral),
// `Usage` is Training | PublicTest | PrivateTest.
// Tolerated: a UTF-8 byte-order mark, spaces around header names and values, header names in any
// letter case and column order (icml_face_data.csv has "emotion, Usage, pixels"), extra columns
// (ignored, listed in the report's notes), CRLF or LF line ends, RFC 4180 quoted fields ("..." with
// "" for a quote, newlines allowed inside), blank lines, a missing final newline, a missing Usage
// column (every image gets Split::unknown).
// Rejected (fer::Error naming "file:line" and what was expected; skipped and counted with skip_bad):
// a row with a different number of fields than the header, an emotion that is not an integer
// 0..6, a pixel list that does not hold exactly 2,304 integers 0..255, an unknown Usage value.
// Speed: the file is read in one go, line boundaries are found sequentially (memchr), the rows are
// parsed in parallel (OpenMP) by a hand-written integer scanner; the 290 MB Kaggle file parses in
// about a second. Rows keep file order; with several bad rows the first one in the file is reported.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.h"

namespace fer::data {

// Reads a FER2013 CSV file. Sources are "<path>:<line>" (1-based physical line numbers).
Dataset read_fer_csv(const std::filesystem::path& path, const LoadOptions& options = {},
                     LoadReport* report = nullptr);

// The same parser on text already in memory; `name` stands for the file name in sources/messages.
Dataset parse_fer_csv(std::string_view text, const std::string& name, const LoadOptions& options = {},
                      LoadReport* report = nullptr);

// Writes images (all, or those at `indices`) as a FER2013 CSV with header "emotion,pixels,Usage",
// LF line ends. Labels are written as fer7 indices whatever the dataset's class set; the Usage of
// images whose split is `test` or `unknown` is written as an empty field.
void write_fer_csv(const Dataset& ds, const std::filesystem::path& path, const std::vector<int64_t>* indices = nullptr);

}  // namespace fer::data
