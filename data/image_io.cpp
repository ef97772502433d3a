// data/image_io.cpp: decode (stb_image) -> BT.601 gray -> JPEG EXIF orientation -> area/bilinear resize
// to 48x48; writing.
#include "data/image_io.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/stb_include.h"
#include "kernels/common.h"
#include "tensor/atomic_file.h"

namespace fer::data {

namespace {

// The source taps of one output index along one axis: out[o] = sum_t w[t] * in[idx[t]].
struct Taps {
  std::vector<int> begin;  // begin[o] .. begin[o+1]-1 index into idx/w
  std::vector<int> idx;
  std::vector<float> w;
};

Taps make_taps(int src, int dst) {
  Taps t;
  t.begin.push_back(0);
  for (int o = 0; o < dst; ++o) {
    if (src == dst) {  // identity: exact copy
      t.idx.push_back(o);
      t.w.push_back(1.0f);
    } else if (src > dst) {  // shrinking: area average over [o*s, (o+1)*s)
      const double s = static_cast<double>(src) / dst;
      const double lo = o * s, hi = (o + 1) * s;
      const int p0 = static_cast<int>(std::floor(lo));
      const int p1 = std::min(src, static_cast<int>(std::ceil(hi)));
      for (int p = p0; p < p1; ++p) {
        const double overlap = std::min(hi, p + 1.0) - std::max(lo, static_cast<double>(p));
        if (overlap <= 0) continue;
        t.idx.push_back(p);
        t.w.push_back(static_cast<float>(overlap / s));
      }
    } else {  // enlarging: bilinear between the two nearest source centres
      double x = (o + 0.5) * src / dst - 0.5;
      x = std::clamp(x, 0.0, static_cast<double>(src - 1));
      const int x0 = static_cast<int>(std::floor(x));
      const int x1 = std::min(x0 + 1, src - 1);
      const float f = static_cast<float>(x - x0);
      t.idx.push_back(x0);
      t.w.push_back(1.0f - f);
      t.idx.push_back(x1);
      t.w.push_back(f);
    }
    t.begin.push_back(static_cast<int>(t.idx.size()));
  }
  return t;
}

// Where the data after the start-of-image marker begins, 0 when stb would not take the bytes for a
// JPEG. stb reads a marker as 0xFF, any number of 0xFF fill bytes, then the code, so "FF FF D8" is
// a JPEG to it as well (a fuzzer find: a check that only looks for "FF D8" lets it through).
size_t jpeg_after_soi(const uint8_t* b, size_t n) {
  if (n < 2 || b[0] != 0xFF) return 0;
  size_t i = 1;
  while (i < n && b[i] == 0xFF) i++;
  return i < n && b[i] == 0xD8 ? i + 1 : 0;
}

// JPEG: after the header segments (walked by their lengths up to the first start-of-scan FF DA),
// the file must hold an end-of-image marker FF D9. In entropy-coded data 0xFF is always followed
// by 0x00 or a restart marker, so FF D9 there is the real end; an EXIF thumbnail's markers sit
// inside an APP segment and are skipped by the walk.
bool jpeg_complete(const uint8_t* b, size_t n) {
  size_t i = jpeg_after_soi(b, n), sos = 0;
  while (i + 4 <= n) {
    if (b[i] != 0xFF) return false;  // lost in the header: corrupt
    const uint8_t m = b[i + 1];
    if (m == 0xFF) {  // fill byte
      i++;
      continue;
    }
    if (m == 0xDA) {
      sos = i;
      break;
    }
    if (m == 0xD9) return false;  // end of image before any scan
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // markers without a length
      i += 2;
      continue;
    }
    i += 2 + ((static_cast<size_t>(b[i + 2]) << 8) | b[i + 3]);
  }
  if (sos == 0) return false;
  for (size_t k = n - 1; k > sos + 1; --k)
    if (b[k - 1] == 0xFF && b[k] == 0xD9) return true;
  return false;
}

// stb_image 2.27 (Debian's libstb-dev) writes past its 257-entry size table when a JPEG Huffman
// table (DHT segment) declares more than 256 codes (stbi__build_huffman; fixed upstream in 2.28).
// tests/fuzz/fuzz_image.cpp found it. This walks every marker segment the way stb does (header
// segments by their length, resynchronising on the next 0xFF like stbi__get_marker, entropy-coded
// data skipped up to the next real marker, so DHT segments between progressive scans are seen too)
// and refuses such a table before stb sees it. Bytes past the end read as 0, as stbi__get8 does.
bool jpeg_huffman_tables_ok(const uint8_t* b, size_t n) {
  const auto at = [&](size_t i) -> size_t { return i < n ? b[i] : 0; };
  size_t i = jpeg_after_soi(b, n);
  while (i + 1 < n) {
    if (b[i] != 0xFF) {  // entropy-coded data, or garbage stb would skip while looking for a marker
      i++;
      continue;
    }
    const uint8_t m = b[i + 1];
    if (m == 0xFF) {  // fill byte
      i++;
      continue;
    }
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // stuffed 0xFF, TEM, RSTn, SOI: no length
      i += 2;
      continue;
    }
    if (m == 0xD9) return true;  // end of image
    const size_t len = (at(i + 2) << 8) | at(i + 3);
    if (m == 0xC4) {
      int64_t left = static_cast<int64_t>(len) - 2;
      size_t p = i + 4;
      while (left > 0) {
        size_t codes = 0;
        for (size_t k = 1; k <= 16; ++k) codes += at(p + k);
        if (codes > 256) return false;
        p += 17 + codes;
        left -= static_cast<int64_t>(17 + codes);
      }
    }
    i += 2 + len;
  }
  return true;
}

