// tensor/atomic_file.h: a committed write leaves only the destination; remove_stale_temp_files
// removes exactly the ".<name>.tmp-XXXXXX" files a killed writer leaves, nothing else.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "tensor/atomic_file.h"

namespace fs = std::filesystem;

namespace {
std::set<std::string> names(const fs::path& dir) {
  std::set<std::string> s;
  for (const auto& e : fs::directory_iterator(dir)) s.insert(e.path().filename().string());
  return s;
}
void touch(const fs::path& p) { std::ofstream(p) << "x"; }
}  // namespace

TEST_CASE("atomic file: a write leaves only its destination; stale temporary files are removed, nothing else") {
  const fs::path dir = fs::temp_directory_path() / ("fer_test_atomic_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fer::write_file_atomic((dir / "config.json").string(), "{}");
  CHECK(names(dir) == std::set<std::string>{"config.json"});

  touch(dir / ".last.safetensors.tmp-Ab12cD");  // what a SIGKILL mid-write leaves
  touch(dir / ".metrics.csv.tmp-XYZ789");
  touch(dir / "notes.tmp-123456");              // no leading dot: not ours
  touch(dir / ".hidden");                       // no .tmp- suffix
  touch(dir / ".a.tmp-12345");                  // five characters: not mkstemp's six
  fs::create_directories(dir / ".sub.tmp-QWERTY");  // a folder, even with the pattern
  CHECK(fer::remove_stale_temp_files(dir.string()) == 2);
  CHECK(names(dir) == std::set<std::string>{"config.json", "notes.tmp-123456", ".hidden", ".a.tmp-12345",
                                            ".sub.tmp-QWERTY"});
  CHECK(fer::remove_stale_temp_files(dir.string()) == 0);
  CHECK(fer::remove_stale_temp_files((dir / "missing").string()) == 0);
  fs::remove_all(dir);
}
