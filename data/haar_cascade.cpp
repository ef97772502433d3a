// data/haar_cascade.cpp: see haar_cascade.h. The XML reader handles what OpenCV's cascade files
// use: elements, text, comments and the <?xml?> declaration (attributes are skipped).
#include "data/haar_cascade.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "data/image_io.h"
#include "kernels/common.h"

namespace fer::data {

namespace {

struct XmlNode {
  std::string name, text;
  std::vector<std::unique_ptr<XmlNode>> children;
  const XmlNode* child(const std::string& n) const {
    for (const auto& c : children)
      if (c->name == n) return c.get();
    return nullptr;
  }
};

class XmlReader {
 public:
  XmlReader(const std::string& s, const std::string& what) : s_(s), what_(what) {}

  std::unique_ptr<XmlNode> document() {
    auto root = std::make_unique<XmlNode>();
    root->name = "(document)";
    skip_misc();
    while (i_ < s_.size()) {
      root->children.push_back(element());
      skip_misc();
    }
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    int line = 1;
    for (size_t k = 0; k < i_ && k < s_.size(); ++k) line += s_[k] == '\n';
    FER_FAIL(what_ << ":" << line << ": " << why);
  }
  bool starts(const char* p) const { return s_.compare(i_, std::char_traits<char>::length(p), p) == 0; }
  // whitespace, comments, declarations
  void skip_misc() {
    for (;;) {
      while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (starts("<!--")) {
        const size_t e = s_.find("-->", i_ + 4);
        if (e == std::string::npos) fail("unterminated comment");
        i_ = e + 3;
      } else if (starts("<?") || starts("<!")) {
        const size_t e = s_.find('>', i_);
        if (e == std::string::npos) fail("unterminated declaration");
        i_ = e + 1;
      } else {
        return;
      }
    }
  }
  std::unique_ptr<XmlNode> element() {
    if (i_ >= s_.size() || s_[i_] != '<') fail("expected an element");
    ++i_;
    auto node = std::make_unique<XmlNode>();
    while (i_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[i_])) && s_[i_] != '>' && s_[i_] != '/')
      node->name += s_[i_++];
    if (node->name.empty()) fail("an element without a name");
    const size_t close = s_.find('>', i_);  // attributes are skipped
    if (close == std::string::npos) fail("unterminated tag <" + node->name);
    const bool empty = s_[close - 1] == '/';
    i_ = close + 1;
    if (empty) return node;
    if (++depth_ > 64) fail("elements nested deeper than 64");
    for (;;) {
      if (i_ >= s_.size()) fail("<" + node->name + "> is not closed");
      if (starts("<!--")) {
        skip_misc();
      } else if (starts("</")) {
        const size_t e = s_.find('>', i_);
        if (e == std::string::npos) fail("unterminated closing tag");
        const std::string name = s_.substr(i_ + 2, e - i_ - 2);
        if (name != node->name) fail("<" + node->name + "> closed by </" + name + ">");
        i_ = e + 1;
        --depth_;
        return node;
      } else if (s_[i_] == '<') {
        node->children.push_back(element());
      } else {
        while (i_ < s_.size() && s_[i_] != '<') node->text += s_[i_++];
      }
    }
  }

  const std::string& s_;
  std::string what_;
  size_t i_ = 0;
  int depth_ = 0;
};

// The children named "_" (OpenCV's sequence items) of `list`.
std::vector<const XmlNode*> items(const XmlNode& list) {
  std::vector<const XmlNode*> v;
  for (const auto& c : list.children)
    if (c->name == "_") v.push_back(c.get());
  return v;
}

std::vector<double> numbers(const std::string& text, const std::string& where) {
  std::vector<double> v;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    char* end = nullptr;
    const double d = std::strtod(tok.c_str(), &end);
    FER_CHECK(end != tok.c_str() && *end == '\0' && std::isfinite(d), where << ": '" << tok << "' is not a number");
    v.push_back(d);
  }
  return v;
}

// v as an int when it is a whole number in [lo, hi]; else a fer::Error naming `what` (the file's
// numbers are read as doubles: a cast of anything else would be undefined)
int whole(double v, double lo, double hi, const std::string& where, const char* what) {
  FER_CHECK(v == std::floor(v) && v >= lo && v <= hi,
            where << ": " << what << " " << v << " must be a whole number in [" << lo << ", " << hi << "]");
  return static_cast<int>(v);
}

}  // namespace

