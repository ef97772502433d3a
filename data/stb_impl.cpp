// data/stb_impl.cpp: the one place where stb_image and stb_image_write are compiled.
// Every other file (in data/, tools/, anywhere) includes the headers only, via data/stb_include.h
// or directly, and must NOT define STB_IMAGE_IMPLEMENTATION / STB_IMAGE_WRITE_IMPLEMENTATION.
//   STBI_FAILURE_USERMSG: stbi_failure_reason() gives readable messages ("Corrupt JPEG").
//   STBI_MAX_DIMENSIONS 16384: refuse absurd sizes from corrupt headers before allocating.
//   STBI_ONLY_JPEG/PNG/BMP: decode only the formats fer reads (image_folder.cpp's extensions).
//     The other decoders are never needed and are attack surface: fuzzing (tests/fuzz/) found
//     signed-integer overflow in the PNM header parser on "P6666666666...".
// stb_image 2.27 keeps its failure reason thread-local, so decoding in parallel is safe.
// This file is compiled with -fwrapv (data/CMakeLists.txt, scripts/fuzz.sh): stb_image 2.27's JPEG
// decoder computes `dc * dequant[0]` (and the DC prediction sum) in int without a range check, and
// a crafted file overflows it (found by fuzzing; 2.28 refuses such files). With -fwrapv the
// overflow wraps, which is defined: the file decodes to noise, as any corrupt-but-parseable JPEG
// does, instead of being undefined behaviour.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#define STBI_MAX_DIMENSIONS 16384
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STB_IMAGE_WRITE_IMPLEMENTATION
// Zeroed allocations: for a corrupt-but-parseable JPEG, stb_image 2.27 leaves parts of its buffers
// unwritten and reads them back, so the decoded pixels would depend on heap garbage (the fuzzer's
// crash-stb-dc-overflow.jpg decoded differently on every call). With calloc they are zeros and every
// decode of the same bytes gives the same pixels.
#include <cstdlib>
#define STBI_MALLOC(size) std::calloc(1, (size))
#define STBI_REALLOC(p, size) std::realloc((p), (size))
#define STBI_FREE(p) std::free(p)

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#include "data/stb_include.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
