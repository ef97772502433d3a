// tools/common/report_html.h: one self-contained HTML page per run, for people.
//
// The page holds the title, the facts (device, time, parameter count...), the images (training
// curves, confusion matrices) embedded as base64 data URIs, the table of epochs, the classification
// report and the resolved config. It needs no other file, so it can be mailed or attached as is.
// All text is HTML-escaped.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/common/run_log.h"

namespace fer::tools {

struct RunReport {
  std::string title;
  nlohmann::json config;                                     // shown pretty-printed; null = left out
  std::vector<EpochMetrics> epochs;                          // the epoch table; the best val_acc is marked
  std::string classification_text;                           // preformatted (per-class precision/recall/F1)
  std::vector<std::pair<std::string, std::string>> images;  // caption, path of a PNG (or JPEG) file
  std::vector<std::pair<std::string, std::string>> facts;   // key, value
};

// The page as a string. An image file that cannot be read, or is not PNG/JPEG, is a fer::Error.
std::string render_report_html(const RunReport& report);
// render_report_html written atomically to `path`.
void write_report_html(const RunReport& report, const std::string& path);

// & < > " ' replaced by entities.
std::string html_escape(std::string_view text);
// Standard base64 (RFC 4648) with '=' padding, no line breaks.
std::string base64_encode(std::string_view bytes);

}  // namespace fer::tools
