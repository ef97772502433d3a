#!/usr/bin/env bash
# The unit tests (fer_tests, ctest label unit; not the slow training suites) built with GCC's
# AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ (CPU only, no benchmarks, only the
# fer_tests target), then run. Any sanitizer report fails the run (-fno-sanitize-recover, halt_on_error).
#   scripts/sanitize.sh [doctest args...]      e.g. scripts/sanitize.sh -tc='*safetensors*'
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
start=$(date +%s)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFER_WERROR=ON -DFER_CUDA=OFF -DFER_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_SHARED_LINKER_FLAGS="$san" >/dev/null
cmake --build build-asan -j"$jobs" --target fer_tests
built=$(date +%s)
echo "sanitize: built fer_tests (ASan+UBSan) in $(( built - start )) s"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
./build-asan/bin/fer_tests "$@"
echo "sanitize: fer_tests clean under ASan+UBSan in $(( $(date +%s) - built )) s"
