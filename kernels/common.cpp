// kernels/common.cpp: the reporter behind FER_CHECK / FER_FAIL.
#include "kernels/common.h"

#include <cstring>

namespace fer::detail {

[[noreturn]] void check_failed(const char* cond, const char* file, int line, const std::string& msg) {
  // Keep only the path below the project root so messages stay short.
  const char* short_file = file;
  for (const char* root : {"/kernels/", "/tensor/", "/nn/", "/models/", "/data/", "/tools/", "/bench/", "/tests/"}) {
    if (const char* p = std::strstr(file, root)) {
      short_file = p + 1;
      break;
    }
  }
  std::ostringstream os;
  os << msg;
  if (cond) os << " [check failed: " << cond << " at " << short_file << ":" << line << "]";
  else os << " [at " << short_file << ":" << line << "]";
  throw Error(os.str());
}

}  // namespace fer::detail
