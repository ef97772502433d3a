// tests/unit/test_data_csv.cpp: the FER2013 CSV reader on generated text: header variants, CRLF,
// quotes, BOM, missing Usage, every malformed row (file:line in the message), skip_bad, fer6, writer.
#include <doctest/doctest.h>

#include <cstring>

#include "data/fer_csv.h"
#include "kernels/common.h"
#include "tests/unit/test_data_fixtures.h"

using namespace fer::data;
using fer::test::csv_row;
using fer::test::pattern;
using fer::test::pixel_text;

namespace {
const std::string kHeader = "emotion,pixels,Usage";
std::string lines(std::initializer_list<std::string> rows, const std::string& eol = "\n") {
  std::string s;
  for (const auto& r : rows) s += r + eol;
  return s;
}
bool image_is(const Dataset& ds, int64_t i, int pattern_id) {
  return std::memcmp(ds.image(i), pattern(pattern_id).data(), kImagePixels) == 0;
}
}  // namespace

TEST_CASE("csv: a well-formed file gives labels, splits, pixels and file:line sources") {
  const std::string text =
      lines({kHeader, csv_row(0, 1, "Training"), csv_row(3, 2, "PublicTest"), csv_row(6, 3, "PrivateTest")});
  LoadReport rep;
  const Dataset ds = parse_fer_csv(text, "f.csv", {}, &rep);
  REQUIRE(ds.size() == 3);
  CHECK(ds.labels == std::vector<int32_t>{0, 3, 6});
  CHECK(ds.splits == std::vector<Split>{Split::training, Split::public_test, Split::private_test});
  CHECK(ds.sources == std::vector<std::string>{"f.csv:2", "f.csv:3", "f.csv:4"});
  CHECK(image_is(ds, 0, 1));
  CHECK(image_is(ds, 2, 3));
  CHECK(ds.classes.id == "fer7");
  CHECK(rep.loaded == 3);
  CHECK(rep.skipped_bad == 0);
  ds.validate();
}

TEST_CASE("csv: header variants, CRLF, BOM, quotes, blank lines, no final newline") {
  SUBCASE("spaces around names, other order, other case, extra column") {
    const std::string text = lines({" Emotion , Usage ,pixels , note", "5,Training," + pixel_text(pattern(4)) + ",hi"});
    LoadReport rep;
    const Dataset ds = parse_fer_csv(text, "h.csv", {}, &rep);
    REQUIRE(ds.size() == 1);
    CHECK(ds.labels[0] == 5);
    CHECK(ds.splits[0] == Split::training);
    CHECK(image_is(ds, 0, 4));
    REQUIRE(!rep.notes.empty());
    CHECK(rep.notes[0].find("'note' ignored") != std::string::npos);
  }
  SUBCASE("CRLF line ends and a UTF-8 BOM") {
    const std::string text = "\xEF\xBB\xBF" + lines({kHeader, csv_row(2, 5, "Training"), csv_row(1, 6, "PublicTest")}, "\r\n");
    const Dataset ds = parse_fer_csv(text, "crlf.csv");
    REQUIRE(ds.size() == 2);
    CHECK(ds.labels == std::vector<int32_t>{2, 1});
    CHECK(ds.splits[1] == Split::public_test);  // "PublicTest\r" must not leak the \r
    CHECK(image_is(ds, 1, 6));
  }
  SUBCASE("quoted fields, \"\" escapes and a newline inside quotes keep line numbers right") {
    const std::string text = lines({"emotion,pixels,Usage,comment", "\"4\",\"" + pixel_text(pattern(7)) + "\",\"Training\",\"a \"\"b\"\"\nc\"",
                                    "3, " + pixel_text(pattern(8)) + " ,Training,x"});
    const Dataset ds = parse_fer_csv(text, "q.csv");
    REQUIRE(ds.size() == 2);
    CHECK(ds.labels == std::vector<int32_t>{4, 3});
    CHECK(image_is(ds, 0, 7));
    CHECK(image_is(ds, 1, 8));
    CHECK(ds.sources[1] == "q.csv:4");  // the quoted newline used up line 3
  }
  SUBCASE("blank lines are skipped, a missing final newline is fine") {
    const std::string text = kHeader + "\n\n" + csv_row(1, 9, "Training") + "\n   \n" + csv_row(0, 10, "Training");
    const Dataset ds = parse_fer_csv(text, "b.csv");
    REQUIRE(ds.size() == 2);
    CHECK(ds.sources == std::vector<std::string>{"b.csv:3", "b.csv:5"});
  }
  SUBCASE("pixels separated by several spaces or tabs") {
    std::string px = pixel_text(pattern(11));
    px.replace(px.find(' '), 1, " \t  ");
    const Dataset ds = parse_fer_csv(lines({kHeader, "6,  " + px + "\t,Training"}), "t.csv");
    CHECK(image_is(ds, 0, 11));
  }
}

