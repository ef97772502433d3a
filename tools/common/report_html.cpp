// tools/common/report_html.cpp: see report_html.h.
#include "tools/common/report_html.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "kernels/common.h"
#include "tools/common/atomic_file.h"

namespace fer::tools {
namespace {

constexpr const char* kStyle = R"(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1320px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.4em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; }
table.facts th, table.facts td { text-align: left; }
tr.best td { background: #e8f3e8; font-weight: bold; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; margin-top: 0.3em; }
)";

std::string cell(double v, const char* fmt) {
  if (!std::isfinite(v)) return "&ndash;";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// "image/png" or "image/jpeg" from the file's magic bytes; "" for anything else.
std::string image_mime(std::string_view bytes) {
  if (bytes.size() >= 8 && bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return "image/png";
  if (bytes.size() >= 3 && bytes.substr(0, 3) == std::string_view("\xff\xd8\xff", 3)) return "image/jpeg";
  return "";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {  // 3 bytes -> 4 characters of 6 bits
    const uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string render_report_html(const RunReport& r) {
  std::ostringstream os;
  const std::string title = html_escape(r.title.empty() ? std::string("fer run") : r.title);
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << title
     << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>" << title << "</h1>\n";

  if (!r.facts.empty()) {
    os << "<table class=\"facts\">\n";
    for (const auto& [key, value] : r.facts)
      os << "<tr><th>" << html_escape(key) << "</th><td>" << html_escape(value) << "</td></tr>\n";
    os << "</table>\n";
  }

  if (!r.images.empty()) {
    os << "<h2>Charts</h2>\n";
    for (const auto& [caption, path] : r.images) {
      const std::string bytes = read_file_bytes(path);
      const std::string mime = image_mime(bytes);
      FER_CHECK(!mime.empty(), "write_report_html: '" << path << "' (" << caption
                                                      << ") is not a PNG or JPEG file; hint: pass the chart's .png");
      os << "<figure><img alt=\"" << html_escape(caption) << "\" src=\"data:" << mime << ";base64,"
         << base64_encode(bytes) << "\"><figcaption>" << html_escape(caption) << "</figcaption></figure>\n";
    }
  }

  if (!r.epochs.empty()) {
    // The epoch with the best validation accuracy is highlighted.
    size_t best = r.epochs.size();
    for (size_t i = 0; i < r.epochs.size(); ++i)
      if (std::isfinite(r.epochs[i].val_acc) && (best == r.epochs.size() || r.epochs[i].val_acc > r.epochs[best].val_acc))
        best = i;
    // no validation accuracy at all (a reconstruction model): the lowest validation loss instead
    if (best == r.epochs.size())
      for (size_t i = 0; i < r.epochs.size(); ++i)
        if (std::isfinite(r.epochs[i].val_loss) &&
            (best == r.epochs.size() || r.epochs[i].val_loss < r.epochs[best].val_loss))
          best = i;
    os << "<h2>Epochs</h2>\n<table class=\"epochs\">\n<tr><th>epoch</th><th>lr</th><th>train loss</th><th>train acc</th>"
          "<th>val loss</th><th>val acc</th><th>val macro-F1</th><th>time (s)</th></tr>\n";
    for (size_t i = 0; i < r.epochs.size(); ++i) {
      const EpochMetrics& m = r.epochs[i];
      os << (i == best ? "<tr class=\"best\">" : "<tr>") << "<td>" << m.epoch << "</td><td>" << cell(m.lr, "%.3g")
         << "</td><td>" << cell(m.train_loss, "%.4f") << "</td><td>" << cell(m.train_acc, "%.4f") << "</td><td>"
         << cell(m.val_loss, "%.4f") << "</td><td>" << cell(m.val_acc, "%.4f") << "</td><td>"
         << cell(m.val_macro_f1, "%.4f") << "</td><td>" << cell(m.seconds, "%.1f") << "</td></tr>\n";
    }
    os << "</table>\n";
  }

  if (!r.classification_text.empty())
    os << "<h2>Classification report</h2>\n<pre>" << html_escape(r.classification_text) << "</pre>\n";

  if (!r.config.is_null())
    os << "<h2>Configuration</h2>\n<pre>" << html_escape(r.config.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) << "</pre>\n";

  os << "</body>\n</html>\n";
  return os.str();
}

void write_report_html(const RunReport& report, const std::string& path) {
  write_file_atomic(path, render_report_html(report));
}

}  // namespace fer::tools
