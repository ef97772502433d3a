// tests/unit/test_report_html.cpp: the self-contained HTML run report (tools/common/report_html.h):
// escaping, base64 (RFC 4648 vectors), embedded images, the epoch table, atomic write.
#include <doctest/doctest.h>

#include <limits>

#include "kernels/common.h"
#include "tests/unit/test_data_fixtures.h"
#include "tools/common/atomic_file.h"
#include "tools/common/png_canvas.h"
#include "tools/common/report_html.h"

using fer::tools::RunReport;

namespace {
size_t occurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("report html: base64 and escaping") {
  using fer::tools::base64_encode;
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
  CHECK(fer::tools::html_escape("<a href=\"x\">Tom & Jerry's</a>") ==
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
}

TEST_CASE("report html: one self-contained page with escaped text, images and epochs") {
  fer::test::TempDir dir;
  fer::tools::Canvas chart(20, 10, fer::tools::Rgb{255, 255, 255});
  chart.fill_rect(2, 2, 5, 5, fer::tools::colors::kBlue);
  const std::string png = (dir / "curves.png").string();
  chart.save_png(png);

  RunReport r;
  r.title = "cnn6 <run> & \"friends\"";
  r.config = {{"model", "cnn6"}, {"lr", 0.001}, {"note", "<b>not bold</b>"}};
  for (int64_t e = 1; e <= 3; ++e) {
    fer::tools::EpochMetrics m;
    m.epoch = e;
    m.lr = 0.001;
    m.train_loss = 1.0 / static_cast<double>(e);
    m.train_acc = 0.3 + 0.1 * static_cast<double>(e);
    m.val_acc = e == 2 ? 0.61 : 0.5;  // epoch 2 is the best
    m.seconds = 10;
    r.epochs.push_back(m);
  }
  r.classification_text = "class  precision\nHappy  0.80 <top>\n";
  r.images = {{"Training curves & more", png}};
  r.facts = {{"device", "cuda:0 (H100)"}, {"parameters", "1,234,567"}};

  const std::string html = fer::tools::render_report_html(r);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("cnn6 &lt;run&gt; &amp; &quot;friends&quot;") != std::string::npos);
  CHECK(html.find("<run>") == std::string::npos);
  CHECK(html.find("<b>not bold</b>") == std::string::npos);
  CHECK(html.find("&lt;b&gt;not bold&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("Happy  0.80 &lt;top&gt;") != std::string::npos);
  CHECK(html.find("Training curves &amp; more") != std::string::npos);
  CHECK(html.find("cuda:0 (H100)") != std::string::npos);
  // The image embedded in full, no reference to the file.
  const std::string b64 = fer::tools::base64_encode(fer::tools::read_file_bytes(png));
  CHECK(html.find("src=\"data:image/png;base64," + b64 + "\"") != std::string::npos);
  CHECK(html.find(png) == std::string::npos);
  // Epoch table: header + 3 rows, the best one marked, missing values as a dash.
  CHECK(occurrences(html, "<tr><td>") + occurrences(html, "<tr class=\"best\"><td>") == 3);
  CHECK(html.find("<tr class=\"best\"><td>2</td>") != std::string::npos);
  CHECK(html.find("<td>1</td><td>0.001</td><td>1.0000</td><td>0.4000</td><td>&ndash;</td>") != std::string::npos);

  const std::string out = (dir / "report.html").string();
  fer::tools::write_report_html(r, out);
  CHECK(fer::tools::read_file_bytes(out) == html);
}

TEST_CASE("report html: empty sections are left out; bad images are errors") {
  fer::test::TempDir dir;
  RunReport r;
  r.title = "t";
  const std::string html = fer::tools::render_report_html(r);
  CHECK(html.find("<h2>") == std::string::npos);
  CHECK(html.find("</html>") != std::string::npos);

  r.images = {{"missing", (dir / "nope.png").string()}};
  CHECK_THROWS_AS(fer::tools::render_report_html(r), fer::Error);
  fer::tools::write_file_atomic((dir / "text.png").string(), "not a png");
  r.images = {{"text", (dir / "text.png").string()}};
  CHECK_THROWS_WITH_AS(fer::tools::render_report_html(r), doctest::Contains("not a PNG"), fer::Error);
}
