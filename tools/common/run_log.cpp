// tools/common/run_log.cpp: see run_log.h.
#include "tools/common/run_log.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "kernels/common.h"
#include "tools/common/atomic_file.h"
#include "tools/common/charts.h"

namespace fer::tools {
namespace {

// The CSV/JSONL columns, in order, and where each lives in EpochMetrics.
struct Column {
  const char* name;
  double EpochMetrics::*field;
};
constexpr Column kColumns[] = {
    {"lr", &EpochMetrics::lr},
    {"train_loss", &EpochMetrics::train_loss},
    {"train_acc", &EpochMetrics::train_acc},
    {"val_loss", &EpochMetrics::val_loss},
    {"val_acc", &EpochMetrics::val_acc},
    {"val_macro_f1", &EpochMetrics::val_macro_f1},
    {"seconds", &EpochMetrics::seconds},
    {"images_per_second", &EpochMetrics::images_per_second},
};

// Shortest text that reads back to the same double; "" for NaN/inf (missing).
std::string number_text(double v) {
  if (!std::isfinite(v)) return "";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : line) {
    if (ch == ',') { out.push_back(cur); cur.clear(); }
    else if (ch != '\r') cur += ch;
  }
  out.push_back(cur);
  for (std::string& s : out) {  // trim spaces
    const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  }
  return out;
}

}  // namespace

MetricsLog::MetricsLog(std::string run_dir) : run_dir_(std::move(run_dir)) {
  FER_CHECK(!run_dir_.empty(), "MetricsLog: empty run folder; hint: pass the run's output folder");
  std::error_code ec;
  std::filesystem::create_directories(run_dir_, ec);
  FER_CHECK(!ec, "MetricsLog: cannot create the run folder '" << run_dir_ << "': " << ec.message());
}

std::string MetricsLog::csv_path() const { return (std::filesystem::path(run_dir_) / "metrics.csv").string(); }
std::string MetricsLog::jsonl_path() const { return (std::filesystem::path(run_dir_) / "metrics.jsonl").string(); }

void MetricsLog::append(const EpochMetrics& m) {
  FER_CHECK(rows_.empty() || m.epoch > rows_.back().epoch,
            "MetricsLog::append: epoch " << m.epoch << " after epoch " << rows_.back().epoch
                                         << "; hint: epochs must increase (call truncate() when resuming)");
  rows_.push_back(m);
  write_files();
}

void MetricsLog::truncate(int64_t last_epoch) {
  const size_t before = rows_.size();
  std::erase_if(rows_, [last_epoch](const EpochMetrics& m) { return m.epoch > last_epoch; });
  if (rows_.size() != before) write_files();
}

std::string MetricsLog::to_csv(const std::vector<EpochMetrics>& rows) {
  std::ostringstream os;
  os << "epoch";
  for (const Column& c : kColumns) os << ',' << c.name;
  os << '\n';
  for (const EpochMetrics& m : rows) {
    os << m.epoch;
    for (const Column& c : kColumns) os << ',' << number_text(m.*(c.field));
    os << '\n';
  }
  return os.str();
}

std::string MetricsLog::to_jsonl(const std::vector<EpochMetrics>& rows) {
  std::string out;
  for (const EpochMetrics& m : rows) {
    nlohmann::ordered_json j;
    j["epoch"] = m.epoch;
    for (const Column& c : kColumns) {
      const double v = m.*(c.field);
      if (std::isfinite(v)) j[c.name] = v;
      else j[c.name] = nullptr;
    }
    out += j.dump();
    out += '\n';
  }
  return out;
}

void MetricsLog::write_files() const {
  write_file_atomic(csv_path(), to_csv(rows_));
  write_file_atomic(jsonl_path(), to_jsonl(rows_));
}

