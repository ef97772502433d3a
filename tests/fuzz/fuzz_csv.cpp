// tests/fuzz/fuzz_csv.cpp: libFuzzer harness for the FER2013 CSV reader (data/fer_csv.cpp).
// Any input must either parse or throw fer::Error; a crash, hang, sanitizer report or an
// allocation out of proportion to the input is a bug. Built and run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "data/fer_csv.h"
#include "kernels/common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const bool skip_bad : {false, true}) {
    fer::data::LoadOptions options;
    options.threads = 1;
    options.skip_bad = skip_bad;
    fer::data::LoadReport report;
    try {
      const fer::data::Dataset ds = fer::data::parse_fer_csv(text, "fuzz.csv", options, &report);
      // What came back must be self-consistent.
      if (ds.pixels.size() != ds.labels.size() * fer::data::kImagePixels || ds.splits.size() != ds.labels.size() ||
          ds.sources.size() != ds.labels.size())
        __builtin_trap();
    } catch (const fer::Error&) {
    }
  }
  return 0;
}
