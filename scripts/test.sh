#!/usr/bin/env bash
# The README's test command: installs missing Debian packages, builds everything (warnings are
# errors) and runs the whole test suite. GPU suites print "skipped: no CUDA device" without a GPU;
# data suites use $FER_DATA (the folder holding fer2013/), or ../shared/data when that exists.
# Then the reliability stages (CPU): the unit tests under ASan+UBSan (scripts/sanitize.sh) and the
# readers' fuzz harnesses for $FER_FUZZ_SECONDS s each (scripts/fuzz.sh, default 20). Set
# FER_SANITIZE=0 / FER_FUZZ_SECONDS=0 to skip them.
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
(cd build && ctest --output-on-failure -j"$jobs" ${FER_CTEST_ARGS:-})
if [ "${FER_SANITIZE:-1}" != 0 ]; then
  t=$(date +%s)
  scripts/sanitize.sh
  echo "test: sanitizer stage took $(( $(date +%s) - t )) s"
fi
if [ "${FER_FUZZ_SECONDS:-20}" != 0 ]; then
  t=$(date +%s)
  scripts/fuzz.sh "${FER_FUZZ_SECONDS:-20}"
  echo "test: fuzz stage took $(( $(date +%s) - t )) s"
fi
