// data/stb_impl.cpp: the one place where stb_image and stb_image_write are compiled.
// Every other file (in data/, tools/, anywhere) includes the headers only, via data/stb_include.h
// or directly, and must NOT define STB_IMAGE_IMPLEMENTATION / STB_IMAGE_WRITE_IMPLEMENTATION.
//   STBI_FAILURE_USERMSG: stbi_failure_reason() gives readable messages ("Corrupt JPEG").
//   STBI_MAX_DIMENSIONS 16384: refuse absurd sizes from corrupt headers before allocating.
//   STBI_ONLY_JPEG/PNG/BMP: decode only the formats fer reads (image_folder.cpp's extensions).
//     The other decoders are never needed and are attack surface: fuzzing (tests/fuzz/) found
//     signed-integer overflow in the PNM header parser on "P6666666666...".
// stb_image 2.27 keeps its failure reason thread-local, so decoding in parallel is safe.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#define STBI_MAX_DIMENSIONS 16384
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STB_IMAGE_WRITE_IMPLEMENTATION

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
