// tests/fuzz/fuzz_safetensors.cpp: libFuzzer harness for the safetensors reader (nn/safetensors.cpp).
// Any bytes must parse into entries whose byte ranges lie inside the data and match dtype x shape,
// or throw fer::Error; reading every tensor out must then work.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/common.h"
#include "nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fer::nn::safetensors::File;
  try {
    const File f = File::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
    for (const std::string& name : f.names()) {
      const File::Entry& e = f.entry(name);
      if (e.end < e.begin || e.end > size) __builtin_trap();
      fer::Tensor t = f.at(name);
      if (static_cast<size_t>(t.nbytes()) != e.end - e.begin) __builtin_trap();
    }
  } catch (const fer::Error&) {
  }
  return 0;
}