// stb_image 2.27 grows its IDAT buffer to a chunk's declared length before reading the chunk, so a
// 200-byte PNG declaring a 1 GiB chunk made it allocate 2 GiB (tests/fuzz/fuzz_image.cpp). Every
// chunk's declared data must lie inside the file; stb reports anything else wrong itself.
// Also refused: an empty IDAT chunk before any data (stb then copies 0 bytes into its still-null
// buffer, undefined behaviour that UBSan reports; no encoder writes such a file).
bool png_chunks_inside(const uint8_t* b, size_t n) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (n < 8 || std::memcmp(b, kSignature, 8) != 0) return true;  // not a PNG
  size_t i = 8;
  bool seen_data = false;
  while (i + 8 <= n) {
    const size_t len = (static_cast<size_t>(b[i]) << 24) | (static_cast<size_t>(b[i + 1]) << 16) |
                       (static_cast<size_t>(b[i + 2]) << 8) | b[i + 3];
    if (len > n - i - 8) return false;
    if (std::memcmp(b + i + 4, "IEND", 4) == 0) return true;
    if (std::memcmp(b + i + 4, "IDAT", 4) == 0) {
      if (len == 0 && !seen_data) return false;
      seen_data = seen_data || len > 0;
    }
    i += 12 + len;  // length, type, data, CRC
  }
  return true;
}

// The Orientation tag of the TIFF structure t[0, n) of an EXIF segment (see jpeg_exif_orientation);
// every read below is checked against n first.
int tiff_orientation(const uint8_t* t, size_t n) {
  if (n < 8) return 1;
  bool little;
  if (t[0] == 'I' && t[1] == 'I') little = true;
  else if (t[0] == 'M' && t[1] == 'M') little = false;
  else return 1;
  const auto u16 = [&](size_t p) -> uint32_t {  // p + 2 <= n
    const uint32_t a = t[p], b = t[p + 1];
    return little ? a | (b << 8) : (a << 8) | b;
  };
  const auto u32 = [&](size_t p) -> uint32_t {  // p + 4 <= n
    return little ? u16(p) | (u16(p + 2) << 16) : (u16(p) << 16) | u16(p + 2);
  };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);  // IFD0, from the start of the TIFF header
  if (ifd < 8 || ifd > n - 2) return 1;
  const size_t count = u16(ifd);
  if (count > (n - ifd - 2) / 12) return 1;  // the whole entry table must lie inside the segment
  for (size_t k = 0; k < count; ++k) {
    const size_t e = ifd + 2 + 12 * k;  // tag, type, count, value (a SHORT sits in the first 2 bytes)
    if (u16(e) != 0x0112) continue;
    if (u16(e + 2) != 3 || u32(e + 4) != 1) return 1;  // not SHORT x 1
    const uint32_t v = u16(e + 8);
    return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
  }
  return 1;
}

}  // namespace

