// tensor/atomic_file.cpp: temporary file + fsync + rename (see atomic_file.h).
#include "tensor/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "kernels/common.h"

namespace fer {

namespace {

std::string sys_error() { return std::strerror(errno); }

std::string folder_of(const std::string& path) {
  const std::filesystem::path p(path);
  const std::string dir = p.parent_path().string();
  return dir.empty() ? "." : dir;
}

// Creates "<dir>/.<name>.tmp-XXXXXX" and returns its name and open descriptor.
std::string make_temp(const std::string& path, int& fd) {
  FER_CHECK(!path.empty(), "write_file_atomic: empty path");
  const std::filesystem::path p(path);
  FER_CHECK(!p.filename().empty(), "write_file_atomic: '" << path << "' names a folder, not a file");
  const std::string dir = folder_of(path);
  std::string tmpl = dir + "/." + p.filename().string() + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  fd = ::mkstemp(buf.data());
  FER_CHECK(fd >= 0, "write_file_atomic: cannot create a temporary file in '" << dir << "' for '" << path
                                                                              << "': " << sys_error()
                                                                              << "; hint: does the folder exist and is it writable?");
  return std::string(buf.data());
}

void fsync_path(const std::string& file, const std::string& dest) {
  const int fd = ::open(file.c_str(), O_RDONLY);
  FER_CHECK(fd >= 0, "write_file_atomic: cannot reopen the temporary file for '" << dest << "': " << sys_error());
  const int rc = ::fsync(fd);
  const std::string why = rc != 0 ? sys_error() : "";
  ::close(fd);
  FER_CHECK(rc == 0, "write_file_atomic: fsync failed for '" << dest << "': " << why);
}

// Best effort: makes the rename durable. Some file systems refuse fsync on folders; ignore that.
void fsync_folder(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

void rename_over(const std::string& temp, const std::string& path) {
  FER_CHECK(::rename(temp.c_str(), path.c_str()) == 0,
            "write_file_atomic: cannot rename the temporary file onto '" << path << "': " << sys_error());
  fsync_folder(folder_of(path));
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  int fd = -1;
  const std::string temp = make_temp(path, fd);
  try {
    const char* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      const ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      FER_CHECK(n > 0, "write_file_atomic: writing " << bytes.size() << " bytes to '" << path
                                                     << "' failed: " << (n < 0 ? sys_error() : "no progress")
                                                     << "; hint: is the disk full?");
      p += n;
      left -= static_cast<size_t>(n);
    }
    FER_CHECK(::fsync(fd) == 0, "write_file_atomic: fsync failed for '" << path << "': " << sys_error());
    const int rc = ::close(fd);
    fd = -1;
    FER_CHECK(rc == 0, "write_file_atomic: closing the temporary file for '" << path << "' failed: " << sys_error());
    rename_over(temp, path);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  int fd = -1;
  temp_ = make_temp(path_, fd);
  ::close(fd);
  out_.open(temp_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    ::unlink(temp_.c_str());
    FER_FAIL("AtomicFileWriter: cannot open the temporary file '" << temp_ << "' for '" << path_ << "'");
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (finished_) return;
  out_.close();
  ::unlink(temp_.c_str());
}

std::ostream& AtomicFileWriter::stream() {
  FER_CHECK(!finished_, "AtomicFileWriter: '" << path_ << "' was already committed; hint: write before commit()");
  return out_;
}

void AtomicFileWriter::commit() {
  FER_CHECK(!finished_, "AtomicFileWriter: commit() called twice for '" << path_ << "'");
  try {
    out_.flush();
    FER_CHECK(out_.good(), "AtomicFileWriter: writing '" << path_ << "' failed; hint: is the disk full?");
    out_.close();
    FER_CHECK(!out_.fail(), "AtomicFileWriter: closing the temporary file for '" << path_ << "' failed");
    fsync_path(temp_, path_);
    rename_over(temp_, path_);
  } catch (...) {
    finished_ = true;
    if (out_.is_open()) out_.close();
    ::unlink(temp_.c_str());
    throw;
  }
  finished_ = true;
  committed_ = true;
}

}  // namespace fer

namespace fer {

int remove_stale_temp_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    // ".<name>.tmp-XXXXXX": mkstemp's six characters after ".tmp-"
    const auto at = name.rfind(".tmp-");
    if (name.size() < 2 || name[0] != '.' || at == std::string::npos || name.size() != at + 11) continue;
    if (entry.is_regular_file(ec) && fs::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace fer