HaarCascade parse_haar_cascade(const std::string& xml, const std::string& what) {
  const std::unique_ptr<XmlNode> doc = XmlReader(xml, what).document();
  const XmlNode* top = doc->children.empty() ? nullptr : doc->children.front().get();
  const XmlNode* c = top ? top->child("cascade") : nullptr;
  if (top && top->name == "cascade") c = top;
  FER_CHECK(c != nullptr, what << ": no <cascade> element; expected an OpenCV cascade classifier XML "
                               << "(opencv_traincascade's format, e.g. /usr/share/opencv4/haarcascades/*.xml)");
  auto need = [&](const XmlNode& parent, const char* name) -> const XmlNode& {
    const XmlNode* n = parent.child(name);
    FER_CHECK(n != nullptr, what << ": <" << parent.name << "> has no <" << name << ">");
    return *n;
  };
  auto trimmed = [](std::string s) {
    const size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  FER_CHECK(trimmed(need(*c, "stageType").text) == "BOOST",
            what << ": stageType " << trimmed(need(*c, "stageType").text) << ", expected BOOST");
  FER_CHECK(trimmed(need(*c, "featureType").text) == "HAAR",
            what << ": featureType " << trimmed(need(*c, "featureType").text)
                 << ", expected HAAR (LBP and HOG cascades are not supported)");
  HaarCascade h;
  h.source = what;
  auto one = [&](const char* name) {
    const std::vector<double> v = numbers(need(*c, name).text, what + ": <" + name + ">");
    FER_CHECK(v.size() == 1, what << ": <" << name << "> needs one number");
    return whole(v[0], 3, 256, what, name);
  };
  h.window_w = one("width");
  h.window_h = one("height");

  const std::vector<const XmlNode*> feature_items = items(need(*c, "features"));
  for (size_t j = 0; j < feature_items.size(); ++j) {
    const std::string where = what + ": feature " + std::to_string(j);
    FER_CHECK(feature_items[j]->child("tilted") == nullptr ||
                  trimmed(feature_items[j]->child("tilted")->text) == "0",
              where << " is tilted (45-degree features are not supported; the frontal-face cascades have none)");
    HaarFeature f;
    for (const XmlNode* r : items(need(*feature_items[j], "rects"))) {
      const std::vector<double> v = numbers(r->text, where);
      FER_CHECK(v.size() == 5, where << ": a rectangle needs 'x y w h weight', got " << v.size() << " numbers");
      // every bound in double before any cast: a rectangle inside the window
      FER_CHECK(v[0] >= 0 && v[1] >= 0 && v[2] >= 1 && v[3] >= 1 && v[0] + v[2] <= h.window_w &&
                    v[1] + v[3] <= h.window_h,
                where << ": rectangle " << v[0] << "," << v[1] << " " << v[2] << "x" << v[3]
                      << " is not inside the " << h.window_w << "x" << h.window_h << " window");
      HaarRect rect{whole(v[0], 0, h.window_w, where, "x"), whole(v[1], 0, h.window_h, where, "y"),
                    whole(v[2], 1, h.window_w, where, "width"), whole(v[3], 1, h.window_h, where, "height"),
                    static_cast<float>(v[4])};
      f.rects.push_back(rect);
    }
    FER_CHECK(f.rects.size() >= 1 && f.rects.size() <= 3, where << ": " << f.rects.size() << " rectangles, expected 1-3");
    h.features.push_back(std::move(f));
  }

  const std::vector<const XmlNode*> stage_items = items(need(*c, "stages"));
  FER_CHECK(!stage_items.empty(), what << ": no stages");
  for (size_t k = 0; k < stage_items.size(); ++k) {
    const std::string where = what + ": stage " + std::to_string(k);
    HaarStage stage;
    const std::vector<double> t = numbers(need(*stage_items[k], "stageThreshold").text, where);
    FER_CHECK(t.size() == 1, where << ": stageThreshold needs one number");
    // OpenCV lowers every stage threshold by 1e-5 (THRESHOLD_EPS) when it reads it
    stage.threshold = static_cast<float>(t[0]) - 1e-5f;
    for (const XmlNode* w : items(need(*stage_items[k], "weakClassifiers"))) {
      const std::vector<double> in = numbers(need(*w, "internalNodes").text, where);
      const std::vector<double> leaves = numbers(need(*w, "leafValues").text, where);
      FER_CHECK(!in.empty() && in.size() % 4 == 0, where << ": internalNodes holds " << in.size()
                                                         << " numbers, expected groups of 'left right feature threshold'");
      HaarWeak weak;
      for (double l : leaves) weak.leaves.push_back(static_cast<float>(l));
      FER_CHECK(in.size() / 4 <= 1024 && !leaves.empty() && leaves.size() <= 1025,
                where << ": a weak classifier of " << in.size() / 4 << " nodes and " << leaves.size() << " leaves");
      const int n_nodes = static_cast<int>(in.size() / 4);
      const double n_leaves = static_cast<double>(weak.leaves.size());
      for (int n = 0; n < n_nodes; ++n) {
        for (double next : {in[4 * n], in[4 * n + 1]})  // a later node (> 0) or a leaf (-index <= 0)
          FER_CHECK(next == std::floor(next) && (next > 0 ? (next > n && next < n_nodes) : -next < n_leaves),
                    where << ": a node points to " << (next > 0 ? "node " : "leaf ") << std::fabs(next) << " of "
                          << (next > 0 ? n_nodes : static_cast<int>(n_leaves)));
        FER_CHECK(in[4 * n + 2] >= 0 && in[4 * n + 2] < static_cast<double>(h.features.size()),
                  where << ": a node names feature " << in[4 * n + 2] << " of " << h.features.size());
        HaarNode node{static_cast<int>(in[4 * n]), static_cast<int>(in[4 * n + 1]),
                      whole(in[4 * n + 2], 0, static_cast<double>(h.features.size()) - 1, where, "feature"),
                      static_cast<float>(in[4 * n + 3])};
        weak.nodes.push_back(node);
      }
      stage.weak.push_back(std::move(weak));
    }
    FER_CHECK(!stage.weak.empty(), where << ": no weak classifiers");
    h.stages.push_back(std::move(stage));
  }
  return h;
}

HaarCascade load_haar_cascade(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_haar_cascade(std::string(bytes.begin(), bytes.end()), path);
}

IntegralImage integral_image(const uint8_t* pixels, int w, int h) {
  IntegralImage ii;
  ii.w = w;
  ii.h = h;
  const size_t s = static_cast<size_t>(w) + 1;
  ii.sum.assign(s * (static_cast<size_t>(h) + 1), 0);
  ii.sqsum.assign(ii.sum.size(), 0);
  for (int y = 0; y < h; ++y) {
    int64_t row = 0, row_sq = 0;
    for (int x = 0; x < w; ++x) {
      const int64_t v = pixels[static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x)];
      row += v;
      row_sq += v * v;
      const size_t at = (static_cast<size_t>(y) + 1) * s + static_cast<size_t>(x) + 1;
      ii.sum[at] = ii.sum[at - s] + row;
      ii.sqsum[at] = ii.sqsum[at - s] + row_sq;
    }
  }
  return ii;
}