int jpeg_exif_orientation(const uint8_t* b, size_t n) {
  size_t i = jpeg_after_soi(b, n);
  if (i == 0) return 1;
  while (i + 4 <= n) {  // the header segments, as jpeg_complete walks them
    if (b[i] != 0xFF) return 1;
    const uint8_t m = b[i + 1];
    if (m == 0xFF) {  // fill byte
      i++;
      continue;
    }
    if (m == 0xDA || m == 0xD9) return 1;  // first scan or end of image: no EXIF
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // markers without a length
      i += 2;
      continue;
    }
    const size_t len = (static_cast<size_t>(b[i + 2]) << 8) | b[i + 3];  // counts its own 2 bytes
    if (len < 2 || len > n - i - 2) return 1;  // the segment does not fit in the file
    static const uint8_t kExif[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (m == 0xE1 && len >= 2 + 6 && std::memcmp(b + i + 4, kExif, 6) == 0)
      return tiff_orientation(b + i + 10, len - 8);
    i += 2 + len;
  }
  return 1;
}

GrayImage apply_exif_orientation(const GrayImage& src, int orientation) {
  if (orientation < 2 || orientation > 8) return src;
  const int64_t w = src.width, h = src.height;
  FER_CHECK(w > 0 && h > 0 && src.pixels.size() == static_cast<size_t>(w * h),
            "apply_exif_orientation: a " << w << "x" << h << " image needs " << w * h << " pixels, got "
                                         << src.pixels.size());
  GrayImage out;
  out.width = orientation >= 5 ? src.height : src.width;
  out.height = orientation >= 5 ? src.width : src.height;
  out.pixels.resize(src.pixels.size());
  // Where the stored pixel (column c, row r) goes in the displayed image.
  const auto place = [&](int64_t c, int64_t r) -> int64_t {
    int64_t x = c, y = r;
    switch (orientation) {
      case 2: x = w - 1 - c; y = r; break;          // 0th row top, 0th column right
      case 3: x = w - 1 - c; y = h - 1 - r; break;  // 0th row bottom, 0th column right
      case 4: x = c; y = h - 1 - r; break;          // 0th row bottom, 0th column left
      case 5: x = r; y = c; break;                  // 0th row left, 0th column top
      case 6: x = h - 1 - r; y = c; break;          // 0th row right, 0th column top
      case 7: x = h - 1 - r; y = w - 1 - c; break;  // 0th row right, 0th column bottom
      default: x = r; y = w - 1 - c; break;         // 8: 0th row left, 0th column bottom
    }
    return y * out.width + x;
  };
  // place() is affine in (c, r): walk it with two strides.
  const int64_t origin = place(0, 0), step_c = place(1, 0) - origin, step_r = place(0, 1) - origin;
  for (int64_t r = 0; r < h; ++r) {
    const uint8_t* row = src.pixels.data() + r * w;
    int64_t d = origin + r * step_r;
    for (int64_t c = 0; c < w; ++c, d += step_c) out.pixels[static_cast<size_t>(d)] = row[c];
  }
  return out;
}

void resize_gray(const uint8_t* src, int sw, int sh, uint8_t* dst, int dw, int dh) {
  FER_CHECK(sw > 0 && sh > 0 && dw > 0 && dh > 0,
            "resize_gray: sizes must be positive, got " << sw << "x" << sh << " -> " << dw << "x" << dh);
  const Taps tx = make_taps(sw, dw), ty = make_taps(sh, dh);
  // Horizontal pass: every source row to dw floats.
  std::vector<float> tmp(static_cast<size_t>(sh) * dw);
  for (int y = 0; y < sh; ++y) {
    const uint8_t* row = src + static_cast<size_t>(y) * sw;
    for (int o = 0; o < dw; ++o) {
      float acc = 0;
      for (int t = tx.begin[o]; t < tx.begin[o + 1]; ++t) acc += tx.w[t] * row[tx.idx[t]];
      tmp[static_cast<size_t>(y) * dw + o] = acc;
    }
  }
  // Vertical pass: combine rows, round to nearest, clamp.
  for (int o = 0; o < dh; ++o) {
    for (int x = 0; x < dw; ++x) {
      float acc = 0;
      for (int t = ty.begin[o]; t < ty.begin[o + 1]; ++t) acc += ty.w[t] * tmp[static_cast<size_t>(ty.idx[t]) * dw + x];
      dst[static_cast<size_t>(o) * dw + x] = static_cast<uint8_t>(std::clamp(std::floor(acc + 0.5f), 0.0f, 255.0f));
    }
  }
}

