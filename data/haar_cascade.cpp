// data/haar_cascade.cpp: see haar_cascade.h. The XML reader handles what OpenCV's cascade files
// use: elements, text, comments and the <?xml?> declaration (attributes are skipped).
#include "data/haar_cascade.h"

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
  h.window_w = std::atoi(need(*c, "width").text.c_str());
  h.window_h = std::atoi(need(*c, "height").text.c_str());
  FER_CHECK(h.window_w >= 3 && h.window_h >= 3 && h.window_w <= 256 && h.window_h <= 256,
            what << ": window " << h.window_w << "x" << h.window_h << " out of range");

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
      HaarRect rect{static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2]), static_cast<int>(v[3]),
                    static_cast<float>(v[4])};
      FER_CHECK(rect.x >= 0 && rect.y >= 0 && rect.w > 0 && rect.h > 0 && rect.x + rect.w <= h.window_w &&
                    rect.y + rect.h <= h.window_h,
                where << ": rectangle " << rect.x << "," << rect.y << " " << rect.w << "x" << rect.h
                      << " is not inside the " << h.window_w << "x" << h.window_h << " window");
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
    stage.threshold = static_cast<float>(t[0]);
    for (const XmlNode* w : items(need(*stage_items[k], "weakClassifiers"))) {
      const std::vector<double> in = numbers(need(*w, "internalNodes").text, where);
      const std::vector<double> leaves = numbers(need(*w, "leafValues").text, where);
      FER_CHECK(!in.empty() && in.size() % 4 == 0, where << ": internalNodes holds " << in.size()
                                                         << " numbers, expected groups of 'left right feature threshold'");
      HaarWeak weak;
      for (double l : leaves) weak.leaves.push_back(static_cast<float>(l));
      const int n_nodes = static_cast<int>(in.size() / 4);
      for (int n = 0; n < n_nodes; ++n) {
        HaarNode node{static_cast<int>(in[4 * n]), static_cast<int>(in[4 * n + 1]), static_cast<int>(in[4 * n + 2]),
                      static_cast<float>(in[4 * n + 3])};
        FER_CHECK(node.feature >= 0 && node.feature < static_cast<int>(h.features.size()),
                  where << ": a node names feature " << node.feature << " of " << h.features.size());
        for (int next : {node.left, node.right})
          FER_CHECK(next > 0 ? (next > n && next < n_nodes) : -next < static_cast<int>(weak.leaves.size()),
                    where << ": a node points to " << (next > 0 ? "node " : "leaf ") << std::abs(next) << " of "
                          << (next > 0 ? n_nodes : static_cast<int>(weak.leaves.size())));
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
  // variance normalisation over the window minus a one-pixel border
  const int nw = c.window_w - 2, nh = c.window_h - 2;
  const double area = static_cast<double>(nw) * nh;
  const double s = static_cast<double>(ii.rect(x + 1, y + 1, nw, nh));
  const double q = static_cast<double>(ii.rect_sq(x + 1, y + 1, nw, nh));
  double nf = area * q - s * s;
  nf = nf > 0 ? std::sqrt(nf) : 1.0;
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
