// Conventions a compiler does not check (CONVENTIONS.md section 3.6): every CUDA kernel launch
// `kernel<<<...>>>(...)` in the source tree is followed by FER_LAUNCH_CHECK() before the end of its
// function (a launch error is otherwise reported by some later, unrelated call), so that a failed
// launch names its own file and line. A grep-level lint over every .cu/.cuh file; it runs on
// machines without a GPU too.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

// The source lines of `path` with // comments removed.
std::vector<std::string> code_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line.substr(0, line.find("//")));
  return lines;
}

// "file:line" of every launch with no FER_LAUNCH_CHECK before its function's closing "}" (a line
// that is just "}" at column 0).
std::vector<std::string> unchecked_launches(const fs::path& path, int* launches) {
  std::vector<std::string> bad;
  const std::vector<std::string> lines = code_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find("<<<") == std::string::npos) continue;
    ++*launches;
    bool checked = false;
    for (size_t k = i; k < lines.size(); ++k) {
      if (lines[k].rfind('}', 0) == 0 && lines[k].find_first_not_of("} \t\r") == std::string::npos) break;
      if (lines[k].find("FER_LAUNCH_CHECK") != std::string::npos) {
        checked = true;
        break;
      }
    }
    if (!checked) bad.push_back(path.string() + ":" + std::to_string(i + 1));
  }
  return bad;
}

}  // namespace

TEST_CASE("conventions: every CUDA kernel launch is followed by FER_LAUNCH_CHECK in its function") {
  const fs::path root = FER_SOURCE_DIR;
  int files = 0, launches = 0;
  std::vector<std::string> bad;
  for (const char* top : {"kernels", "tensor", "nn", "models", "data", "tools", "bench", "tests"}) {
    if (!fs::is_directory(root / top)) continue;
    for (const auto& e : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".cu" && ext != ".cuh")) continue;
      ++files;
      for (const std::string& b : unchecked_launches(e.path(), &launches)) bad.push_back(b);
    }
  }
  MESSAGE(launches << " kernel launches in " << files << " CUDA files");
  CHECK(launches >= 100);  // the lint saw the kernels (103 launches when it was written)
  for (const std::string& b : bad) CHECK_MESSAGE(false, "kernel launch without FER_LAUNCH_CHECK: " << b);
}

TEST_CASE("conventions: the launch lint flags a launch whose function has no check") {
  const fs::path dir = fs::temp_directory_path() / "fer_test_conventions";
  fs::create_directories(dir);
  const fs::path f = dir / "sample.cu";
  std::ofstream(f) << "void ok(int n) {\n  k<<<1, 32>>>(n);  // launch\n  FER_LAUNCH_CHECK();\n}\n"
                      "void branches(bool a) {\n  if (a) {\n    k<<<1, 32>>>(1);\n  } else {\n    k<<<2, 32>>>(2);\n  }\n"
                      "  FER_LAUNCH_CHECK();\n}\n"
                      "void forgotten() {\n  k<<<1, 32>>>(0);\n}\n"
                      "// k<<<1, 1>>>() in a comment is no launch\n";
  int launches = 0;
  const std::vector<std::string> bad = unchecked_launches(f, &launches);
  CHECK(launches == 4);
  REQUIRE(bad.size() == 1);
  CHECK(bad[0] == f.string() + ":14");
  fs::remove_all(dir);
}
