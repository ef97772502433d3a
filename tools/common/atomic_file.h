// tools/common/atomic_file.h: writing a file so that readers never see it half written.
//
// The contents go to "<path>.tmp.<pid>" in the same folder, are flushed to disk, and the temp file
// is renamed over `path` (rename is atomic within one file system). A crash mid-write leaves the
// old file intact. Used for metrics logs, charts and reports that people open while a run goes on.
#pragma once

#include <string>
#include <string_view>

namespace fer::tools {

// Writes `contents` to `path` atomically (temp file + rename). The folder must exist. Errors are
// fer::Error naming the path and the system's reason.
void write_file_atomic(const std::string& path, std::string_view contents);

// The whole file as bytes; a fer::Error naming `path` when it cannot be read.
std::string read_file_bytes(const std::string& path);

}  // namespace fer::tools
