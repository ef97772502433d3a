// nn/metrics: confusion matrix, precision/recall/F1, averages, report formats, top-k accuracy.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/common.h"
#include "nn/metrics.h"

using namespace fer;
using doctest::Approx;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const fer::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

// Hand-computed example, 4 classes a, b, c, d (d never occurs as a target but is predicted once).
//   targets      0 0 0 1 1 2 2 2 2 0
//   predictions  0 0 1 1 2 2 2 0 3 0
// Confusion (rows true, columns predicted):   a  b  c  d   support
//                                         a   3  1  0  0   4
//                                         b   0  1  1  0   2
//                                         c   1  0  2  1   4
//                                         d   0  0  0  0   0
//                               predicted:    4  2  3  1
//   a: P 3/4, R 3/4, F1 3/4          b: P 1/2, R 1/2, F1 1/2
//   c: P 2/3, R 2/4, F1 2*(2/3)(1/2)/(2/3+1/2) = 4/7     d: P 0/1 = 0, R 0 (no support), F1 0
//   accuracy 6/10; macro F1 (3/4 + 1/2 + 4/7 + 0)/4 = 51/112 = 0.455357142857
//   weighted F1 (4*3/4 + 2*1/2 + 4*4/7)/10 = 0.628571428571
//   macro P (3/4 + 1/2 + 2/3 + 0)/4 = 23/48 = 0.479166666667, macro R (3/4 + 1/2 + 1/2 + 0)/4 = 0.4375
//   weighted P (3 + 1 + 8/3)/10 = 2/3, weighted R = accuracy = 0.6
//   balanced accuracy: mean recall over classes with support (3/4 + 1/2 + 1/2)/3 = 7/12 = 0.583333333333
// These are sklearn's numbers: f1_score(y, p, labels=[0,1,2,3], average="macro"/"weighted",
// zero_division=0), precision_score/recall_score likewise, balanced_accuracy_score(y, p) (which drops
// the class with no true samples, with a warning).
TEST_CASE("metrics: confusion matrix and report against hand-computed sklearn values") {
  const std::vector<int32_t> y = {0, 0, 0, 1, 1, 2, 2, 2, 2, 0};
  const std::vector<int32_t> p = {0, 0, 1, 1, 2, 2, 2, 0, 3, 0};
  const nn::ConfusionMatrix expected = {{3, 1, 0, 0}, {0, 1, 1, 0}, {1, 0, 2, 1}, {0, 0, 0, 0}};
  CHECK(nn::confusion_matrix(y, p, 4) == expected);

  const auto r = nn::classification_report(y, p, {"a", "b", "c", "d"});
  CHECK(r.confusion == expected);
  CHECK(r.num_samples == 10);
  CHECK(r.accuracy == Approx(0.6));
  REQUIRE(r.per_class.size() == 4);
  CHECK(r.per_class[0].precision == Approx(0.75));
  CHECK(r.per_class[0].recall == Approx(0.75));
  CHECK(r.per_class[0].f1 == Approx(0.75));
  CHECK(r.per_class[0].support == 4);
  CHECK(r.per_class[1].f1 == Approx(0.5));
  CHECK(r.per_class[2].precision == Approx(2.0 / 3.0));
  CHECK(r.per_class[2].recall == Approx(0.5));
  CHECK(r.per_class[2].f1 == Approx(4.0 / 7.0));
  CHECK(r.per_class[2].predicted == 3);
  CHECK(r.per_class[3].precision == 0.0);
  CHECK(r.per_class[3].recall == 0.0);
  CHECK(r.per_class[3].f1 == 0.0);
  CHECK(r.per_class[3].support == 0);
  CHECK(r.macro_f1 == Approx(0.455357142857));
  CHECK(r.weighted_f1 == Approx(0.628571428571));
  CHECK(r.macro_precision == Approx(0.479166666667));
  CHECK(r.macro_recall == Approx(0.4375));
  CHECK(r.weighted_precision == Approx(2.0 / 3.0));
  CHECK(r.weighted_recall == Approx(0.6));
  CHECK(r.balanced_accuracy == Approx(0.583333333333));
  REQUIRE(r.notes.size() == 1);
  CHECK(contains(r.notes[0], "class 'd' has no true samples"));

  // The sklearn-like table: right-aligned names in a 12-wide column, 10-wide numeric columns.
  const std::string text = nn::format_report(r);
  INFO(text);
  CHECK(contains(text, "             precision    recall  f1-score   support\n\n"));
  CHECK(contains(text, "           a     0.7500    0.7500    0.7500         4\n"));
  CHECK(contains(text, "           c     0.6667    0.5000    0.5714         4\n"));
  CHECK(contains(text, "           d     0.0000    0.0000    0.0000         0\n"));
  CHECK(contains(text, "    accuracy                         0.6000        10\n"));
  CHECK(contains(text, "   macro avg     0.4792    0.4375    0.4554        10\n"));
  CHECK(contains(text, "weighted avg     0.6667    0.6000    0.6286        10\n"));
  CHECK(contains(text, "balanced accuracy 0.5833"));
  CHECK(contains(text, "note: class 'd' has no true samples"));

  const nlohmann::json j = nn::report_to_json(r);
  CHECK(j["accuracy"].get<double>() == Approx(0.6));
  CHECK(j["macro_f1"].get<double>() == Approx(0.455357142857));
  CHECK(j["per_class"][2]["name"] == "c");
  CHECK(j["per_class"][2]["f1"].get<double>() == Approx(4.0 / 7.0));
  CHECK(j["per_class"][3]["support"] == 0);
  CHECK(j["confusion"][2][3] == 1);
  CHECK(j["class_names"] == nlohmann::json({"a", "b", "c", "d"}));
  CHECK_FALSE(contains(j.dump(), "null"));  // no NaN anywhere

  CHECK(nn::confusion_to_csv(r) == "true\\predicted,a,b,c,d\na,3,1,0,0\nb,0,1,1,0\nc,1,0,2,1\nd,0,0,0,0\n");
  CHECK(nn::confusion_to_csv({{1}}, {"x,\"y\""}) == "true\\predicted,\"x,\"\"y\"\"\"\n\"x,\"\"y\"\"\",1\n");
}

