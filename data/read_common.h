// data/read_common.h (internal to data/): the bad-entry policy both readers share.
//
// A reader walks its entries in a fixed order (CSV lines, sorted file paths) and reports every bad
// one here. Without skip_bad the first one is a fer::Error carrying the message; with skip_bad it
// is counted, the first few messages are kept in the LoadReport, and finish() prints one warning
// line to stderr when the caller passed no report (a skipped entry is never silent).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "data/dataset.h"
#include "kernels/common.h"

namespace fer::data::detail {

class BadEntries {
 public:
  BadEntries(const LoadOptions& options, LoadReport* report)
      : options_(options), report_(report ? report : &local_), start_(std::chrono::steady_clock::now()) {
    *report_ = LoadReport{};
  }

  LoadReport& report() { return *report_; }

  // One bad entry: `message` names the file (and line) and what was expected. `images` is how many
  // images it stands for (an unknown class folder leaves all of its images out).
  void bad(const std::string& message, int64_t images = 1) {
    if (!options_.skip_bad) FER_FAIL(message << " (hint: fix or remove the entry; fertrain and ferclean skip such entries, counted, with --skip-bad)");
    report_->skipped_bad += images;
    ++entries_;
    if (static_cast<int>(report_->messages.size()) < options_.max_messages) report_->messages.push_back(message);
  }

  // Closes the read: `n` images loaded. Prints the skip warning when nobody else will see it.
  void finish(const char* what, int64_t n) {
    report_->loaded = n;
    report_->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (entries_ > static_cast<int64_t>(report_->messages.size()))
      report_->messages.push_back("... and " + std::to_string(entries_ - static_cast<int64_t>(report_->messages.size())) +
                                  " more");
    if (report_ == &local_ && report_->skipped_bad > 0)
      std::fprintf(stderr, "warning: %s: skipped %lld bad entries (skip_bad); first: %s\n", what,
                   static_cast<long long>(report_->skipped_bad), report_->messages.front().c_str());
  }

 private:
  const LoadOptions& options_;
  LoadReport local_;
  int64_t entries_ = 0;  // bad() calls (skipped_bad counts images: a folder is many)
  LoadReport* report_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace fer::data::detail
