// tensor/atomic_file.h: files that appear whole or not at all.
//
// Checkpoints, reports and exported models are written to a temporary file in the destination's
// folder ("<dir>/.<name>.tmp-XXXXXX"), flushed to disk (fsync), then renamed over the destination
// (atomic on POSIX file systems), and the folder is fsynced so the rename survives a crash. A
// reader therefore sees the old file or the complete new one, never a partial one; a failed write
// removes its temporary file and throws fer::Error naming the destination and the system's reason.
//
//   write_file_atomic(path, bytes)   one call for bytes already in memory
//   AtomicFileWriter w(path);        streaming: write to w.stream(), then w.commit();
//                                    destroying it without commit() discards the temporary file
//
// It lives in tensor/ (the library both data/ and nn/ link) so that every writer uses it: the
// checkpoints (nn/safetensors), data/'s CSV and image writers, and the tools' artefacts
// (tools/common/atomic_file.h). nn/atomic_file.h keeps the fer::nn names.
#pragma once

#include <fstream>
#include <string>
#include <string_view>

namespace fer {

void write_file_atomic(const std::string& path, std::string_view bytes);

// Removes the temporary files ("<dir>/.<name>.tmp-XXXXXX") that a process killed mid-write (SIGKILL,
// power loss) left in `dir`; returns how many. Only call it when no other process writes there
// (fertrain --resume owns its run folder).
int remove_stale_temp_files(const std::string& dir);

class AtomicFileWriter {
 public:
  // Creates the temporary file next to `path` (throws when the folder is missing or not writable).
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // The binary stream to write to (until commit()).
  std::ostream& stream();
  // Flushes, fsyncs and renames the temporary file over the destination; throws (and removes the
  // temporary file) when any write failed. Call once.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }
  bool committed() const { return committed_; }

 private:
  std::string path_;
  std::string temp_;
  std::ofstream out_;
  bool committed_ = false;
  bool finished_ = false;  // committed or failed (the temporary file is gone)
};

}  // namespace fer
