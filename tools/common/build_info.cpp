// tools/common/build_info.cpp: see build_info.h.
#include "tools/common/build_info.h"

#include <omp.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include "fer/config.h"

namespace fer::tools {

std::string compiler_text() {
#if defined(__clang__)
  return std::string("clang++ ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "unknown compiler";
#endif
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const size_t begin = line.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? std::string("unknown") : line.substr(begin);
  }
  return "unknown";
}

std::string version_text(const std::string& program) {
  std::ostringstream s;
  s << program << " (fer " << kVersion << ", commit " << build_commit() << ", " << compiler_text() << ", CUDA ";
  if (kCudaBuilt)
    s << "on (" << kCudaArchitectures << (kCudnnBuilt ? ", cuDNN" : "") << ")";
  else
    s << "off";
  s << ", CPU GEMM " << kCpuGemm << ")";
  return s.str();
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return stamp;
}

nlohmann::json provenance(const std::string& device) {
  return {{"fer_version", kVersion},
          {"commit", build_commit()},
          {"compiler", compiler_text()},
          {"cuda_build", kCudaBuilt ? std::string(kCudaArchitectures) : std::string("off")},
          {"cpu_gemm", kCpuGemm},
          {"cpu", cpu_model()},
          {"threads", omp_get_max_threads()},
          {"device", device},
          {"started_utc", utc_timestamp()}};
}

}  // namespace fer::tools