int haar_window_stages(const HaarCascade& c, const IntegralImage& ii, int x, int y) {
  // variance normalisation over the window minus a one-pixel border; a window of little contrast
  // (standard deviation <= 10 grey levels: nf = A sigma <= 10 A, or flat) is rejected before any
  // stage, as OpenCV's HaarEvaluator::setWindow does
  const int nw = c.window_w - 2, nh = c.window_h - 2;
  const double area = static_cast<double>(nw) * nh;
  const double s = static_cast<double>(ii.rect(x + 1, y + 1, nw, nh));
  const double q = static_cast<double>(ii.rect_sq(x + 1, y + 1, nw, nh));
  double nf = area * q - s * s;
  if (!(nf > 0)) return -1;
  nf = std::sqrt(nf);
  if (!(area / nf < 0.1)) return -1;
  const double inv_nf = 1.0 / nf;
  auto feature = [&](int j) {
    double f = 0;
    for (const HaarRect& r : c.features[static_cast<size_t>(j)].rects)
      f += r.weight * static_cast<double>(ii.rect(x + r.x, y + r.y, r.w, r.h));
    return f * inv_nf;
  };
  for (size_t k = 0; k < c.stages.size(); ++k) {
    const HaarStage& stage = c.stages[k];
    double sum = 0;
    for (const HaarWeak& w : stage.weak) {
      int idx = 0;
      do {
        const HaarNode& n = w.nodes[static_cast<size_t>(idx)];
        idx = feature(n.feature) < n.threshold ? n.left : n.right;
      } while (idx > 0);
      sum += w.leaves[static_cast<size_t>(-idx)];
    }
    if (sum < stage.threshold) return static_cast<int>(k);
  }
  return static_cast<int>(c.stages.size());
}

}  // namespace fer::data