TEST_CASE("csv: a missing Usage column gives split unknown; an empty Usage value too") {
  LoadReport rep;
  const Dataset ds = parse_fer_csv(lines({"emotion,pixels", "3," + pixel_text(pattern(1))}), "nu.csv", {}, &rep);
  REQUIRE(ds.size() == 1);
  CHECK(ds.splits[0] == Split::unknown);
  bool noted = false;
  for (const auto& n : rep.notes) noted |= n.find("no Usage column") != std::string::npos;
  CHECK(noted);
  const Dataset ds2 = parse_fer_csv(lines({kHeader, csv_row(3, 1, "")}), "eu.csv");
  CHECK(ds2.splits[0] == Split::unknown);
}

TEST_CASE("csv: every malformed row is one error naming file:line and what was expected") {
  std::vector<uint8_t> short_px = pattern(1);
  short_px.pop_back();  // 2,303 values
  std::vector<uint8_t> long_px = pattern(1);
  long_px.push_back(0);  // 2,305 values
  const std::string good = pixel_text(pattern(1));
  const std::string v256 = "256" + good.substr(good.find(' '));
  const std::string alpha = good.substr(0, good.rfind(' ')) + " 1a";
  const std::string neg = "-1" + good.substr(good.find(' '));
  struct Case {
    std::string row, expected;
  };
  const Case cases[] = {
      {"0," + pixel_text(short_px) + ",Training", "bad.csv:3: pixels holds 2303 values, expected 2304 (48x48)"},
      {"0," + pixel_text(long_px) + ",Training", "bad.csv:3: pixels holds 2305 values, expected 2304"},
      {"0," + v256 + ",Training", "bad.csv:3: pixel 0 is 256, expected an integer 0..255"},
      {"0," + alpha + ",Training", "bad.csv:3: pixel 2303 is '1a', expected an integer 0..255"},
      {"0," + neg + ",Training", "bad.csv:3: pixel 0 is '-1', expected an integer 0..255"},
      {"9," + good + ",Training", "bad.csv:3: emotion is '9', expected an integer 0..6 (0 angry"},
      {"x," + good + ",Training", "bad.csv:3: emotion is 'x', expected an integer 0..6"},
      {"," + good + ",Training", "bad.csv:3: emotion is '', expected an integer 0..6"},
      {"0," + good, "bad.csv:3: row has 2 fields, the header has 3 (expected emotion,pixels,Usage)"},
      {"0," + good + ",Training,extra", "bad.csv:3: row has 4 fields, the header has 3"},
      {"0," + good + ",Validation", "bad.csv:3: Usage is 'Validation', expected Training, PublicTest or PrivateTest"},
      {"0,\"" + good + ",Training", "bad.csv:3: a quoted field is not closed"},
      {"0,,Training", "bad.csv:3: pixels holds 0 values, expected 2304"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.expected);
    const std::string text = lines({kHeader, csv_row(1, 1, "Training"), c.row, csv_row(2, 2, "Training")});
    CHECK_THROWS_WITH_AS(parse_fer_csv(text, "bad.csv"), doctest::Contains(c.expected.c_str()), fer::Error);
  }
}

