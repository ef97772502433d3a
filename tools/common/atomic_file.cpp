// tools/common/atomic_file.cpp: see atomic_file.h.
#include "tools/common/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kernels/common.h"

namespace fer::tools {

void write_file_atomic(const std::string& path, std::string_view contents) {
  FER_CHECK(!path.empty(), "write_file_atomic: empty path; hint: pass the file to write");
  std::ostringstream tmp_name;
  tmp_name << path << ".tmp." << ::getpid();
  const std::string tmp = tmp_name.str();
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  FER_CHECK(f != nullptr, "write_file_atomic: cannot create '" << tmp << "': " << std::strerror(errno)
                                                                 << "; hint: does the folder exist and is it writable?");
  const size_t written = contents.empty() ? 0 : std::fwrite(contents.data(), 1, contents.size(), f);
  bool ok = written == contents.size();
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(::fileno(f)) == 0 && ok;
  const int err = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    FER_FAIL("write_file_atomic: writing '" << tmp << "' failed: " << std::strerror(err)
                                            << "; hint: is the disk full?");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rerr = errno;
    std::remove(tmp.c_str());
    FER_FAIL("write_file_atomic: cannot rename '" << tmp << "' to '" << path << "': " << std::strerror(rerr));
  }
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FER_CHECK(in.good(), "read_file_bytes: cannot open '" << path << "'; hint: check the path");
  std::ostringstream ss;
  ss << in.rdbuf();
  FER_CHECK(!in.bad(), "read_file_bytes: error while reading '" << path << "'");
  return ss.str();
}

}  // namespace fer::tools
