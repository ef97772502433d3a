// data/stb_include.h: includes stb_image.h and stb_image_write.h (declarations only unless
// data/stb_impl.cpp defines the IMPLEMENTATION macros). Debian's libstb-dev puts them under
// /usr/include/stb (<stb/stb_image.h>); the GPU machine's staged prefix has them only on the
// FER_STB_INCLUDE path that CMake adds (<stb_image.h>), so both spellings are tried.
#pragma once

#if __has_include(<stb/stb_image.h>)
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#else
#include <stb_image.h>
#include <stb_image_write.h>
#endif
