// tests/unit/test_image_exif.cpp: JPEG EXIF orientation (data/image_io.h): the 8 orientations of
// apply_exif_orientation against the EXIF 2.3 definitions on a 3x2 image, the Orientation tag read
// from real JPEG bytes (stb_image_write output with an APP1 "Exif" segment spliced in, both byte
// orders), decode_to_gray / decode_to_gray48 returning the upright image, and malformed EXIF
// segments (cut, offsets and counts past the end, wrong types) read as orientation 1.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "kernels/common.h"
#include "tests/unit/test_data_fixtures.h"

using namespace fer::data;
using fer::test::TempDir;

namespace {

GrayImage gray(int w, int h, std::vector<uint8_t> pixels) {
  GrayImage g;
  g.width = w;
  g.height = h;
  g.pixels = std::move(pixels);
  return g;
}

bool same(const GrayImage& a, const GrayImage& b) {
  return a.width == b.width && a.height == b.height && a.pixels == b.pixels;
}

void put16(std::vector<uint8_t>& v, uint32_t x, bool big_endian) {
  const uint8_t lo = static_cast<uint8_t>(x & 0xFF), hi = static_cast<uint8_t>((x >> 8) & 0xFF);
  v.push_back(big_endian ? hi : lo);
  v.push_back(big_endian ? lo : hi);
}

void put32(std::vector<uint8_t>& v, uint32_t x, bool big_endian) {
  put16(v, big_endian ? x >> 16 : x & 0xFFFF, big_endian);
  put16(v, big_endian ? x & 0xFFFF : x >> 16, big_endian);
}

void set16(std::vector<uint8_t>& v, size_t at, uint32_t x, bool big_endian) {
  std::vector<uint8_t> b;
  put16(b, x, big_endian);
  v[at] = b[0];
  v[at + 1] = b[1];
}

void set32(std::vector<uint8_t>& v, size_t at, uint32_t x, bool big_endian) {
  std::vector<uint8_t> b;
  put32(b, x, big_endian);
  for (size_t k = 0; k < 4; ++k) v[at + k] = b[k];
}

// The TIFF structure of an EXIF segment as cameras write it: header (byte order, 42, IFD0 at 8),
// IFD0 with two entries (Make "ab" inline, then Orientation SHORT x 1), next-IFD offset 0.
// Offsets: count at 8, Make entry at 10, Orientation entry at 22 (type at 24, count at 26, value
// at 30), entries end at 34, 38 bytes in all.
constexpr size_t kIfdCount = 8, kOrientEntry = 22, kEntriesEnd = 34;
std::vector<uint8_t> tiff(bool big_endian, uint32_t orientation) {
  std::vector<uint8_t> t = {static_cast<uint8_t>(big_endian ? 'M' : 'I'), static_cast<uint8_t>(big_endian ? 'M' : 'I')};
  put16(t, 42, big_endian);
  put32(t, 8, big_endian);
  put16(t, 2, big_endian);
  put16(t, 0x010F, big_endian);  // Make, ASCII, 4 bytes "ab\0\0" in the value field
  put16(t, 2, big_endian);
  put32(t, 4, big_endian);
  t.insert(t.end(), {'a', 'b', 0, 0});
  put16(t, 0x0112, big_endian);  // Orientation, SHORT, count 1, value in the first 2 bytes
  put16(t, 3, big_endian);
  put32(t, 1, big_endian);
  put16(t, orientation, big_endian);
  put16(t, 0, big_endian);
  put32(t, 0, big_endian);  // no IFD1
  return t;
}

std::vector<uint8_t> exif_payload(const std::vector<uint8_t>& tiff_bytes) {
  std::vector<uint8_t> p(6 + tiff_bytes.size(), 0);  // (insert() after 6 bytes: a false GCC 12 -Warray-bounds)
  const char* id = "Exif";
  std::copy(id, id + 4, p.begin());
  std::copy(tiff_bytes.begin(), tiff_bytes.end(), p.begin() + 6);
  return p;
}

// `jpeg` with an APP1 segment holding `payload` right after its start-of-image marker.
std::vector<uint8_t> with_app1(const std::vector<uint8_t>& jpeg, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  out.push_back(0xFF);
  out.push_back(0xE1);
  put16(out, static_cast<uint32_t>(payload.size() + 2), true);
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

GrayImage decode(const std::vector<uint8_t>& bytes) {
  GrayImage g;
  const std::string err = decode_to_gray(bytes.data(), bytes.size(), g);
  REQUIRE_MESSAGE(err.empty(), err);
  return g;
}

// A 40x24 gray JPEG with a smooth, asymmetric picture, as stb_image_write writes it (SOI, APP0 JFIF, ...).
std::vector<uint8_t> sample_jpeg(const TempDir& dir) {
  std::vector<uint8_t> px(40 * 24);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 40; ++x) px[static_cast<size_t>(y) * 40 + x] = static_cast<uint8_t>(20 + 5 * x + 2 * y);
  write_image(dir / "s.jpg", px.data(), 40, 24, 1, 95);
  return read_file_bytes(dir / "s.jpg");
}

}  // namespace

