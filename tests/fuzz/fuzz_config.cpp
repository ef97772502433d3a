// tests/fuzz/fuzz_config.cpp: libFuzzer harness for fertrain's --config parsing: JSON text ->
// TrainConfig (tools/common/train_config.cpp apply_json) -> validate, the same calls fertrain makes.
// Invalid JSON, wrong types, unknown keys and out-of-range values must all be fer::Error (or the
// JSON parser's own exception, which fertrain turns into "not valid JSON"); nothing may crash.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "kernels/common.h"
#include "tools/common/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return 0;
  }
  fer::tools::TrainConfig c;
  try {
    fer::tools::apply_json(c, j);
    fer::tools::validate(c);
    // A config that validates must survive the round trip fertrain does (config.json -> resume).
    fer::tools::TrainConfig again;
    fer::tools::apply_json(again, fer::tools::to_json(c));
    if (fer::tools::to_json(again) != fer::tools::to_json(c)) __builtin_trap();
  } catch (const fer::Error&) {
  }
  return 0;
}
