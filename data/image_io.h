// data/image_io.h: encoded image (JPEG/PNG/BMP only) -> 48x48 8-bit gray, the way every fer
// program sees an image file (readers, ferpredict, fercam), and writing PNG/JPEG/BMP files.
//
// Decoding: stb_image (stbi_load_from_memory) at the file's own channel count.
// Gray: our own ITU-R BT.601 luma on the decoded 8-bit values, rounded to nearest:
//     Y = (299 R + 587 G + 114 B + 500) / 1000        (integer division; weights sum to 1000)
//   1-channel images are taken as they are, gray+alpha and RGBA ignore alpha (no compositing).
// Resize to 48x48 (aspect ratio is not kept: a non-square image is stretched), separable, each
// axis on its own:
//   same size   -> copied exactly (FER2013's own 48x48 files are bit-exact);
//   shrinking   -> area averaging: output pixel o covers source interval [o*s, (o+1)*s), s = src/dst,
//                  and averages the source pixels weighted by their overlap with it (a box filter
//                  with fractional coverage; 96->48 averages 2x2 blocks exactly);
//   enlarging   -> bilinear with pixel centres aligned (x_src = (o + 0.5) * src/dst - 0.5, clamped
//                  to [0, src-1]; "align_corners=False", edge pixels replicated).
//   The horizontal pass writes floats, the vertical pass rounds to nearest and clamps to 0..255.
// Checks: stb's own errors, plus a JPEG must end with its EOI marker (FF D9) after the first scan,
// since stb_image fills a truncated JPEG with gray instead of failing; images larger than
// 16384x16384 or 2^26 pixels are refused before decoding.
// EXIF orientation: a JPEG's Orientation tag (APP1 "Exif" segment, IFD0 tag 0x0112; phone photos
// are stored sideways with 6 or 8) is applied to the decoded gray image, so decode_to_gray and
// everything built on it (decode_to_gray48, the readers, ferpredict, fercam) see the photo upright.
// A missing or malformed EXIF segment means orientation 1 (as stored), never an error. stb_image
// itself ignores EXIF. FER2013's JPEGs carry no EXIF segment, so they decode as before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fer::data {

// ITU-R BT.601 luma of an 8-bit RGB triple, rounded to nearest.
inline uint8_t luma601(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((299u * r + 587u * g + 114u * b + 500u) / 1000u);
}

// Resizes a gray image src (sh x sw, row-major) to dst (dh x dw) with the rules above.
void resize_gray(const uint8_t* src, int sw, int sh, uint8_t* dst, int dw, int dh);

// A gray image at its own size, row-major.
struct GrayImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
  uint8_t at(int x, int y) const { return pixels[static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)]; }
};

// The EXIF Orientation (1..8) of `size` bytes of a JPEG: the first APP1 segment starting "Exif\0\0"
// among the header segments before the first scan, its TIFF header (byte order "II" or "MM", 42),
// IFD0, and there the tag 0x0112 of type SHORT and count 1. Returns 1 when the bytes are not a
// JPEG, there is no such segment or tag, or anything about it is malformed (a segment or IFD0 that
// does not fit, a value outside 1..8); every read is bounds-checked, nothing throws.
int jpeg_exif_orientation(const uint8_t* bytes, size_t size);

// `src` as it is to be displayed under EXIF orientation `orientation` (EXIF 2.3, tag 0x0112: where
// the stored 0th row and 0th column are in the displayed image; orientations 5..8 swap width and
// height):
//   1 top-left      as stored                    5 left-top      transpose (mirror along the main diagonal)
//   2 top-right     mirror left-right            6 right-top     rotate 90 degrees clockwise
//   3 bottom-right  rotate 180 degrees           7 right-bottom  transverse (mirror along the other diagonal)
//   4 bottom-left   mirror top-bottom            8 left-bottom   rotate 90 degrees counter-clockwise
// Any other value is taken as 1 (a copy).
GrayImage apply_exif_orientation(const GrayImage& src, int orientation);

// Decodes `size` bytes of an encoded image to gray at its own size (the checks and the luma above,
// no resize; a JPEG's EXIF orientation applied). Returns "" on success, else what is wrong.
std::string decode_to_gray(const uint8_t* bytes, size_t size, GrayImage& out);

// Reads and decodes one image file to gray at its own size (ferpredict's face detection works on
// it); throws fer::Error naming the path on failure.
GrayImage load_image_gray(const std::filesystem::path& path);

// Decodes `size` bytes of an encoded image into `out` (2,304 bytes, 48x48 gray). Returns "" on
// success, else what is wrong ("truncated JPEG (no end-of-image marker)", stb's reason, ...);
// the caller adds the file name. Thread-safe (no shared state).
std::string decode_to_gray48(const uint8_t* bytes, size_t size, uint8_t* out);

// Reads and decodes one image file to 48x48 gray; throws fer::Error naming the path on failure.
std::vector<uint8_t> load_image_gray48(const std::filesystem::path& path);

// Reads a whole file into memory; throws fer::Error naming the path on failure.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

// Writes an image (row-major, `channels` = 1 gray, 2 gray+alpha, 3 RGB or 4 RGBA bytes per pixel)
// with stb_image_write; the format follows the extension: .png, .jpg/.jpeg (quality 1..100), .bmp.
// Throws fer::Error naming the path on failure.
void write_image(const std::filesystem::path& path, const uint8_t* pixels, int width, int height, int channels,
                 int jpeg_quality = 95);

}  // namespace fer::data