TEST_CASE("exif: apply_exif_orientation, the 8 orientations on a 3x2 image (EXIF 2.3 tag 0x0112)") {
  // Stored:  1 2 3     orientation 6 ("0th row is the visual right side, 0th column the visual
  //          4 5 6     top"): the stored top row 1 2 3 ends up as the right column, read downwards.
  const GrayImage s = gray(3, 2, {1, 2, 3, 4, 5, 6});
  CHECK(same(apply_exif_orientation(s, 1), s));
  CHECK(same(apply_exif_orientation(s, 2), gray(3, 2, {3, 2, 1, 6, 5, 4})));        // mirror left-right
  CHECK(same(apply_exif_orientation(s, 3), gray(3, 2, {6, 5, 4, 3, 2, 1})));        // rotate 180
  CHECK(same(apply_exif_orientation(s, 4), gray(3, 2, {4, 5, 6, 1, 2, 3})));        // mirror top-bottom
  CHECK(same(apply_exif_orientation(s, 5), gray(2, 3, {1, 4, 2, 5, 3, 6})));        // transpose
  CHECK(same(apply_exif_orientation(s, 6), gray(2, 3, {4, 1, 5, 2, 6, 3})));        // rotate 90 clockwise
  CHECK(same(apply_exif_orientation(s, 7), gray(2, 3, {6, 3, 5, 2, 4, 1})));        // transverse
  CHECK(same(apply_exif_orientation(s, 8), gray(2, 3, {3, 6, 2, 5, 1, 4})));        // rotate 90 counter-clockwise
  CHECK(same(apply_exif_orientation(s, 0), s));  // not an orientation: as stored
  CHECK(same(apply_exif_orientation(s, 9), s));
  // On a larger image: 6 and 8 undo each other, 2, 3, 4, 5 and 7 are their own inverses, and four
  // turns of 6 are the identity.
  std::vector<uint8_t> px(7 * 4);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 9 + 1);
  const GrayImage b = gray(7, 4, px);
  CHECK(same(apply_exif_orientation(apply_exif_orientation(b, 6), 8), b));
  CHECK(same(apply_exif_orientation(apply_exif_orientation(b, 8), 6), b));
  for (int o : {2, 3, 4, 5, 7}) CHECK(same(apply_exif_orientation(apply_exif_orientation(b, o), o), b));
  GrayImage r = b;
  for (int k = 0; k < 4; ++k) r = apply_exif_orientation(r, 6);
  CHECK(same(r, b));
  // A 1-pixel-wide image still works (the strides are taken from the mapping, not from the pixels).
  CHECK(same(apply_exif_orientation(gray(1, 3, {7, 8, 9}), 6), gray(3, 1, {9, 8, 7})));
  CHECK(same(apply_exif_orientation(gray(3, 1, {7, 8, 9}), 8), gray(1, 3, {9, 8, 7})));
  CHECK_THROWS_WITH_AS(apply_exif_orientation(gray(3, 2, {1, 2, 3}), 6), doctest::Contains("needs 6 pixels, got 3"),
                       fer::Error);
}