std::string decode_to_gray(const uint8_t* bytes, size_t size, GrayImage& out) {
  if (size == 0) return "empty file";
  if (size > static_cast<size_t>(1) << 30) return "file larger than 1 GiB";
  const int len = static_cast<int>(size);
  // Before any stb call: stbi_info_from_memory already parses the Huffman tables before the frame header.
  if (jpeg_after_soi(bytes, size) > 0 && !jpeg_huffman_tables_ok(bytes, size))
    return "corrupt JPEG (a Huffman table declares more than 256 codes)";
  if (!png_chunks_inside(bytes, size))
    return "truncated or corrupt PNG (a chunk runs past the end of the file, or the first IDAT chunk is empty)";
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(bytes, len, &w, &h, &comp))
    return std::string("not a readable image (") + stbi_failure_reason() + "); expected JPEG, PNG or BMP";
  if (w <= 0 || h <= 0 || w > 16384 || h > 16384 || static_cast<int64_t>(w) * h > (int64_t{1} << 26))
    return "image size " + std::to_string(w) + "x" + std::to_string(h) + " is out of range";
  if (jpeg_after_soi(bytes, size) > 0 && !jpeg_complete(bytes, size))
    return "truncated or corrupt JPEG (no end-of-image marker after the image data)";
  std::unique_ptr<stbi_uc, void (*)(void*)> img(stbi_load_from_memory(bytes, len, &w, &h, &comp, 0), stbi_image_free);
  if (!img) return std::string("cannot decode image (") + stbi_failure_reason() + ")";
  const stbi_uc* p = img.get();
  const size_t npix = static_cast<size_t>(w) * h;
  out.width = w;
  out.height = h;
  out.pixels.resize(npix);
  if (comp == 1) {
    std::memcpy(out.pixels.data(), p, npix);
  } else {  // to gray: BT.601 luma for color, the gray channel for gray+alpha
    for (size_t i = 0; i < npix; ++i) {
      const stbi_uc* px = p + i * comp;
      out.pixels[i] = comp >= 3 ? luma601(px[0], px[1], px[2]) : px[0];
    }
  }
  if (jpeg_after_soi(bytes, size) > 0) {
    const int orientation = jpeg_exif_orientation(bytes, size);
    if (orientation != 1) out = apply_exif_orientation(out, orientation);
  }
  return "";
}

std::string decode_to_gray48(const uint8_t* bytes, size_t size, uint8_t* out) {
  GrayImage g;
  const std::string err = decode_to_gray(bytes, size, g);
  if (!err.empty()) return err;
  if (g.width == kImageSide && g.height == kImageSide) std::memcpy(out, g.pixels.data(), kImagePixels);
  else resize_gray(g.pixels.data(), g.width, g.height, out, kImageSide, kImageSide);
  return "";
}

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.string().c_str(), "rb");
  FER_CHECK(f != nullptr, path.string() << ": cannot open: " << std::strerror(errno));
  std::vector<uint8_t> data;
  uint8_t buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + got);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  FER_CHECK(!failed, path.string() << ": read error");
  return data;
}

GrayImage load_image_gray(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  GrayImage out;
  const std::string err = decode_to_gray(bytes.data(), bytes.size(), out);
  FER_CHECK(err.empty(), path.string() << ": " << err);
  return out;
}

std::vector<uint8_t> load_image_gray48(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  std::vector<uint8_t> out(kImagePixels);
  const std::string err = decode_to_gray48(bytes.data(), bytes.size(), out.data());
  FER_CHECK(err.empty(), path.string() << ": " << err);
  return out;
}

void write_image(const std::filesystem::path& path, const uint8_t* pixels, int width, int height, int channels,
                 int jpeg_quality) {
  FER_CHECK(width > 0 && height > 0 && channels >= 1 && channels <= 4,
            "write_image: " << path.string() << ": bad image " << width << "x" << height << "x" << channels);
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string name = path.string();
  // Encoded in memory, then written atomically (tensor/atomic_file.h): never a half-written image.
  std::string bytes;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  int ok = 0;
  if (ext == ".png") ok = stbi_write_png_to_func(append, &bytes, width, height, channels, pixels, width * channels);
  else if (ext == ".jpg" || ext == ".jpeg")
    ok = stbi_write_jpg_to_func(append, &bytes, width, height, channels, pixels, jpeg_quality);
  else if (ext == ".bmp") ok = stbi_write_bmp_to_func(append, &bytes, width, height, channels, pixels);
  else FER_FAIL("write_image: " << name << ": unknown extension '" << ext << "'; expected .png, .jpg, .jpeg or .bmp");
  FER_CHECK(ok != 0, "write_image: cannot encode " << name);
  write_file_atomic(name, bytes);
}

}  // namespace fer::data
