// The teaching material cannot rot: every command shown in docs/walkthrough.md and
// kernels/notes/*.md runs against build/bin and its output must contain the lines the document shows.
//
// Marker convention (docs/walkthrough.md section 0): a fenced block opened with ```console holds
// commands and their output. A line starting with "$ " is a command; the lines after it, up to the
// next command or the end of the block, are (part of) its output. The commands of one document run
// in order, each with `bash -o pipefail`, in one fresh directory per document (so a later command
// can read a file an earlier one wrote), with build/bin first on PATH. Each must exit 0, and the
// documented output lines must appear in its output in the same order (other lines may come in
// between). Lines are compared token by token (whitespace-separated): equal text, or two numbers
// with the same surrounding text that agree to 1e-6 absolute or 1% relative, percentages to 5
// points (another CPU's BLAS, or the GEMM fallback of the GPU machines, rounds differently: the
// printed digits of float results and of finite-difference noise may move, a shape, a verdict or a
// loss may not); a documented "~" matches any token (timings); a documented line "..." is skipped.
// Also: every op family (kernels/<op>.h) is named by a note, and the README links the material.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Command {
  std::string text;
  int line = 0;
  std::vector<std::string> expected;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// The ```console blocks of a markdown file. A block whose first line is not a command is an error.
std::vector<Command> console_commands(const fs::path& doc) {
  std::vector<Command> cmds;
  bool in_block = false, first = false;
  int n = 0;
  for (const std::string& l : lines_of(read_text(doc))) {
    ++n;
    if (!in_block) {
      if (l == "```console") in_block = first = true;
      continue;
    }
    if (l.rfind("```", 0) == 0) {
      in_block = false;
      continue;
    }
    if (l.rfind("$ ", 0) == 0) {
      cmds.push_back({l.substr(2), n, {}});
    } else {
      INFO(doc.string() << ":" << n << ": a console block must start with a \"$ \" command line");
      REQUIRE_FALSE(first);
      if (l.find_first_not_of(' ') != std::string::npos && l != "...") cmds.back().expected.push_back(l);
    }
    first = false;
  }
  return cmds;
}

std::vector<std::string> tokens(const std::string& line) {
  std::vector<std::string> v;
  std::istringstream in(line);
  for (std::string t; in >> t;) v.push_back(t);
  return v;
}

// prefix, number, suffix of a token such as "2.028269;" or "0.00%"; false when there is no number.
bool split_number(const std::string& t, std::string& prefix, double& value, std::string& suffix) {
  const size_t start = t.find_first_of("+-.0123456789");
  if (start == std::string::npos) return false;
  const char* begin = t.c_str() + start;
  char* end = nullptr;
  value = std::strtod(begin, &end);
  if (end == begin) return false;
  prefix = t.substr(0, start);
  suffix = std::string(end);
  return true;
}

bool token_matches(const std::string& want, const std::string& got) {
  if (want == "~" || want == got) return true;
  std::string pw, sw, pg, sg;
  double a = 0, b = 0;
  if (!split_number(want, pw, a, sw) || !split_number(got, pg, b, sg) || pw != pg || sw != sg) return false;
  if (sw == "%" && std::fabs(a - b) <= 5.0) return true;  // % of tolerance: finite-difference noise
  return std::fabs(a - b) <= 1e-6 + 1e-2 * std::max(std::fabs(a), std::fabs(b));
}

bool line_matches(const std::string& want, const std::string& got) {
  const auto w = tokens(want), g = tokens(got);
  if (w.size() != g.size()) return false;
  for (size_t i = 0; i < w.size(); ++i)
    if (!token_matches(w[i], g[i])) return false;
  return true;
}

struct Run {
  int code;
  std::string output;
};