TEST_CASE("exif: a JPEG's orientation is read (II and MM) and decode_to_gray returns the upright image") {
  TempDir dir;
  const std::vector<uint8_t> jpeg = sample_jpeg(dir);
  const GrayImage g0 = decode(jpeg);
  REQUIRE(g0.width == 40);
  REQUIRE(g0.height == 24);
  CHECK(jpeg_exif_orientation(jpeg.data(), jpeg.size()) == 1);  // stb_image_write writes no EXIF

  // A phone photo held upright: stored sideways, orientation 6 (little-endian TIFF).
  const std::vector<uint8_t> j6 = with_app1(jpeg, exif_payload(tiff(false, 6)));
  CHECK(jpeg_exif_orientation(j6.data(), j6.size()) == 6);
  const GrayImage g6 = decode(j6);
  CHECK(g6.width == 24);
  CHECK(g6.height == 40);
  CHECK(same(g6, apply_exif_orientation(g0, 6)));  // the same entropy-coded data: exact
  CHECK(g6.at(0, 0) == g0.at(0, 23));   // displayed top-left = stored bottom-left
  CHECK(g6.at(23, 0) == g0.at(0, 0));   // displayed top-right = stored top-left
  CHECK(g6.at(0, 39) == g0.at(39, 23));  // displayed bottom-left = stored bottom-right

  // Orientation 8 in a big-endian ("MM") TIFF.
  const std::vector<uint8_t> j8 = with_app1(jpeg, exif_payload(tiff(true, 8)));
  CHECK(jpeg_exif_orientation(j8.data(), j8.size()) == 8);
  const GrayImage g8 = decode(j8);
  CHECK(same(g8, apply_exif_orientation(g0, 8)));
  CHECK(g8.at(0, 0) == g0.at(39, 0));  // displayed top-left = stored top-right

  // Every orientation in both byte orders.
  for (bool be : {false, true})
    for (uint32_t o = 1; o <= 8; ++o) {
      CAPTURE(be);
      CAPTURE(o);
      const std::vector<uint8_t> j = with_app1(jpeg, exif_payload(tiff(be, o)));
      CHECK(jpeg_exif_orientation(j.data(), j.size()) == static_cast<int>(o));
      CHECK(same(decode(j), apply_exif_orientation(g0, static_cast<int>(o))));
    }

  // decode_to_gray48 resizes the upright image, and load_image_gray reads the file the same way.
  std::vector<uint8_t> out48(kImagePixels), want48(kImagePixels);
  REQUIRE(decode_to_gray48(j6.data(), j6.size(), out48.data()) == "");
  const GrayImage up = apply_exif_orientation(g0, 6);
  resize_gray(up.pixels.data(), up.width, up.height, want48.data(), kImageSide, kImageSide);
  CHECK(out48 == want48);
  fer::test::write_bytes(dir / "six.jpg", j6);
  CHECK(same(load_image_gray(dir / "six.jpg"), g6));

  // An XMP APP1 segment before the EXIF one is walked past.
  const std::string xmp = "http://ns.adobe.com/xap/1.0/";
  std::vector<uint8_t> xmp_payload(xmp.begin(), xmp.end());
  xmp_payload.push_back(0);
  xmp_payload.insert(xmp_payload.end(), {'<', 'x', '/', '>'});
  const std::vector<uint8_t> jx = with_app1(j6, xmp_payload);
  CHECK(jpeg_exif_orientation(jx.data(), jx.size()) == 6);
  CHECK(same(decode(jx), g6));
}

TEST_CASE("exif: the fuzz corpus seed with a big-endian EXIF segment decodes upright") {
  const std::string corpus = std::string(FER_SOURCE_DIR) + "/tests/fuzz/corpus/image/";
  const std::vector<uint8_t> plain = read_file_bytes(corpus + "rgb5x3.jpg");
  const std::vector<uint8_t> seed = read_file_bytes(corpus + "exif-mm-orientation6-rgb5x3.jpg");
  CHECK(jpeg_exif_orientation(seed.data(), seed.size()) == 6);
  const GrayImage g = decode(seed);
  CHECK(g.width == 3);
  CHECK(g.height == 5);
  CHECK(same(g, apply_exif_orientation(decode(plain), 6)));
}

