// nn/atomic_file.h: fer::nn's names for tensor/atomic_file.h (temporary file + fsync + rename +
// fsync of the folder: files that appear whole or not at all).
#pragma once

#include "tensor/atomic_file.h"

namespace fer::nn {

using fer::AtomicFileWriter;
using fer::write_file_atomic;

}  // namespace fer::nn