MetricsLog MetricsLog::load(const std::string& run_dir) {
  MetricsLog log(run_dir);
  const std::string path = log.csv_path();
  if (!std::filesystem::exists(path)) return log;
  std::ifstream in(path);
  FER_CHECK(in.good(), "MetricsLog::load: cannot open '" << path << "'");
  std::string line;
  FER_CHECK(static_cast<bool>(std::getline(in, line)), "MetricsLog::load: '" << path << "' is empty; hint: "
                                                          "delete it to start a fresh log");
  const std::vector<std::string> header = split_csv_line(line);
  int epoch_col = -1;
  std::vector<int> col_of(std::size(kColumns), -1);  // column index of each known field
  for (int i = 0; i < static_cast<int>(header.size()); ++i) {
    if (header[i] == "epoch") epoch_col = i;
    for (size_t k = 0; k < std::size(kColumns); ++k)
      if (header[i] == kColumns[k].name) col_of[k] = i;
  }
  FER_CHECK(epoch_col >= 0, "MetricsLog::load: '" << path << "' has no 'epoch' column (header: " << line << ")");
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::vector<std::string> f = split_csv_line(line);
    FER_CHECK(f.size() == header.size(), "MetricsLog::load: " << path << ":" << line_no << " has " << f.size()
                                                             << " fields, the header " << header.size());
    EpochMetrics m;
    const std::string& e = f[static_cast<size_t>(epoch_col)];
    const auto er = std::from_chars(e.data(), e.data() + e.size(), m.epoch);
    FER_CHECK(er.ec == std::errc() && er.ptr == e.data() + e.size(),
              "MetricsLog::load: " << path << ":" << line_no << ": epoch '" << e << "' is not an integer");
    for (size_t k = 0; k < std::size(kColumns); ++k) {
      if (col_of[k] < 0) continue;
      const std::string& s = f[static_cast<size_t>(col_of[k])];
      double v = EpochMetrics::kMissing;
      if (!s.empty() && s != "nan" && s != "NaN") {
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        FER_CHECK(r.ec == std::errc() && r.ptr == s.data() + s.size(),
                  "MetricsLog::load: " << path << ":" << line_no << ": " << kColumns[k].name << " '" << s
                                       << "' is not a number");
      }
      m.*(kColumns[k].field) = v;
    }
    FER_CHECK(log.rows_.empty() || m.epoch > log.rows_.back().epoch,
              "MetricsLog::load: " << path << ":" << line_no << ": epoch " << m.epoch << " does not follow epoch "
                                   << log.rows_.back().epoch);
    log.rows_.push_back(m);
  }
  return log;
}

void write_training_curves(const MetricsLog& log, const std::string& png_path) {
  auto series = [&](const std::string& label, double EpochMetrics::*field, Rgb color) {
    Series s{label, {}, {}, color};
    for (const EpochMetrics& m : log.rows()) {
      s.x.push_back(static_cast<double>(m.epoch));
      s.y.push_back(m.*field);
    }
    return s;
  };
  auto any_finite = [](const Series& s) {
    for (double v : s.y)
      if (std::isfinite(v)) return true;
    return false;
  };
  const int panel_w = 640, panel_h = 420;
  std::vector<Series> loss = {series("train loss", &EpochMetrics::train_loss, colors::kBlue),
                              series("val loss", &EpochMetrics::val_loss, colors::kOrange)};
  std::vector<Series> acc = {series("train acc", &EpochMetrics::train_acc, colors::kBlue),
                             series("val acc", &EpochMetrics::val_acc, colors::kOrange)};
  Series f1 = series("val macro-F1", &EpochMetrics::val_macro_f1, colors::kGreen);
  if (any_finite(f1)) acc.push_back(std::move(f1));
  // no accuracy at all (a reconstruction model, whose loss is the MSE): the loss panel alone
  const bool has_acc = any_finite(acc[0]) || any_finite(acc[1]) || acc.size() > 2;
  Canvas out(has_acc ? 2 * panel_w : panel_w, panel_h, colors::kWhite);
  out.draw(line_chart("Loss", "epoch", "loss", loss, panel_w, panel_h), 0, 0);
  if (has_acc) out.draw(line_chart("Accuracy", "epoch", "accuracy", acc, panel_w, panel_h), panel_w, 0);
  out.save_png(png_path);
}

}  // namespace fer::tools