TEST_CASE("exif: malformed EXIF segments read as orientation 1 and the image still decodes as stored") {
  TempDir dir;
  const std::vector<uint8_t> jpeg = sample_jpeg(dir);
  const GrayImage g0 = decode(jpeg);
  const auto as_stored = [&](const std::vector<uint8_t>& t) {  // the TIFF bytes t in an EXIF segment
    const std::vector<uint8_t> j = with_app1(jpeg, exif_payload(t));
    return jpeg_exif_orientation(j.data(), j.size()) == 1 && same(decode(j), g0);
  };
  SUBCASE("the TIFF structure cut anywhere before the end of IFD0's entries") {
    for (bool be : {false, true}) {
      CAPTURE(be);
      const std::vector<uint8_t> good = tiff(be, 6);
      REQUIRE(good.size() == 38);
      for (size_t cut = 0; cut < kEntriesEnd; ++cut) {
        CAPTURE(cut);
        CHECK(as_stored(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut))));
      }
      // Without the next-IFD offset the entries are whole: still read.
      const std::vector<uint8_t> j =
          with_app1(jpeg, exif_payload({good.begin(), good.begin() + static_cast<std::ptrdiff_t>(kEntriesEnd)}));
      CHECK(jpeg_exif_orientation(j.data(), j.size()) == 6);
    }
  }
  SUBCASE("IFD0 offset past the end, inside the header, or leaving no room for the count") {
    for (bool be : {false, true})
      for (uint32_t off : {0xFFFFFFF0u, 0xFFFFFFFFu, 1000u, 38u, 37u, 4u, 0u}) {
        CAPTURE(be);
        CAPTURE(off);
        std::vector<uint8_t> t = tiff(be, 6);
        set32(t, 4, off, be);
        CHECK(as_stored(t));
      }
  }
  SUBCASE("an entry count larger than the segment holds, or one that leaves the orientation out") {
    for (bool be : {false, true})
      for (uint32_t count : {0xFFFFu, 0x1000u, 3u, 1u}) {  // 3: the third entry would overlap the end
        CAPTURE(be);
        CAPTURE(count);
        std::vector<uint8_t> t = tiff(be, 6);
        set16(t, kIfdCount, count, be);
        CHECK(as_stored(t));
      }
  }
  SUBCASE("wrong type, count or value of the Orientation entry") {
    for (bool be : {false, true}) {
      CAPTURE(be);
      const std::vector<uint8_t> good = tiff(be, 6);
      std::vector<uint8_t> t = good;
      set16(t, kOrientEntry + 2, 4, be);  // LONG
      CHECK(as_stored(t));
      t = good;
      set32(t, kOrientEntry + 4, 2, be);  // two values
      CHECK(as_stored(t));
      t = good;
      set32(t, kOrientEntry + 4, 0xFFFFFFFFu, be);
      CHECK(as_stored(t));
      for (uint32_t v : {0u, 9u, 0xFFFFu}) {
        CAPTURE(v);
        t = good;
        set16(t, kOrientEntry + 8, v, be);
        CHECK(as_stored(t));
      }
    }
  }
  SUBCASE("bad byte order or magic number") {
    for (bool be : {false, true}) {
      CAPTURE(be);
      std::vector<uint8_t> t = tiff(be, 6);
      t[1] = be ? 'I' : 'M';  // "MI" / "IM"
      CHECK(as_stored(t));
      t = tiff(be, 6);
      set16(t, 2, 43, be);
      CHECK(as_stored(t));
    }
  }
  SUBCASE("not an EXIF segment: other marker, other identifier") {
    std::vector<uint8_t> j = with_app1(jpeg, exif_payload(tiff(false, 6)));
    j[3] = 0xE2;  // APP2
    CHECK(jpeg_exif_orientation(j.data(), j.size()) == 1);
    CHECK(same(decode(j), g0));
    std::vector<uint8_t> p = exif_payload(tiff(false, 6));
    p[5] = 'x';  // "Exif\0x"
    const std::vector<uint8_t> j2 = with_app1(jpeg, p);
    CHECK(jpeg_exif_orientation(j2.data(), j2.size()) == 1);
    CHECK(same(decode(j2), g0));
    CHECK(as_stored(std::vector<uint8_t>()));  // "Exif\0\0" and nothing after it
  }
  SUBCASE("the file cut inside or before the EXIF segment; segment lengths 0 and 1") {
    const std::vector<uint8_t> j = with_app1(jpeg, exif_payload(tiff(true, 6)));
    const size_t seg_end = 4 + 6 + 38 + 2;
    for (size_t n = 0; n < seg_end; ++n) {
      CAPTURE(n);
      CHECK(jpeg_exif_orientation(j.data(), n) == 1);
      GrayImage g;
      std::string err;
      CHECK_NOTHROW(err = decode_to_gray(j.data(), n, g));
      CHECK(!err.empty());
    }
    for (uint8_t len : {0, 1}) {
      std::vector<uint8_t> bad = j;
      bad[4] = 0;
      bad[5] = len;
      CHECK(jpeg_exif_orientation(bad.data(), bad.size()) == 1);
    }
  }
  SUBCASE("not a JPEG") {
    std::vector<uint8_t> px(6 * 4, 50);
    write_image(dir / "p.png", px.data(), 6, 4, 1);
    const std::vector<uint8_t> png = read_file_bytes(dir / "p.png");
    CHECK(jpeg_exif_orientation(png.data(), png.size()) == 1);
    CHECK(jpeg_exif_orientation(nullptr, 0) == 1);
    const uint8_t soi_only[] = {0xFF, 0xD8};
    CHECK(jpeg_exif_orientation(soi_only, sizeof soi_only) == 1);
  }
}
