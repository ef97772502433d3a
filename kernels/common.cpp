// kernels/common.cpp: the reporter behind FER_CHECK / FER_FAIL.
#include "kernels/common.h"


namespace fer::detail {

[[noreturn]] void check_failed(const char* cond, const char* file, int line, const std::string& msg) {
  // The build maps the project root away (-ffile-prefix-map), so `file` reads "kernels/gemm_cpu.cpp".
  const char* short_file = file;
  std::ostringstream os;
  os << msg;
  if (cond) os << " [check failed: " << cond << " at " << short_file << ":" << line << "]";
  else os << " [at " << short_file << ":" << line << "]";
  throw Error(os.str());
}

}  // namespace fer::detail
