// tests/unit/test_run_log.cpp: the per-epoch metrics log (tools/common/run_log.h): CSV/JSONL
// contents, NaN as an empty field / null, load round trip, epoch order, training-curve PNG.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kernels/common.h"
#include "tests/unit/test_data_fixtures.h"
#include "tests/unit/test_png_fixtures.h"
#include "tools/common/atomic_file.h"
#include "tools/common/run_log.h"

using fer::tools::EpochMetrics;
using fer::tools::MetricsLog;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

EpochMetrics epoch(int64_t e) {
  EpochMetrics m;
  m.epoch = e;
  m.lr = 1e-3 * std::pow(0.9, static_cast<double>(e - 1));
  m.train_loss = 1.9 / static_cast<double>(e);
  m.train_acc = 0.2 + 0.05 * static_cast<double>(e);
  m.val_loss = 2.0 / static_cast<double>(e) + 0.1;
  m.val_acc = 0.18 + 0.04 * static_cast<double>(e);
  m.val_macro_f1 = 0.1 + 0.03 * static_cast<double>(e);
  m.seconds = 12.5 + static_cast<double>(e);
  return m;
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  for (std::string l; std::getline(is, l);) out.push_back(l);
  return out;
}
}  // namespace

TEST_CASE("run log: append writes metrics.csv and metrics.jsonl, NaN as empty / null") {
  fer::test::TempDir dir;
  const std::string run = (dir / "run1").string();  // created by the log
  MetricsLog log(run);
  CHECK(std::filesystem::is_directory(run));
  EpochMetrics first;
  first.epoch = 1;
  first.lr = 0.001;
  first.train_loss = 1.5;
  first.train_acc = 0.25;
  first.seconds = 12.5;  // no validation this epoch
  log.append(first);
  log.append(epoch(2));

  const auto csv = lines_of(fer::tools::read_file_bytes(log.csv_path()));
  REQUIRE(csv.size() == 3);
  CHECK(csv[0] == "epoch,lr,train_loss,train_acc,val_loss,val_acc,val_macro_f1,seconds,images_per_second");
  CHECK(csv[1] == "1,0.001,1.5,0.25,,,,12.5,");
  CHECK(csv[2].rfind("2,0.0009", 0) == 0);

  const auto jsonl = lines_of(fer::tools::read_file_bytes(log.jsonl_path()));
  REQUIRE(jsonl.size() == 2);
  const auto j = nlohmann::json::parse(jsonl[0]);
  CHECK(j["epoch"] == 1);
  CHECK(j["lr"].get<double>() == 0.001);
  CHECK(j["val_loss"].is_null());
  CHECK(j["val_macro_f1"].is_null());
  CHECK(nlohmann::json::parse(jsonl[1])["val_acc"].get<double>() == epoch(2).val_acc);
  CHECK(jsonl[0].rfind("{\"epoch\":1,\"lr\":", 0) == 0);  // keys in column order

  // No temp files left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(run)) files += e.is_regular_file();
  CHECK(files == 2);
}

TEST_CASE("run log: load round-trips every value exactly") {
  fer::test::TempDir dir;
  MetricsLog log(dir.path().string());
  for (int64_t e = 1; e <= 5; ++e) {
    EpochMetrics m = epoch(e);
    if (e == 3) m.val_loss = m.val_acc = m.val_macro_f1 = kNaN;
    log.append(m);
  }
  const MetricsLog back = MetricsLog::load(dir.path().string());
  REQUIRE(back.rows().size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    const EpochMetrics &a = log.rows()[i], &b = back.rows()[i];
    CHECK(a.epoch == b.epoch);
    CHECK(same(a.lr, b.lr));
    CHECK(same(a.train_loss, b.train_loss));
    CHECK(same(a.train_acc, b.train_acc));
    CHECK(same(a.val_loss, b.val_loss));
    CHECK(same(a.val_acc, b.val_acc));
    CHECK(same(a.val_macro_f1, b.val_macro_f1));
    CHECK(same(a.seconds, b.seconds));
  }
  CHECK(std::isnan(back.rows()[2].val_acc));

  // Resume: keep appending to the loaded log; truncate for an older checkpoint.
  MetricsLog resumed = MetricsLog::load(dir.path().string());
  CHECK_THROWS_AS(resumed.append(epoch(5)), fer::Error);
  resumed.truncate(3);
  CHECK(resumed.rows().size() == 3);
  CHECK(MetricsLog::load(dir.path().string()).rows().size() == 3);  // files rewritten
  resumed.append(epoch(4));
  CHECK(MetricsLog::load(dir.path().string()).rows().back().epoch == 4);
}

TEST_CASE("run log: load of a missing, reordered or malformed file") {
  fer::test::TempDir dir;
  CHECK(MetricsLog::load((dir / "fresh").string()).rows().empty());

  const std::string run = (dir / "custom").string();
  std::filesystem::create_directories(run);
  fer::tools::write_file_atomic(run + "/metrics.csv", "val_acc,epoch,extra\r\n0.5,1,x\r\n,2,y\r\n");
  const MetricsLog l = MetricsLog::load(run);
  REQUIRE(l.rows().size() == 2);
  CHECK(l.rows()[0].val_acc == 0.5);
  CHECK(std::isnan(l.rows()[0].train_loss));  // column absent
  CHECK(std::isnan(l.rows()[1].val_acc));     // empty field

  fer::tools::write_file_atomic(run + "/metrics.csv", "epoch,lr\n1,abc\n");
  CHECK_THROWS_WITH_AS(MetricsLog::load(run), doctest::Contains("metrics.csv:2"), fer::Error);
  fer::tools::write_file_atomic(run + "/metrics.csv", "lr\n0.1\n");
  CHECK_THROWS_WITH_AS(MetricsLog::load(run), doctest::Contains("epoch"), fer::Error);
  fer::tools::write_file_atomic(run + "/metrics.csv", "epoch,lr\n2,0.1\n1,0.1\n");
  CHECK_THROWS_AS(MetricsLog::load(run), fer::Error);
}

TEST_CASE("run log: write_training_curves gives a two-panel PNG") {
  fer::test::TempDir dir;
  MetricsLog log(dir.path().string());
  for (int64_t e = 1; e <= 12; ++e) log.append(epoch(e));
  const std::string png = (dir / "curves.png").string();
  fer::tools::write_training_curves(log, png);
  const auto d = fer::test::decode_png(fer::tools::read_file_bytes(png));
  REQUIRE(d.ok());
  CHECK(d.width == 1280);
  CHECK(d.height == 420);
  // Train curves in blue, validation in orange, macro-F1 in green, on both halves.
  CHECK(d.count(fer::tools::colors::kBlue) > 300);
  CHECK(d.count(fer::tools::colors::kOrange) > 300);
  CHECK(d.count(fer::tools::colors::kGreen) > 100);
  int left_blue = 0, right_blue = 0;
  for (int y = 0; y < d.height; ++y)
    for (int x = 0; x < d.width; ++x)
      if (d.at(x, y) == fer::tools::colors::kBlue) (x < 640 ? left_blue : right_blue)++;
  CHECK(left_blue > 100);
  CHECK(right_blue > 100);

  // An empty log still draws (empty axes).
  fer::tools::write_training_curves(MetricsLog((dir / "empty").string()), png);
  CHECK(fer::test::decode_png(fer::tools::read_file_bytes(png)).ok());
}
