// tests/fuzz/fuzz_image.cpp: libFuzzer harness for the image decoder path (data/image_io.cpp:
// stb_image -> BT.601 gray -> resize to 48x48), the one every reader and program uses.
// Any input must decode or return an error string; never crash, hang or allocate without bound.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "data/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t out[fer::data::kImagePixels];
  const std::string err = fer::data::decode_to_gray48(data, size, out);
  (void)err;
  return 0;
}
