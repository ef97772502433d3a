// tools/common/atomic_file.cpp: see atomic_file.h.
#include "tools/common/atomic_file.h"

#include <fstream>
#include <sstream>

#include "kernels/common.h"

namespace fer::tools {

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FER_CHECK(in.good(), "read_file_bytes: cannot open '" << path << "'; hint: check the path");
  std::ostringstream ss;
  ss << in.rdbuf();
  FER_CHECK(!in.bad(), "read_file_bytes: error while reading '" << path << "'");
  return ss.str();
}

}  // namespace fer::tools
