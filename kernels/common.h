// kernels/common.h: the one error-check family and small shared helpers.
//
// FER_CHECK(cond, msg << ...)  host-side checks (shapes, arguments, data). Throws fer::Error with
//                              the message, the failed condition and file:line. Messages name the
//                              op and the shapes, and end with a hint where one helps.
// FER_FAIL(msg << ...)         the same, unconditionally.
// CUDA checks (FER_CUDA_CHECK, FER_CUBLAS_CHECK, FER_LAUNCH_CHECK) live in kernels/cuda_common.cuh.
//
// Errors are exceptions, not aborts: tests can check the message, and the command-line tools turn
// them into one clear line and a non-zero exit.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

struct CUstream_st;  // CUDA's stream type, named without including CUDA headers

namespace fer {

// A CUDA stream handle (cudaStream_t) usable from headers that must compile without CUDA.
using cuda_stream = CUstream_st*;

// The exception every fer check throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] void check_failed(const char* cond, const char* file, int line, const std::string& msg);
}  // namespace detail

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace fer

#define FER_CHECK(cond, msg)                                                       \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::ostringstream fer_check_os_;                                            \
      fer_check_os_ << msg;                                                        \
      ::fer::detail::check_failed(#cond, __FILE__, __LINE__, fer_check_os_.str()); \
    }                                                                              \
  } while (0)

#define FER_FAIL(msg)                                                            \
  do {                                                                           \
    std::ostringstream fer_check_os_;                                            \
    fer_check_os_ << msg;                                                        \
    ::fer::detail::check_failed(nullptr, __FILE__, __LINE__, fer_check_os_.str()); \
  } while (0)