Run run_in(const fs::path& dir, const std::string& command) {
  const fs::path script = dir / "command.sh", log = dir / "command.log";
  {
    std::ofstream out(script);
    out << "export PATH='" << (fs::path(FER_BINARY_DIR) / "bin").string() << "':\"$PATH\"\n"
        << "set -o pipefail\n"
        << command << "\n";
  }
  const std::string cmd = "cd '" + dir.string() + "' && bash command.sh > command.log 2>&1";
  const int status = std::system(cmd.c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
  fs::remove(script);
  fs::remove(log);
  return r;
}

// Runs a document's commands; returns how many ran.
size_t check_document(const fs::path& doc) {
  const auto cmds = console_commands(doc);
  const fs::path dir =
      fs::temp_directory_path() / ("fer_test_docs_" + std::to_string(::getpid()) + "_" + doc.stem().string());
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const Command& c : cmds) {
    const Run r = run_in(dir, c.text);
    INFO(doc.string() << ":" << c.line << ": $ " << c.text << "\n--- output ---\n" << r.output);
    CHECK(r.code == 0);
    const auto got = lines_of(r.output);
    size_t at = 0;
    for (const std::string& want : c.expected) {
      size_t k = at;
      while (k < got.size() && !line_matches(want, got[k])) ++k;
      CHECK_MESSAGE(k < got.size(), "documented line not found (in order): " << want);
      if (k < got.size()) at = k + 1;
    }
  }
  fs::remove_all(dir);
  return cmds.size();
}

const fs::path kSource = FER_SOURCE_DIR;

}  // namespace

TEST_CASE("docs: the console markers are parsed and outputs compared with tolerance") {
  CHECK(line_matches("loss = 2.028269;  W = ~", "loss = 2.0282695;  W = 14.9711"));
  CHECK(line_matches("  436  MaskApplyBackward   [7,4,56,56] [7,4,56,56]   ~", "  436 MaskApplyBackward [7,4,56,56] [7,4,56,56] 0.381"));
  CHECK(line_matches("max |diff| = 4.53e-10", "max |diff| = 3.1e-10"));  // both ~0
  CHECK(line_matches("x  15  2.431e-10  8.624e-08  0.19%  PASS", "x  15  5.1e-10  9.9e-08  2.40%  PASS"));
  CHECK_FALSE(line_matches("x  15  2.431e-10  8.624e-08  0.19%  PASS", "x  15  2.431e-10  8.624e-08  0.19%  FAIL"));
  CHECK_FALSE(line_matches("loss = 2.028269", "loss = 2.128269"));
  CHECK_FALSE(line_matches("x [4, 56, 56]", "x [4, 28, 28]"));
  CHECK_FALSE(line_matches("verdict: PASS", "verdict: FAIL"));
  CHECK_FALSE(line_matches("a b", "a b c"));
}

TEST_CASE("docs: every command of docs/walkthrough.md runs and prints what the page shows") {
  const fs::path doc = kSource / "docs" / "walkthrough.md";
  REQUIRE(fs::exists(doc));
  const size_t n = check_document(doc);
  CHECK(n >= 8);
  const std::string text = read_text(doc);
  for (const char* must : {"fertrain ", "--trace 1", "ferwalk mask", "ferwalk xent", "fergradcheck mask_apply",
                           "fergradcheck cross_entropy"})
    CHECK_MESSAGE(text.find(must) != std::string::npos, must);
}

TEST_CASE("docs: every command of kernels/notes/*.md runs and prints what the note shows") {
  size_t total = 0;
  std::vector<fs::path> notes;
  for (const auto& e : fs::directory_iterator(kSource / "kernels" / "notes"))
    if (e.path().extension() == ".md") notes.push_back(e.path());
  std::sort(notes.begin(), notes.end());
  REQUIRE(notes.size() >= 15);
  for (const fs::path& note : notes) total += check_document(note);
  CHECK(total >= 5);
}

TEST_CASE("docs: every op family in kernels/ has a note, and the README links the material") {
  // Infrastructure headers, not op families.
  const std::set<std::string> infra = {"common", "hd", "philox", "device", "augment_math"};
  std::string notes_text;
  for (const auto& e : fs::directory_iterator(kSource / "kernels" / "notes"))
    if (e.path().extension() == ".md") notes_text += read_text(e.path());
  size_t families = 0;
  for (const auto& e : fs::directory_iterator(kSource / "kernels")) {
    if (e.path().extension() != ".h") continue;
    const std::string stem = e.path().stem().string();
    if (infra.count(stem)) continue;
    ++families;
    CHECK_MESSAGE(notes_text.find("kernels/" + stem + ".") != std::string::npos,
                  "kernels/" << stem << ".h has no note naming it in kernels/notes/");
  }
  CHECK(families >= 17);
  const std::string readme = read_text(kSource / "README.md");
  CHECK(readme.find("docs/walkthrough.md") != std::string::npos);
  CHECK(readme.find("kernels/notes") != std::string::npos);
}