TEST_CASE("csv: header problems and empty files are clear errors") {
  CHECK_THROWS_WITH_AS(parse_fer_csv("", "e.csv"), doctest::Contains("e.csv: the file is empty"), fer::Error);
  CHECK_THROWS_WITH_AS(parse_fer_csv(lines({"emotion,Usage", "0,Training"}), "np.csv"),
                       doctest::Contains("np.csv:1: header 'emotion,Usage' does not name the columns emotion and pixels"),
                       fer::Error);
  CHECK_THROWS_WITH_AS(parse_fer_csv(std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\n\x01\x02", 14), "img.csv"),
                       doctest::Contains("img.csv:1: header '????\?\?JFIF?' does not name"), fer::Error);
  CHECK_THROWS_WITH_AS(parse_fer_csv(lines({"emotion,pixels,emotion"}), "dup.csv"),
                       doctest::Contains("dup.csv:1: header names column 'emotion' twice"), fer::Error);
  CHECK_THROWS_WITH_AS(parse_fer_csv(lines({kHeader}), "only.csv"), doctest::Contains("only.csv: no images"), fer::Error);
  CHECK_THROWS_WITH_AS(read_fer_csv("/nonexistent/fer.csv"), doctest::Contains("cannot open '/nonexistent/fer.csv'"),
                       fer::Error);
}

TEST_CASE("csv: skip_bad skips, counts and keeps the first messages in file order") {
  std::vector<uint8_t> short_px = pattern(1);
  short_px.pop_back();
  const std::string text = lines({kHeader, csv_row(1, 1, "Training"), "9," + pixel_text(pattern(2)) + ",Training",
                                  "0," + pixel_text(short_px) + ",Training", csv_row(2, 3, "PublicTest"),
                                  "3," + pixel_text(pattern(4)) + ",Nope"});
  LoadOptions opt;
  opt.skip_bad = true;
  opt.max_messages = 2;
  LoadReport rep;
  const Dataset ds = parse_fer_csv(text, "s.csv", opt, &rep);
  CHECK(ds.size() == 2);
  CHECK(ds.sources == std::vector<std::string>{"s.csv:2", "s.csv:5"});
  CHECK(image_is(ds, 1, 3));
  CHECK(rep.loaded == 2);
  CHECK(rep.skipped_bad == 3);
  REQUIRE(rep.messages.size() == 3);
  CHECK(rep.messages[0].rfind("s.csv:3: emotion is '9'", 0) == 0);
  CHECK(rep.messages[1].rfind("s.csv:4: pixels holds 2303 values", 0) == 0);
  CHECK(rep.messages[2] == "... and 1 more");
}

TEST_CASE("csv: fer6 drops disgust and renumbers; results do not depend on the thread count") {
  std::vector<std::string> rows = {kHeader};
  for (int i = 0; i < 70; ++i) rows.push_back(csv_row(i % 7, i, i % 3 ? "Training" : "PublicTest"));
  std::string text;
  for (const auto& r : rows) text += r + "\n";
  LoadOptions opt;
  opt.classes = fer6_classes();
  LoadReport rep;
  const Dataset ds = parse_fer_csv(text, "six.csv", opt, &rep);
  CHECK(ds.size() == 60);
  CHECK(rep.dropped_class == 10);
  CHECK(ds.classes.id == "fer6");
  CHECK(ds.classes.names == std::vector<std::string>{"angry", "fear", "happy", "sad", "surprise", "neutral"});
  CHECK(ds.labels[0] == 0);  // row 0: angry
  CHECK(ds.labels[1] == 1);  // row 2: fear (fer7 2 -> fer6 1); row 1 (disgust) was dropped
  CHECK(ds.sources[1] == "six.csv:4");
  CHECK(ds.labels[5] == 5);  // row 6: neutral
  LoadOptions one;
  one.threads = 1;
  const Dataset a = parse_fer_csv(text, "six.csv", one);
  LoadOptions two;
  two.threads = 2;
  const Dataset b = parse_fer_csv(text, "six.csv", two);
  CHECK(a.pixels == b.pixels);
  CHECK(a.labels == b.labels);
  CHECK(a.sources == b.sources);
}

TEST_CASE("csv: write_fer_csv round-trips, writing fer7 labels whatever the class set") {
  fer::test::TempDir dir;
  std::string text = kHeader + "\n";
  for (int i = 0; i < 14; ++i) text += csv_row(i % 7, 20 + i, i < 7 ? "Training" : "PrivateTest") + "\n";
  const Dataset ds7 = parse_fer_csv(text, "in.csv");
  write_fer_csv(ds7, dir / "out7.csv");
  const Dataset back = read_fer_csv(dir / "out7.csv");
  CHECK(back.pixels == ds7.pixels);
  CHECK(back.labels == ds7.labels);
  CHECK(back.splits == ds7.splits);
  CHECK(back.sources[0] == (dir / "out7.csv").string() + ":2");

  const Dataset ds6 = to_class_set(ds7, fer6_classes());
  write_fer_csv(ds6, dir / "out6.csv");
  const Dataset back7 = read_fer_csv(dir / "out6.csv");
  CHECK(back7.size() == 12);
  CHECK(back7.labels[1] == 2);  // fear is written as its fer7 index
  const Dataset loaded = load_dataset(dir / "out6.csv");
  CHECK(loaded.pixels == back7.pixels);
}

TEST_CASE("csv: short and blank lines cost no pixel buffer; slots map back to the right rows (fuzz regression)") {
  // Rows too short to hold 2,304 values get no pixel slot: before, every line reserved 2,304
  // bytes, so a small file of newlines asked for gigabytes (1M lines -> 2.3 GB, zero-filled).
  SUBCASE("a million blank lines after the header") {
    const std::string text = kHeader + "\n" + std::string(1000000, '\n') + csv_row(4, 7, "Training") + "\n";
    const Dataset ds = parse_fer_csv(text, "blank.csv");
    REQUIRE(ds.size() == 1);
    CHECK(ds.labels[0] == 4);
    CHECK(ds.sources[0] == "blank.csv:1000002");
    CHECK(image_is(ds, 0, 7));
  }
  SUBCASE("short bad rows between good ones, skip_bad") {
    const std::string text = lines({kHeader, "0", csv_row(1, 2, "Training"), "3,1 2 3,Training", "", " \t",
                                    csv_row(5, 3, "PublicTest"), "x"});
    LoadOptions opt;
    opt.skip_bad = true;
    opt.threads = 2;
    LoadReport rep;
    const Dataset ds = parse_fer_csv(text, "mix.csv", opt, &rep);
    REQUIRE(ds.size() == 2);
    CHECK(rep.skipped_bad == 3);
    CHECK(ds.sources == std::vector<std::string>{"mix.csv:3", "mix.csv:7"});
    CHECK(image_is(ds, 0, 2));
    CHECK(image_is(ds, 1, 3));
    REQUIRE(rep.messages.size() >= 2);
    CHECK(rep.messages[0].find("mix.csv:2: row has 1 fields") == 0);
    CHECK(rep.messages[1].find("mix.csv:4: pixels holds 3 values") == 0);
  }
  SUBCASE("only blank and short lines: no images, a clear error") {
    LoadOptions opt;
    opt.skip_bad = true;
    LoadReport rep;
    CHECK_THROWS_WITH_AS(parse_fer_csv(kHeader + "\n1\n\n2\n", "s.csv", opt, &rep), doctest::Contains("s.csv: no images"),
                         fer::Error);
  }
}