TEST_CASE("metrics: the row-normalized confusion CSV, empty cells for a class with no samples") {
  const nn::ConfusionMatrix m = {{3, 1, 0}, {0, 0, 0}, {1, 1, 1}};
  CHECK(nn::confusion_to_csv_normalized(m, {"a", "b", "c,d"}) ==
        "true\\predicted,a,b,\"c,d\"\n"
        "a,0.7500,0.2500,0.0000\n"
        "b,,,\n"
        "\"c,d\",0.3333,0.3333,0.3333\n");
  CHECK(contains(error_of([] { (void)nn::confusion_to_csv_normalized({{1}}, {"a", "b"}); }),
                 "confusion_to_csv_normalized: 1 rows but 2 class names"));
  CHECK(contains(error_of([] { (void)nn::confusion_to_csv_normalized({{1}, {1, 2}}, {"a", "b"}); }),
                 "row 0 has 1 columns, expected 2"));
}

TEST_CASE("metrics: a never-predicted class gets precision 0 and a note, not NaN") {
  // targets 0 1, predictions 0 0: x P 1/2 R 1 F1 2/3; y P 0/0 -> 0, R 0, F1 0.
  const auto r = nn::classification_report({0, 1}, {0, 0}, {"x", "y"});
  CHECK(r.per_class[0].f1 == Approx(2.0 / 3.0));
  CHECK(r.per_class[1].precision == 0.0);
  CHECK_FALSE(std::isnan(r.per_class[1].f1));
  CHECK(r.macro_f1 == Approx(1.0 / 3.0));
  CHECK(r.balanced_accuracy == Approx(0.5));
  REQUIRE(r.notes.size() == 1);
  CHECK(contains(r.notes[0], "class 'y' was never predicted"));
}

TEST_CASE("metrics: top-k accuracy with ties broken by class index") {
  // row 0: target 2 ranks second behind class 1; row 1: target 1 ties class 0, which comes first;
  // row 2: target 0 is the maximum.
  const std::vector<int32_t> y = {2, 1, 0};
  const std::vector<float> s = {0.1f, 0.7f, 0.2f, 0.5f, 0.5f, 0.0f, 0.9f, 0.05f, 0.05f};
  CHECK(nn::top_k_accuracy(y, s, 1) == Approx(1.0 / 3.0));
  CHECK(nn::top_k_accuracy(y, s, 2) == Approx(1.0));
  CHECK(nn::top_k_accuracy(y, s, 3) == Approx(1.0));
  CHECK(nn::top_k_accuracy({0}, {NAN, 0.f}, 2) == 0.0);
  CHECK(contains(error_of([&] { (void)nn::top_k_accuracy(y, s, 4); }), "k = 4 must lie in [1, 3]"));
  CHECK(contains(error_of([&] { (void)nn::top_k_accuracy(y, {1.f, 2.f}, 1); }), "not N x K"));
}

TEST_CASE("metrics: out-of-range labels and mismatched lengths are errors") {
  CHECK(contains(error_of([] { (void)nn::confusion_matrix({0, 3}, {0, 1}, 3); }), "target 3 at sample 1"));
  CHECK(contains(error_of([] { (void)nn::confusion_matrix({0}, {-1}, 3); }), "prediction -1 at sample 0"));
  CHECK(contains(error_of([] { (void)nn::confusion_matrix({0, 1}, {0}, 3); }), "2 targets but 1 predictions"));
  CHECK(contains(error_of([] { (void)nn::classification_report({}, {}, {"a"}); }), "no samples"));
}
