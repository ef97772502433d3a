// tools/common/atomic_file.h: whole-file writes and reads for the tools' artefacts.
//
// write_file_atomic is nn/atomic_file.h's (temp file in the same folder + fsync + rename: readers
// never see a half-written metrics log, chart or report); read_file_bytes returns a file's bytes.
#pragma once

#include <string>

#include "nn/atomic_file.h"

namespace fer::tools {

using nn::write_file_atomic;

// The whole file as bytes; a fer::Error naming `path` when it cannot be read.
std::string read_file_bytes(const std::string& path);

}  // namespace fer::tools
