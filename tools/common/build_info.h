// tools/common/build_info.h: what a result was produced with, so a number can be traced back.
//
// Every program's --version prints version_text(); fertrain writes provenance() into summary.json
// and the run report, and prints it at the start of a run. The commit is `git describe --always
// --dirty` of the source tree at build time (regenerated on every build; "unknown" outside git).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace fer::tools {

// The commit of this build (defined in the generated build_commit.cpp).
const char* build_commit();

// "g++ 12.2.0" (the compiler that built this binary).
std::string compiler_text();

// The CPU's model name from /proc/cpuinfo ("unknown" when not readable).
std::string cpu_model();

// "fertrain (fer 0.1.0, commit 0731eef1a2b3, g++ 12.2.0, CUDA on (sm_80;sm_90), CPU GEMM openblas)".
std::string version_text(const std::string& program);

// {"fer_version", "commit", "compiler", "cuda_build", "cpu_gemm", "cpu", "threads", "device",
//  "started_utc"}: `device` is the run's device as printed ("cpu, 2 threads, ..." or the GPU's
// description), `threads` the OpenMP thread count.
nlohmann::json provenance(const std::string& device);

// The time now as "2026-12-07T04:31:02Z".
std::string utc_timestamp();

}  // namespace fer::tools
