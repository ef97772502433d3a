// tests/fuzz/fuzz_haar.cpp: libFuzzer harness for the Haar cascade reader (data/haar_cascade.cpp)
// and, for every cascade it accepts, the detector (data/face_detect.cpp) on a small image: any
// input must parse or throw fer::Error, and an accepted cascade must evaluate every window without
// a read outside the integral image. Built and run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/face_detect.h"
#include "data/haar_cascade.h"
#include "kernels/common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string xml(reinterpret_cast<const char*>(data), size);
  fer::data::HaarCascade cascade;
  try {
    cascade = fer::data::parse_haar_cascade(xml, "fuzz.xml");
  } catch (const fer::Error&) {
    return 0;
  }
  // a 64x48 image with contrast everywhere (a checkerboard of 0 and 255 over a ramp)
  fer::data::GrayImage image;
  image.width = 64;
  image.height = 48;
  image.pixels.resize(64 * 48);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x)
      image.pixels[static_cast<size_t>(y * 64 + x)] = static_cast<uint8_t>(((x / 3 + y / 3) % 2) ? 255 : (x * 3) % 256);
  try {
    fer::data::FaceDetectOptions o;
    o.scale_factor = 1.5;  // a few pyramid levels
    for (const fer::data::FaceBox& b : fer::data::detect_faces(cascade, image, o))
      if (b.x < 0 || b.y < 0 || b.w < 1 || b.h < 1 || b.x + b.w > image.width || b.y + b.h > image.height)
        __builtin_trap();
  } catch (const fer::Error&) {
  }
  return 0;
}
