#!/usr/bin/env bash
# The README's test command: installs missing Debian packages, builds everything (warnings are
# errors) and runs the whole test suite. GPU suites print "skipped: no CUDA device" without a GPU;
# data suites use $FER_DATA (the folder holding fer2013/), or ../shared/data when that exists.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -z "${FER_DATA:-}" ] && [ -d ../shared/data/fer2013 ]; then
  FER_DATA=$(cd ../shared/data && pwd)
fi
export FER_DATA=${FER_DATA:-}
echo "test: FER_DATA=${FER_DATA:-<unset: data tests will be skipped>}"
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFER_WERROR=ON ${FER_CMAKE_ARGS:-}
cmake --build build -j"$jobs"
cd build
ctest --output-on-failure -j"$jobs" ${FER_CTEST_ARGS:-}
